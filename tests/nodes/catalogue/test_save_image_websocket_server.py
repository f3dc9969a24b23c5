"""SaveImageWebsocket through the real server: each image reaches the prompt's client as a full-size PNG binary
frame (type 1, image type 2), also when sampler previews are off (the default)."""

import io
import struct

import numpy as np
import pytest
from PIL import Image

from nodes.registry import NodeRegistry
from nodes.stages.image import EmptyImage
from nodes.stages.utility import SaveImageWebsocket
from tests.web.server.conftest import make_server  # noqa: F401
from tests.web.server.test_prompt_flow import connect, queue, watch


@pytest.fixture
def registry() -> NodeRegistry:
    return NodeRegistry(classes={"EmptyImage": EmptyImage, "SaveImageWebsocket": SaveImageWebsocket})


async def test_images_arrive_as_png_frames_at_full_size(make_server):  # noqa: F811
    server = await make_server(preview_size=16)
    ws = await connect(server, "ws-client")
    prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 40, "height": 20, "batch_size": 2,
                                                           "color": 0x336699}},
              "2": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["1", 0]}}}
    prompt_id = await queue(server, prompt, client_id="ws-client")
    texts, frames = await watch(ws, prompt_id)
    assert [m["type"] for m in texts if m["type"] == "execution_error"] == []
    assert len(frames) == 2
    for frame in frames:
        assert struct.unpack(">II", frame[:8]) == (1, 2)  # PREVIEW_IMAGE, PNG
        with Image.open(io.BytesIO(frame[8:])) as picture:
            assert picture.format == "PNG" and picture.size == (40, 20)
            assert np.asarray(picture)[0, 0].tolist() == [0x33, 0x66, 0x99]
    await ws.close()

"""PNG text chunks: what SaveImage writes (plain tEXt, ASCII JSON) and what the reader accepts (tEXt/zTXt/iTXt)."""

import json

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from runtime.imaging.png_metadata import metadata_chunks, read_text_chunks, read_workflow, save_png


def test_written_chunks_are_plain_text_ascii_json(tmp_path):
    chunks = metadata_chunks({"3": {"class_type": "KSampler"}}, {"workflow": {"title": "café"}, "extra": [1]})
    assert list(chunks) == ["prompt", "workflow", "extra"]
    assert chunks["workflow"] == '{"title": "caf\\u00e9"}'
    path = tmp_path / "x.png"
    save_png(path, Image.new("RGB", (2, 2)), chunks)
    raw = path.read_bytes()
    assert raw.count(b"tEXt") == 3 and b"iTXt" not in raw and b"zTXt" not in raw
    assert read_workflow(path) == {"prompt": {"3": {"class_type": "KSampler"}}, "workflow": {"title": "café"}}


def test_reader_accepts_compressed_and_international_chunks(tmp_path):
    info = PngInfo()
    info.add_text("workflow", json.dumps({"nodes": [1]}), zip=True)
    info.add_itxt("prompt", '{"1": "ü"}', lang="en", tkey="p", zip=True)
    info.add_itxt("parameters", "plain itxt")
    path = tmp_path / "y.png"
    Image.new("RGB", (1, 1)).save(path, pnginfo=info)
    chunks = read_text_chunks(path.read_bytes())
    assert chunks == {"workflow": '{"nodes": [1]}', "prompt": '{"1": "ü"}', "parameters": "plain itxt"}
    assert read_workflow(path) == {"workflow": {"nodes": [1]}, "prompt": {"1": "ü"}}


def test_no_metadata_and_not_png(tmp_path):
    path = tmp_path / "plain.png"
    save_png(path, Image.new("L", (1, 1)))
    assert read_workflow(path) == {}
    with pytest.raises(ValueError, match="not a PNG"):
        read_text_chunks(b"GIF89a....")


def test_metadata_can_be_switched_off():
    import runtime

    with runtime.configured(metadata=False):
        assert metadata_chunks({"1": {}}, {"workflow": {}}) == {}
    assert set(metadata_chunks({"1": {}}, {"workflow": {}})) == {"prompt", "workflow"}

"""`/view` and `/upload/*` stay inside their folders (raw, encoded and symlinked traversal) and serve safely."""

import asyncio
import io
import json

import aiohttp
import pytest
from PIL import Image


def png_bytes(color=(10, 20, 30, 255), size=(4, 4)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


async def raw_get(server, target: str) -> tuple[int, bytes]:
    """Send the request line exactly as written (no client-side normalization or encoding)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.fixture
def secret(tmp_path):
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    return tmp_path / "secret.txt"


@pytest.mark.parametrize("target", [
    "/view?filename=../secret.txt&type=output",
    "/view?filename=..%2Fsecret.txt",
    "/view?filename=%2E%2E%2Fsecret.txt",
    "/view?filename=/etc/passwd",
    "/view?filename=%2Fetc%2Fpasswd",
    "/view?filename=secret.txt&subfolder=..",
    "/view?filename=secret.txt&subfolder=%2E%2E",
    "/view?filename=passwd&subfolder=/etc",
    "/view?filename=secret.txt&subfolder=a/../..",
    "/view?filename=secret.txt%00.png",
    "/api/view?filename=secret.txt%20[output]&subfolder=..",
    "/view/../secret.txt",
    "/view/..%2F..%2Fsecret.txt",
    "/%2E%2E/secret.txt",
    "/../secret.txt",
    "/assets/..%2F..%2F..%2Fsecret.txt",
])
async def test_traversal_sent_raw_never_reaches_the_file(server, secret, target):
    status, body = await raw_get(server, target)
    assert status in (400, 403, 404), target
    assert b"TOP SECRET" not in body and b"root:" not in body


async def test_symlinks_leading_out_are_refused(server, tmp_path, secret):
    output = tmp_path / "output"
    (output / "link.txt").symlink_to(secret)
    (output / "outdir").symlink_to(tmp_path, target_is_directory=True)
    for params in ({"filename": "link.txt"}, {"filename": "secret.txt", "subfolder": "outdir"}):
        resp = await server.get("/view", params=params)
        assert resp.status == 403, params
        assert "TOP SECRET" not in await resp.text()
    form = aiohttp.FormData()
    form.add_field("image", png_bytes(), filename="x.png")
    form.add_field("subfolder", "outdir")
    form.add_field("type", "output")
    assert (await server.post("/upload/image", data=form)).status == 403
    assert not (tmp_path / "x.png").exists()


async def test_symlink_inside_the_folder_is_fine(server, tmp_path):
    (tmp_path / "output" / "real.png").write_bytes(png_bytes())
    (tmp_path / "output" / "alias.png").symlink_to(tmp_path / "output" / "real.png")
    resp = await server.get("/view", params={"filename": "alias.png"})
    assert resp.status == 200 and await resp.read() == png_bytes()


async def test_view_serves_images_and_never_html_or_svg_inline(server, tmp_path):
    output = tmp_path / "output"
    (output / "sub").mkdir()
    (output / "sub" / "a.png").write_bytes(png_bytes())
    (output / "page.html").write_text("<script>alert(1)</script>")
    (output / "pic.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    resp = await server.get("/api/view", params={"filename": "a.png", "subfolder": "sub", "type": "output"})
    assert resp.status == 200 and resp.headers["Content-Type"] == "image/png"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("page.html", "pic.svg"):
        resp = await server.get("/view", params={"filename": name})
        assert resp.headers["Content-Type"] == "application/octet-stream", name
        assert resp.headers["Content-Disposition"].startswith("attachment")
        assert "sandbox" in resp.headers["Content-Security-Policy"]


async def test_view_annotations_types_channels_and_previews(server, tmp_path):
    (tmp_path / "input" / "in.png").write_bytes(png_bytes((200, 100, 50, 128)))
    assert (await server.get("/view", params={"filename": "in.png [input]"})).status == 200
    assert (await server.get("/view", params={"filename": "in.png"})).status == 404  # output by default
    assert (await server.get("/view", params={"filename": "in.png", "type": "models"})).status == 400
    assert (await server.get("/view")).status == 404
    resp = await server.get("/view", params={"filename": "in.png", "type": "input", "channel": "a"})
    alpha = Image.open(io.BytesIO(await resp.read()))
    assert alpha.mode == "RGBA" and alpha.getpixel((0, 0)) == (0, 0, 0, 128)
    resp = await server.get("/view", params={"filename": "in.png", "type": "input", "channel": "rgb"})
    assert Image.open(io.BytesIO(await resp.read())).mode == "RGB"
    resp = await server.get("/view", params={"filename": "in.png", "type": "input", "preview": "jpeg;50",
                                             "channel": "rgb"})
    assert resp.headers["Content-Type"] == "image/jpeg"
    resp = await server.get("/view", params={"filename": "in.png", "type": "input", "preview": "jpeg;50"})
    assert resp.headers["Content-Type"] == "image/webp"  # alpha wanted: webp is forced


async def upload(server, data: bytes, filename="pic.png", route="/upload/image", **fields):
    form = aiohttp.FormData()
    form.add_field("image", data, filename=filename, content_type="image/png")
    for key, value in fields.items():
        form.add_field(key, value)
    return await server.post(route, data=form)


async def test_upload_names_duplicates_and_overwrite(server, tmp_path):
    first = await upload(server, png_bytes())
    assert await first.json() == {"name": "pic.png", "subfolder": "", "type": "input"}
    same = await upload(server, png_bytes())
    assert (await same.json())["name"] == "pic.png"  # identical content: kept as is
    other = await upload(server, png_bytes((1, 2, 3, 255)))
    assert (await other.json())["name"] == "pic (1).png"
    await upload(server, png_bytes((9, 9, 9, 255)), overwrite="true")
    assert (tmp_path / "input" / "pic.png").read_bytes() == png_bytes((9, 9, 9, 255))
    nested = await upload(server, png_bytes(), subfolder="masks/a", type="temp")
    assert await nested.json() == {"name": "pic.png", "subfolder": "masks/a", "type": "temp"}
    assert (tmp_path / "temp" / "masks" / "a" / "pic.png").is_file()


@pytest.mark.parametrize("fields", [{"filename": "../evil.png"}, {"filename": "a/../../evil.png"},
                                    {"subfolder": "../.."}, {"subfolder": "/tmp"}, {"type": "models"},
                                    {"filename": "..\\evil.png"}])
async def test_upload_outside_its_folder_is_refused(server, tmp_path, fields):
    filename = fields.pop("filename", "evil.png")
    resp = await upload(server, png_bytes(), filename=filename, **fields)
    assert resp.status in (400, 403) and (await resp.json())["error"]["message"]
    assert not (tmp_path / "evil.png").exists() and not (tmp_path.parent / "evil.png").exists()


async def test_upload_without_file_or_not_multipart_is_400(server):
    assert (await server.post("/upload/image", data=b"raw")).status == 400
    form = aiohttp.FormData()
    form.add_field("overwrite", "true")
    assert (await server.post("/upload/image", data=form)).status == 400


async def test_upload_size_limit(make_server, tmp_path):
    server = await make_server(max_upload_size_mb=0.01)
    resp = await upload(server, b"\0" * 20000)
    assert resp.status == 413 and "MB" in (await resp.json())["error"]["details"]
    assert not (tmp_path / "input" / "pic.png").exists()
    assert (await upload(server, png_bytes())).status == 200  # still serving afterwards


async def test_upload_mask_merges_alpha_into_the_original(server, tmp_path):
    (tmp_path / "input" / "orig.png").write_bytes(png_bytes((200, 100, 50, 255)))
    resp = await upload(server, png_bytes((0, 0, 0, 7)), filename="mask.png", route="/upload/mask",
                        original_ref=json.dumps({"filename": "orig.png", "type": "input"}))
    assert resp.status == 200
    merged = Image.open(tmp_path / "input" / "mask.png")
    assert merged.getpixel((0, 0)) == (200, 100, 50, 7)
    bad = await upload(server, png_bytes(), filename="m2.png", route="/upload/mask", original_ref="{nope")
    assert bad.status == 400
    out = await upload(server, png_bytes(), filename="m3.png", route="/upload/mask",
                       original_ref=json.dumps({"filename": "../secret.txt", "type": "input"}))
    assert out.status == 400


async def test_odd_file_names_give_valid_headers_and_uploads_refuse_control_characters(server, tmp_path):
    (tmp_path / "output" / 'é "q".png').write_bytes(png_bytes())
    resp = await server.get("/view", params={"filename": 'é "q".png'})
    assert resp.status == 200
    assert resp.headers["Content-Disposition"] == \
        """inline; filename="_ _q_.png"; filename*=UTF-8''%C3%A9%20%22q%22.png"""
    body = (b'--B\r\nContent-Disposition: form-data; name="image"; filename="a\x1bb.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + png_bytes() + b"\r\n--B--\r\n")  # aiohttp would refuse to send it
    resp = await server.post("/upload/image", data=body, headers={"Content-Type": "multipart/form-data; boundary=B"})
    assert resp.status == 400 and not list((tmp_path / "input").iterdir())

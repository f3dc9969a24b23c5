"""No request can make the server answer 500: every route gets garbage bodies and odd parameters."""

import re

import pytest

from web.server.state import STATE

BODIES = [b"", b"{not json", b"[]", b"{}", b"null", b'"text"', b"123", b'{"prompt": null, "delete": {}, "clear": 5}',
          b'{"order": [1], "clientId": [], "enabled": "x"}', b"\xff\xfe\x00", b"[" * 5000]
PARAMS = [{}, {"filename": "..", "type": "x", "subfolder": "/", "dir": "..", "path": "../..", "max_items": "-1",
               "offset": "x", "limit": "-5", "preview": ";", "channel": "zz", "overwrite": "maybe"}]


def concrete(path: str) -> str:
    """A route path with every {placeholder} filled with a harmless value."""
    return re.sub(r"\{[^}]+\}", "x", path)


async def test_no_route_answers_500_to_garbage(server):
    app = server.server.app
    targets = sorted({(r.method, concrete(r.resource.canonical)) for r in app.router.routes()
                      if r.method not in ("HEAD", "*")})
    assert len(targets) > 60
    failures = []
    for method, path in targets:
        if path.endswith("/ws"):
            continue
        for body in BODIES if method in ("POST", "PUT", "PATCH", "DELETE") else [b""]:
            for params in PARAMS:
                resp = await server.request(method, path, data=body, params=params)
                if resp.status >= 500:
                    failures.append((method, path, body[:30], params and "params", resp.status, await resp.text()))
    assert not failures, failures[:5]
    # and the server still works afterwards
    assert (await server.get("/api/queue")).status == 200
    assert app[STATE].worker._thread.is_alive()


@pytest.mark.parametrize("path", ["/ws?clientId=", "/api/ws?clientId=%00%FF"])
async def test_socket_ignores_garbage_from_clients(server, path):
    ws = await server.ws_connect(path)
    await ws.receive_json()
    for junk in ("not json", '{"type": "feature_flags", "data": 5}', "[]"):
        await ws.send_str(junk)
    await ws.send_bytes(b"\x00\x01")
    assert (await server.get("/api/prompt")).status == 200
    await ws.close()

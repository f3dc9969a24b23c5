"""Loopback by default; cross-origin and cross-site state changes refused; the auth token guards everything."""

import aiohttp
import pytest

from diffloom.config import parse_config
from web.server.security import TOKEN_COOKIE

TOKEN = "s3cret-token"


def test_defaults_are_loopback_and_listen_flag_means_everywhere():
    assert parse_config([]).listen == ["127.0.0.1"] and parse_config([]).loopback_only
    config = parse_config(["--listen"])
    assert config.listen == ["0.0.0.0", "::"] and not config.loopback_only
    assert parse_config(["--listen", "127.0.0.1,::1"]).loopback_only
    assert parse_config([], environ={"DIFFLOOM_AUTH_TOKEN": "abc"}).auth_token == "abc"


def test_serve_generates_a_token_beyond_loopback_unless_disabled(capsys):
    from diffloom.serve_command import _ensure_token

    config = parse_config(["--listen", "0.0.0.0"], environ={})
    _ensure_token(config)
    assert config.auth_token and len(config.auth_token) >= 24 and config.auth_token in capsys.readouterr().out
    config = parse_config(["--listen", "0.0.0.0", "--no-auth-token"], environ={})
    _ensure_token(config)
    assert config.auth_token is None
    config = parse_config([], environ={})
    _ensure_token(config)
    assert config.auth_token is None


async def test_cross_origin_post_to_loopback_is_refused(server):
    host = f"127.0.0.1:{server.port}"
    resp = await server.post("/api/queue", json={"clear": True}, headers={"Origin": "http://evil.example"})
    assert resp.status == 403 and (await resp.json())["error"]["type"] == "cross_origin"
    resp = await server.post("/api/queue", json={"clear": True}, headers={"Origin": f"http://{host}"})
    assert resp.status == 200
    resp = await server.get("/api/queue", headers={"Origin": f"http://127.0.0.1:{server.port + 1}"})
    assert resp.status == 403  # another port is another origin
    resp = await server.post("/api/queue", json={}, headers={"Origin": "null"})
    assert resp.status == 403


async def test_sec_fetch_site_cross_site_refused_for_state_changes_only(server):
    headers = {"Sec-Fetch-Site": "cross-site"}
    assert (await server.post("/api/interrupt", headers=headers)).status == 403
    assert (await server.get("/api/queue", headers=headers)).status == 200  # e.g. an <img> embedding is harmless
    assert (await server.post("/api/interrupt", headers={"Sec-Fetch-Site": "same-origin"})).status == 200
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.ws_connect("/ws", headers=headers)
    assert refused.value.status == 403


async def test_dns_rebinding_host_refused_on_loopback_server(server):
    resp = await server.get("/api/object_info", headers={"Host": f"attacker.example:{server.port}"})
    assert resp.status == 403 and (await resp.json())["error"]["type"] == "forbidden_host"
    assert (await server.get("/api/prompt", headers={"Host": f"localhost:{server.port}"})).status == 200


async def test_cors_flag_answers_preflight_and_allows_the_origin(make_server):
    server = await make_server(enable_cors_header="https://app.example")
    resp = await server.options("/api/prompt", headers={"Origin": "https://app.example"})
    assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "https://app.example"
    resp = await server.get("/api/prompt", headers={"Origin": "https://app.example"})
    assert resp.status == 200 and "POST" in resp.headers["Access-Control-Allow-Methods"]


async def test_token_required_on_every_http_route_and_the_socket(make_server):
    server = await make_server(auth_token=TOKEN)
    for path in ("/", "/api/object_info", "/view?filename=x.png", "/api/queue", "/internal/folder_paths"):
        resp = await server.get(path)
        assert resp.status == 401, path
        assert "token" in (await resp.json())["error"]["details"]
    assert (await server.get("/api/queue", headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await server.get("/api/queue", headers={"Authorization": f"Bearer {TOKEN}"})).status == 200
    assert (await server.post("/api/prompt", json={}, headers={"Authorization": f"Bearer {TOKEN}"})).status == 400
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.ws_connect("/ws?clientId=a")
    assert refused.value.status == 401
    ws = await server.ws_connect(f"/ws?clientId=a&token={TOKEN}")
    assert (await ws.receive_json())["type"] == "status"
    await ws.close()


async def test_token_in_the_url_sets_a_strict_cookie_for_the_canvas(make_server):
    server = await make_server(auth_token=TOKEN)
    resp = await server.get(f"/?token={TOKEN}")
    assert resp.status == 200
    cookie = resp.cookies[TOKEN_COOKIE]
    assert cookie.value == TOKEN and cookie["httponly"] and cookie["samesite"] == "Strict"
    # the session now carries the cookie: later requests (and <img src=/view…>) pass without the header
    assert (await server.get("/api/queue")).status == 200

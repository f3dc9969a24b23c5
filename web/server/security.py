"""Request middlewares: JSON errors, the auth token, cross-origin refusal (or CORS), and cache headers.

Stricter than ComfyUI by default: besides its Origin/Host check, a loopback-only server without a token refuses
Host names that are not loopback (DNS rebinding), and any state-changing request or socket marked
`Sec-Fetch-Site: cross-site` is refused.
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import urlsplit

from aiohttp import web

from diffloom.config import ServerConfig, is_loopback
from web.server.errors import error_body

log = logging.getLogger(__name__)

TOKEN_COOKIE = "diffloom_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _refuse(status: int, error_type: str, message: str, details: str = "") -> web.Response:
    return web.json_response(error_body(error_type, message, details), status=status)


@web.middleware
async def json_errors(request: web.Request, handler):
    """Every error answers in ComfyUI's JSON error shape; a bug in a handler is a JSON 500 naming the error."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        details = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else ""
        kept = {k: exc.headers[k] for k in ("Allow", "Cache-Control") if k in exc.headers}
        return web.json_response(error_body(exc.reason.lower().replace(" ", "_"), exc.reason, details),
                                 status=exc.status, headers=kept)
    except Exception as exc:
        log.exception("error handling %s %s", request.method, request.path)
        return _refuse(500, "server_error", "Internal server error", f"{type(exc).__name__}: {exc}")


def _host_name(host_header: str) -> str:
    return urlsplit("//" + host_header).hostname or ""


def _origin_mismatch(request: web.Request) -> bool:
    """ComfyUI's check: a loopback Host and an Origin naming another host (or port) is a cross-origin call."""
    host, origin = request.headers.get("Host"), request.headers.get("Origin")
    if not host or not origin or not is_loopback(_host_name(host)):
        return False
    parts = urlsplit(origin)
    try:
        port = parts.port
    except ValueError:
        return True
    if not parts.netloc:
        return True  # "null" or garbage origins come from sandboxed or file pages
    host = host.lower()
    if port is None:  # compare host names only when the Origin names no port
        host = host[:host.index("]") + 1] if host.startswith("[") else host.split(":")[0]
    return parts.netloc.lower() != host


def make_security_middleware(config: ServerConfig):
    cors = config.enable_cors_header
    token = config.auth_token
    guard_host = config.loopback_only and token is None

    @web.middleware
    async def security(request: web.Request, handler):
        if cors is not None and request.method == "OPTIONS":
            return _with_cors(web.Response(), cors)
        if token is not None:
            refused, remember = _check_token(request, token)
            if refused is not None:
                return refused
        if cors is None:
            if guard_host and not is_loopback(_host_name(request.headers.get("Host", "localhost"))):
                return _refuse(403, "forbidden_host", "Host not allowed",
                               "this server listens on loopback only; use localhost or 127.0.0.1")
            if _origin_mismatch(request):
                origin, host = request.headers.get("Origin"), request.headers.get("Host")
                return _refuse(403, "cross_origin", "Cross-origin request refused",
                               f"Origin {origin} does not match Host {host}")
            upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
            changes_state = request.method not in _SAFE_METHODS or upgrade
            if changes_state and request.headers.get("Sec-Fetch-Site") == "cross-site":
                return _refuse(403, "cross_origin", "Cross-site request refused", "Sec-Fetch-Site: cross-site")
            if request.method == "OPTIONS":
                return web.Response()
        response = await handler(request)
        if token is not None and remember and not response.prepared:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/")
        return _with_cors(response, cors) if cors is not None else response

    return security


def _check_token(request: web.Request, token: str) -> tuple[web.Response | None, bool]:
    """(refusal or None, whether to set the cookie). Accepts a Bearer header, `?token=` or the cookie."""
    header = request.headers.get("Authorization", "")
    offered = header[7:] if header.lower().startswith("bearer ") else None
    from_query = request.query.get("token")
    offered = offered or from_query or request.cookies.get(TOKEN_COOKIE)
    if offered is None or not hmac.compare_digest(offered.encode(), token.encode()):
        return _refuse(401, "unauthorized", "Authentication required",
                       "send 'Authorization: Bearer <token>' (or ?token=<token>) with the server's auth token"), False
    return None, from_query is not None


def _with_cors(response: web.StreamResponse, origin: str) -> web.StreamResponse:
    if response.prepared:  # WebSockets and streamed files already sent their headers
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Methods"] = "POST, GET, DELETE, PUT, OPTIONS, PATCH"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
    response.headers["Access-Control-Allow-Credentials"] = "true"
    return response


@web.middleware
async def cache_control(request: web.Request, handler):
    """ComfyUI's cache headers: scripts/styles/index JSON revalidate, images cache by status."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        if not request.path.lower().endswith(_IMAGE_EXTENSIONS):
            raise
    path = request.path.lower()
    last = path.rsplit("/", 1)[-1]
    if path.endswith((".js", ".css")) or (last.startswith("index") and last.endswith(".json")):
        response.headers.setdefault("Cache-Control", "no-cache")
    elif path.endswith(_IMAGE_EXTENSIONS):
        if response.status == 404:
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
        elif 200 <= response.status <= 206 or response.status in (301, 308):
            response.headers.setdefault("Cache-Control", "public, max-age=86400")
        elif response.status in (302, 303, 307):
            response.headers.setdefault("Cache-Control", "no-cache")
    if isinstance(response, web.HTTPException):
        raise response
    return response

"""Client errors in ComfyUI's error shape, and the checked reading of JSON bodies and query values."""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web


class BadRequest(web.HTTPException):
    """A 4xx answered as `{"error": {"type", "message", "details", "extra_info"}, "node_errors": {}}`."""

    def __init__(self, message: str, details: str = "", *, status: int = 400, error_type: str = "invalid_request"):
        self.status_code = status
        super().__init__(text=json.dumps(error_body(error_type, message, details)), content_type="application/json")


def error_body(error_type: str, message: str, details: str = "", extra_info: dict | None = None) -> dict:
    return {"error": {"type": error_type, "message": message, "details": details, "extra_info": extra_info or {}},
            "node_errors": {}}


async def read_json(request: web.Request, *, required: bool = True) -> Any:
    """The request body as JSON; any unreadable, oversized or malformed body is a 400/413 with a message."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise BadRequest("Request body too large", exc.text or "", status=413, error_type="body_too_large")
    if not raw.strip():
        if required:
            raise BadRequest("Request body is empty", "expected a JSON body", error_type="invalid_json")
        return None
    try:
        return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("Request body is not valid JSON", str(exc), error_type="invalid_json")
    except RecursionError:
        raise BadRequest("Request body is not valid JSON", "nested too deeply", error_type="invalid_json")


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    """JSON has no infinities: a float that overflows (1e999) is refused, not stored as Infinity."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text} is out of range")
    return value


async def read_json_object(request: web.Request, *, required: bool = True) -> dict:
    """A JSON body that must be an object ({} when optional and absent)."""
    body = await read_json(request, required=required)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object", f"got {type(body).__name__}", error_type="invalid_json")
    return body


def expect(body: dict, key: str, kinds: type | tuple[type, ...], *, default: Any = None) -> Any:
    """`body[key]` checked against `kinds` (bool is never accepted as a number); `default` when absent or null."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _as_tuple(kinds)):
        names = " or ".join(k.__name__ for k in _as_tuple(kinds))
        raise BadRequest(f"Invalid value for '{key}'", f"'{key}' must be {names}, got {type(value).__name__}")
    return value


def expect_string_list(body: dict, key: str) -> list[str]:
    value = expect(body, key, list, default=[])
    if not all(isinstance(v, str) for v in value):
        raise BadRequest(f"Invalid value for '{key}'", f"'{key}' must be a list of strings")
    return value


def query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"Invalid query parameter '{name}'", f"'{name}' must be an integer, got {raw!r}")


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    raw = request.query.get(name)
    return default if raw is None else raw.lower() in ("true", "1", "yes")


def _as_tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)

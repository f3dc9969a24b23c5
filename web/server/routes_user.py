"""Users, settings and user files (spec §1.10): one `default` user whose files live under `<user dir>/default`."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote

from aiohttp import web

from web.server.errors import BadRequest, query_bool, read_json, read_json_object
from web.server.files import confined, file_response
from web.server.state import state_of

routes = web.RouteTableDef()

USER_ID = "default"
SETTINGS_FILE = "comfy.settings.json"


def user_root(request: web.Request) -> Path:
    return state_of(request).paths.user_dir / USER_ID


def _user_path(request: web.Request, relative: str) -> Path:
    return confined(user_root(request), unquote(relative) if "%" in relative else relative)


def _file_info(root: Path, path: Path) -> dict:
    stat = path.stat()
    return {"path": path.relative_to(root).as_posix(), "size": stat.st_size, "modified": stat.st_mtime,
            "created": stat.st_ctime}


@routes.get("/users")
async def get_users(request: web.Request) -> web.Response:
    return web.json_response({"storage": "server", "migrated": user_root(request).is_dir()})


@routes.post("/users")
async def post_users(request: web.Request) -> web.Response:
    return web.json_response({"error": "This server has one user; start it with multi-user support to add users."},
                             status=400)


# ---- settings ----------------------------------------------------------------------------------------------------
def _settings_path(request: web.Request) -> Path:
    return user_root(request) / SETTINGS_FILE


def _load_settings(request: web.Request) -> dict:
    try:
        settings = json.loads(_settings_path(request).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return settings if isinstance(settings, dict) else {}


def _save_settings(request: web.Request, settings: dict) -> None:
    path = _settings_path(request)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(settings, indent=4), encoding="utf-8")
    os.replace(temporary, path)  # never leave a half-written settings file behind


@routes.get("/settings")
async def get_settings(request: web.Request) -> web.Response:
    return web.json_response(_load_settings(request))


@routes.get("/settings/{id}")
async def get_setting(request: web.Request) -> web.Response:
    return web.json_response(_load_settings(request).get(request.match_info["id"]))


@routes.post("/settings")
async def post_settings(request: web.Request) -> web.Response:
    update = await read_json_object(request)
    _save_settings(request, {**_load_settings(request), **update})
    return web.Response()


@routes.post("/settings/{id}")
async def post_setting(request: web.Request) -> web.Response:
    value = await read_json(request)
    _save_settings(request, {**_load_settings(request), request.match_info["id"]: value})
    return web.Response()


# ---- user files --------------------------------------------------------------------------------------------------
def _list_files(directory: Path, recurse: bool) -> list[Path]:
    pattern = directory.rglob("*") if recurse else directory.glob("*")
    return sorted(p for p in pattern if p.is_file())


@routes.get("/userdata")
async def list_userdata(request: web.Request) -> web.Response:
    relative = request.query.get("dir")
    if not relative:
        raise BadRequest("Directory not provided", "the query parameter 'dir' is required")
    directory = _user_path(request, relative)
    if not directory.is_dir():
        raise web.HTTPNotFound(text=f"directory not found: {relative}")
    files = await asyncio.to_thread(_list_files, directory, query_bool(request, "recurse"))
    if query_bool(request, "full_info"):
        return web.json_response([_file_info(directory, p) for p in files])
    names = [p.relative_to(directory).as_posix() for p in files]
    if query_bool(request, "split"):
        return web.json_response([[name, *name.split("/")] for name in names])
    return web.json_response(names)


def _tree(root: Path, directory: Path) -> list[dict]:
    entries = []
    for path in directory.rglob("*"):
        relative = path.relative_to(root).as_posix()
        if path.is_dir():
            entries.append({"name": path.name, "path": relative, "type": "directory"})
        elif path.is_file():
            stat = path.stat()
            entries.append({"name": path.name, "path": relative, "type": "file", "size": stat.st_size,
                            "modified": stat.st_mtime})
    return sorted(entries, key=lambda e: (e["type"] != "directory", e["name"].lower()))


@routes.get("/v2/userdata")
async def list_userdata_v2(request: web.Request) -> web.Response:
    root = user_root(request)
    if not root.is_dir():
        return web.json_response([])
    directory = _user_path(request, request.query.get("path", ""))
    if not directory.exists():
        raise web.HTTPNotFound(text="path not found")
    if not directory.is_dir():
        raise BadRequest("Not a directory", request.query.get("path", ""))
    return web.json_response(await asyncio.to_thread(_tree, Path(os.path.realpath(root)), directory))


@routes.get("/userdata/{file}")
async def get_userdata(request: web.Request) -> web.StreamResponse:
    path = _user_path(request, request.match_info["file"])
    if not path.is_file():
        raise web.HTTPNotFound(text=f"file not found: {request.match_info['file']}")
    return file_response(path)


def _written(request: web.Request, path: Path) -> web.Response:
    if query_bool(request, "full_info"):
        return web.json_response(_file_info(Path(os.path.realpath(user_root(request))), path))
    return web.json_response(path.relative_to(os.path.realpath(user_root(request))).as_posix())


@routes.post("/userdata/{file}")
async def post_userdata(request: web.Request) -> web.Response:
    path = _user_path(request, request.match_info["file"])
    if path.exists() and not query_bool(request, "overwrite", True):
        return web.json_response({"error": "File already exists"}, status=409)
    if path.is_dir():
        raise BadRequest("Is a directory", request.match_info["file"])
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BadRequest("Request body too large", "", status=413, error_type="body_too_large")
    path.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(path.write_bytes, body)
    return _written(request, path)


@routes.delete("/userdata/{file}")
async def delete_userdata(request: web.Request) -> web.Response:
    path = _user_path(request, request.match_info["file"])
    if not path.is_file():
        raise web.HTTPNotFound(text=f"file not found: {request.match_info['file']}")
    path.unlink()
    return web.Response(status=204)


@routes.post("/userdata/{file}/move/{dest}")
async def move_userdata(request: web.Request) -> web.Response:
    source = _user_path(request, request.match_info["file"])
    dest = _user_path(request, request.match_info["dest"])
    if not source.is_file():
        raise web.HTTPNotFound(text=f"file not found: {request.match_info['file']}")
    if dest.exists() and not query_bool(request, "overwrite", True):
        return web.json_response({"error": "File already exists"}, status=409)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(source, dest)
    return _written(request, dest)

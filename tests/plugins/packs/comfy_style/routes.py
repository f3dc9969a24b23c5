"""HTTP routes the pack adds to the server at import time, as ComfyUI packs do."""

from aiohttp import web
from server import PromptServer


@PromptServer.instance.routes.get("/comfy_style/echo")
async def echo(request):
    return web.json_response({"echo": request.query.get("say", ""), "client": PromptServer.instance.client_id})


@PromptServer.instance.routes.post("/comfy_style/notify")
async def notify(request):
    body = await request.json()
    PromptServer.instance.send_sync("comfy_style.notice", body)
    return web.json_response({"sent": True})


@PromptServer.instance.routes.post("/comfy_style/progress_text")
async def progress_text(request):
    body = await request.json()
    PromptServer.instance.send_progress_text(body["text"], body["node"], body.get("sid"))
    return web.json_response({"sent": True})

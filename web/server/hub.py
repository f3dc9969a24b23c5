"""The WebSocket hub: one socket per client id, messages routed to a client or broadcast, in order.

Any thread may call `send_sync`; messages go through one asyncio queue drained by one publisher task, so a client
sees them in the order they were sent (ComfyUI's `publish_loop`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from web.server.queue_store import to_json

log = logging.getLogger(__name__)

BINARY_PREVIEW_IMAGE = 1
BINARY_TEXT = 3
BINARY_PREVIEW_WITH_METADATA = 4


def message_text(event: str | int, data: Any) -> str:
    """`{"type", "data"}` as JSON text; values JSON cannot hold (e.g. numpy scalars in UI data) become text."""
    return to_json({"type": event, "data": data})


@dataclass
class Client:
    ws: web.WebSocketResponse
    flags: dict = field(default_factory=dict)


@dataclass
class Preview:
    """An encoded preview; each client gets it as a type-4 frame if it said it supports metadata, else type 1."""
    image: bytes
    mime: str  # image/jpeg | image/png
    metadata: dict

    def frame_for(self, client: Client) -> bytes:
        if client.flags.get("supports_preview_metadata") is True:
            meta = json.dumps({**self.metadata, "image_type": self.mime}).encode()
            return struct.pack(">II", BINARY_PREVIEW_WITH_METADATA, len(meta)) + meta + self.image
        return struct.pack(">II", BINARY_PREVIEW_IMAGE, 1 if self.mime == "image/jpeg" else 2) + self.image


class Hub:
    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: asyncio.Queue | None = None
        self._publisher: asyncio.Task | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._outbox = asyncio.Queue()
        self._publisher = asyncio.create_task(self._publish())

    async def stop(self) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
        for client in list(self.clients.values()):
            await client.ws.close()
        self.clients.clear()

    def send_sync(self, event: str | int, data: Any, sid: str | None = None) -> None:
        """Queue a message from any thread: JSON `{type, data}`, a `Preview`, or (int event, bytes) binary."""
        if self._loop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._outbox.put_nowait, (event, data, sid))

    async def send(self, event: str | int, data: Any, sid: str | None = None) -> None:
        await self._outbox.put((event, data, sid))

    async def _publish(self) -> None:
        while True:
            event, data, sid = await self._outbox.get()
            targets = list(self.clients.values()) if sid is None else [self.clients[sid]] if sid in self.clients else []
            try:
                text = None if isinstance(data, (Preview, bytes, bytearray)) else message_text(event, data)
            except (TypeError, ValueError) as exc:  # one bad message must not stop every later one
                log.warning("not sending %r: %s", event, exc)
                continue
            for client in targets:
                await self._deliver(client, event, data, text)

    @staticmethod
    async def _deliver(client: Client, event: str | int, data: Any, text: str | None = None) -> None:
        try:
            if isinstance(data, Preview):
                await client.ws.send_bytes(data.frame_for(client))
            elif isinstance(event, int) and isinstance(data, (bytes, bytearray)):
                await client.ws.send_bytes(struct.pack(">I", event) + bytes(data))
            else:
                await client.ws.send_str(text if text is not None else message_text(event, data))
        except (ConnectionError, RuntimeError) as exc:  # the socket closed under us; it is removed on its own
            log.debug("dropping message to a closed socket: %s", exc)

    async def connect(self, request: web.Request, sid: str, greeting: list[tuple[str, dict]],
                      server_flags: dict) -> web.WebSocketResponse:
        """Serve one socket until it closes: replace an older socket with the same sid, greet, read flags."""
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        old = self.clients.get(sid)
        if old is not None:
            await old.ws.close()
        client = Client(ws)
        self.clients[sid] = client
        try:
            for event, data in greeting:
                await self._deliver(client, event, data)
            first = True
            async for message in ws:
                if message.type != web.WSMsgType.TEXT:
                    continue
                if first and self._read_flags(client, message.data):
                    await self._deliver(client, "feature_flags", server_flags)
                first = False
        finally:
            if self.clients.get(sid) is client:
                del self.clients[sid]
        return ws

    @staticmethod
    def _read_flags(client: Client, text: str) -> bool:
        """Store the client's feature flags if `text` is a feature_flags message."""
        try:
            message = json.loads(text)
        except ValueError:
            return False
        if not (isinstance(message, dict) and message.get("type") == "feature_flags"
                and isinstance(message.get("data"), dict)):
            return False
        client.flags = message["data"]
        return True

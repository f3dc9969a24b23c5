"""Recent log records for `/internal/logs` (the last 300, as ComfyUI keeps), streamed to subscribed sockets."""

from __future__ import annotations

import collections
import datetime
import logging
from typing import Callable


class LogBuffer(logging.Handler):
    def __init__(self, capacity: int = 300):
        super().__init__()
        self.entries: collections.deque[dict] = collections.deque(maxlen=capacity)
        self.subscribers: set[str] = set()
        # set by the app to the hub's thread-safe send; records can come from any thread
        self.send: Callable[[str, dict, str | None], None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        stamp = datetime.datetime.fromtimestamp(record.created).isoformat()
        entry = {"t": stamp, "m": self.format(record) + "\n"}
        self.entries.append(entry)
        if self.send is not None:
            for sid in list(self.subscribers):
                self.send("logs", {"entries": [entry], "size": None}, sid)

    def text(self) -> str:
        return "".join(f"{e['t']} - {e['m']}" for e in self.entries)

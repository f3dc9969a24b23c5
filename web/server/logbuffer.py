"""A ring buffer of recent log records for `/internal/logs` (the last 300, as ComfyUI keeps)."""

from __future__ import annotations

import collections
import datetime
import logging


class LogBuffer(logging.Handler):
    def __init__(self, capacity: int = 300):
        super().__init__()
        self.entries: collections.deque[dict] = collections.deque(maxlen=capacity)

    def emit(self, record: logging.LogRecord) -> None:
        stamp = datetime.datetime.fromtimestamp(record.created).isoformat()
        self.entries.append({"t": stamp, "m": self.format(record) + "\n"})

    def text(self) -> str:
        return "".join(f"{e['t']} - {e['m']}" for e in self.entries)

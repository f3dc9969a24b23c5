"""The prompt queue and history, persisted in SQLite so a restart or a killed process loses nothing.

Pending prompts run in `(number, prompt_id)` order (lower first, as ComfyUI's heap). A prompt that was running when
the process died is pending again on the next start. Sensitive extra_data (API keys) is kept in memory only.
Thread-safe: the HTTP handlers put and inspect, one worker thread takes and completes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

MAX_HISTORY = 10000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    prompt_id TEXT PRIMARY KEY, number REAL NOT NULL, state TEXT NOT NULL,
    prompt TEXT NOT NULL, extra_data TEXT NOT NULL, outputs TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, prompt_id TEXT UNIQUE NOT NULL, entry TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def to_json(value) -> str:
    """JSON for the database; values JSON cannot hold (a node's odd UI data) are stored as their text."""
    return json.dumps(value, default=_as_text)


def _as_text(value) -> object:
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return item()
    return str(value)


@dataclass
class QueueItem:
    number: float
    prompt_id: str
    prompt: dict
    extra_data: dict
    outputs: list[str]
    sensitive: dict = field(default_factory=dict)

    def as_list(self) -> list:
        """The 5-element queue/history tuple of ComfyUI (sensitive data left out)."""
        return [self.number, self.prompt_id, self.prompt, self.extra_data, self.outputs]

    @property
    def sort_key(self) -> tuple[float, str]:
        return (self.number, self.prompt_id)


class PromptStore:
    """Pending + running prompts and the history, mirrored in memory and written through to SQLite."""

    def __init__(self, db_path: str | Path, max_history: int = MAX_HISTORY,
                 on_change: Callable[[], None] | None = None, exclusive: bool = False):
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = _lock(self.db_path) if exclusive else None
        self.max_history = max_history
        self.on_change = on_change or (lambda: None)
        self._cond = threading.Condition(threading.RLock())
        self._db = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None)
        # WAL + NORMAL: a committed transaction survives the process being killed; only an OS crash may lose one.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._pending: dict[str, QueueItem] = {}
        self._running: dict[str, QueueItem] = {}
        self._closed = False
        self._load()

    # ---- start-up -------------------------------------------------------------------------------------------
    def _load(self) -> None:
        with self._cond:
            self._write("UPDATE queue SET state='pending' WHERE state='running'")
            for pid, number, prompt, extra, outputs in self._db.execute(
                    "SELECT prompt_id, number, prompt, extra_data, outputs FROM queue"):
                self._pending[pid] = QueueItem(number, pid, json.loads(prompt), json.loads(extra), json.loads(outputs))
            self._paused = self._meta("paused", "0") == "1"
            highest = [item.number for item in self._pending.values()]
            row = self._db.execute("SELECT value FROM meta WHERE key='counter'").fetchone()
            self._counter = max([int(row[0]) if row else 0] + [int(n) + 1 for n in highest if n >= 0])

    def _meta(self, key: str, default: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def _set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def _write(self, sql: str, params: tuple = ()) -> None:
        self._db.execute(sql, params)

    def _transaction(self, statements: list[tuple[str, tuple]]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                self._db.execute(sql, params)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ---- the queue ------------------------------------------------------------------------------------------
    def next_number(self, front: bool = False) -> float:
        """ComfyUI's server counter: bumped on every POST /prompt without `number`; negated for `front`."""
        with self._cond:
            number = self._counter
            self._counter += 1
            self._set_meta("counter", str(self._counter))
        return float(-number if front else number)

    def put(self, item: QueueItem) -> None:
        with self._cond:
            if item.prompt_id in self._pending or item.prompt_id in self._running:
                raise ValueError(f"prompt id {item.prompt_id!r} is already queued")
            self._write("INSERT OR REPLACE INTO queue VALUES (?, ?, 'pending', ?, ?, ?)",
                        (item.prompt_id, item.number, to_json(item.prompt), to_json(item.extra_data),
                         to_json(item.outputs)))
            self._pending[item.prompt_id] = item
            self._cond.notify_all()
        self.on_change()

    def get(self, timeout: float | None = None) -> QueueItem | None:
        """Take the first pending prompt (marking it running); None on timeout, while paused, or once closed."""
        with self._cond:
            ready = self._cond.wait_for(lambda: self._closed or (self._pending and not self._paused), timeout)
            if not ready or self._closed:
                return None
            item = min(self._pending.values(), key=lambda i: i.sort_key)
            self._write("UPDATE queue SET state='running' WHERE prompt_id=?", (item.prompt_id,))
            del self._pending[item.prompt_id]
            self._running[item.prompt_id] = item
        self.on_change()
        return item

    def task_done(self, item: QueueItem, outputs: dict, status: dict, meta: dict) -> dict:
        """Move a running prompt into the history (one transaction) and return its history entry (as stored)."""
        entry = json.loads(to_json({"prompt": item.as_list(), "outputs": outputs, "status": status, "meta": meta}))
        with self._cond:
            statements = [("DELETE FROM queue WHERE prompt_id=?", (item.prompt_id,)),
                          ("INSERT OR REPLACE INTO history(prompt_id, entry) VALUES (?, ?)",
                           (item.prompt_id, to_json(entry)))]
            count = self._db.execute("SELECT COUNT(*) FROM history").fetchone()[0]
            if count >= self.max_history:
                statements.append(("DELETE FROM history WHERE seq IN (SELECT seq FROM history ORDER BY seq LIMIT ?)",
                                   (count - self.max_history + 1,)))
            self._transaction(statements)
            self._running.pop(item.prompt_id, None)
            self._cond.notify_all()
        self.on_change()
        return entry

    def running(self) -> list[QueueItem]:
        with self._cond:
            return list(self._running.values())

    def pending(self) -> list[QueueItem]:
        """Pending prompts in run order (a sorted list is also a valid heap, which is what ComfyUI returns)."""
        with self._cond:
            return sorted(self._pending.values(), key=lambda i: i.sort_key)

    def remaining(self) -> int:
        with self._cond:
            return len(self._pending) + len(self._running)

    def delete_pending(self, prompt_ids: list[str]) -> int:
        with self._cond:
            found = [pid for pid in prompt_ids if pid in self._pending]
            self._transaction([("DELETE FROM queue WHERE prompt_id=? AND state='pending'", (pid,)) for pid in found])
            for pid in found:
                del self._pending[pid]
        if found:
            self.on_change()
        return len(found)

    def clear_pending(self) -> None:
        with self._cond:
            self._write("DELETE FROM queue WHERE state='pending'")
            self._pending.clear()
        self.on_change()

    # ---- beyond ComfyUI: pause, resume, reorder -------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def set_paused(self, paused: bool) -> None:
        """A paused queue keeps accepting prompts but starts none (the running one finishes)."""
        with self._cond:
            self._paused = paused
            self._set_meta("paused", "1" if paused else "0")
            self._cond.notify_all()
        self.on_change()

    def reorder(self, prompt_ids: list[str]) -> None:
        """Make the listed pending prompts run in the given order, in the priority slots they already hold."""
        with self._cond:
            missing = [pid for pid in prompt_ids if pid not in self._pending]
            if missing:
                raise KeyError(f"not pending: {', '.join(missing)}")
            if len(set(prompt_ids)) != len(prompt_ids):
                raise ValueError("a prompt id is listed twice")
            slots = sorted(self._pending[pid].sort_key for pid in prompt_ids)
            # Equal numbers would fall back to prompt-id order, so spread ties by a tiny step to keep the new order.
            numbers = [number for number, _ in slots]
            for i in range(1, len(numbers)):
                if numbers[i] <= numbers[i - 1]:
                    numbers[i] = numbers[i - 1] + 1e-6
            self._transaction([("UPDATE queue SET number=? WHERE prompt_id=?", (n, pid))
                               for n, pid in zip(numbers, prompt_ids)])
            for n, pid in zip(numbers, prompt_ids):
                self._pending[pid].number = n
        self.on_change()

    # ---- history --------------------------------------------------------------------------------------------
    def history(self, max_items: int | None = None, offset: int = -1) -> dict[str, dict]:
        """Oldest-first entries with ComfyUI's `max_items` / `offset` semantics."""
        with self._cond:
            total = self._db.execute("SELECT COUNT(*) FROM history").fetchone()[0]
            if offset < 0 and max_items is not None:
                offset = total - max_items
            offset = max(offset, 0)
            limit = -1 if max_items is None else max(max_items, 0)
            rows = self._db.execute("SELECT prompt_id, entry FROM history ORDER BY seq LIMIT ? OFFSET ?",
                                    (limit, offset)).fetchall()
        return {pid: json.loads(entry) for pid, entry in rows}

    def history_entry(self, prompt_id: str) -> dict | None:
        with self._cond:
            row = self._db.execute("SELECT entry FROM history WHERE prompt_id=?", (prompt_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def delete_history(self, prompt_ids: list[str]) -> None:
        with self._cond:
            self._transaction([("DELETE FROM history WHERE prompt_id=?", (pid,)) for pid in prompt_ids])

    def clear_history(self) -> None:
        with self._cond:
            self._write("DELETE FROM history")

    def shutdown(self) -> None:
        """Wake every waiting `get` and make it (and later ones) return None; the database stays usable."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def close(self) -> None:
        self.shutdown()
        with self._cond:
            self._db.close()
        if self._lock_file is not None:
            self._lock_file.close()


class QueueInUse(RuntimeError):
    """Another running server already owns this queue database."""


def _lock(db_path: Path):
    """Hold an exclusive lock next to the database for the life of the store (released by the OS on kill)."""
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform
        return None
    handle = open(db_path.with_name(db_path.name + ".lock"), "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise QueueInUse(f"{db_path} is in use by another diffloom server; give each server its own "
                         "--user-directory") from None
    return handle

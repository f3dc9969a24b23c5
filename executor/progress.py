"""The hook node code calls to report progress, send previews and notice interrupts.

The executor installs a `ProgressHook` around every node call (a context variable, so async nodes and worker
threads started with `asyncio.to_thread` see their own). Node code never needs to know who is listening.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator


class InterruptProcessing(Exception):
    """Raised inside a node when the user interrupted the running prompt."""


# preview = (format, PIL.Image.Image, max_size or None), the shape ComfyUI's ProgressBar passes.
Preview = tuple[str, Any, "int | None"]


@dataclass
class ProgressHook:
    """Where one node's progress goes: an emit function and the prompt's interrupt flag."""

    prompt_id: str
    node_id: str
    display_node_id: str
    emit: Callable[[str, dict], None]
    interrupt_flag: threading.Event = field(default_factory=threading.Event)
    # for nodes added by expansion: the node that expanded them and the prompt node they belong to
    parent_node_id: str | None = None
    real_node_id: str | None = None

    def check_interrupt(self) -> None:
        if self.interrupt_flag.is_set():
            self.interrupt_flag.clear()  # consumed when it fires, as in ComfyUI
            raise InterruptProcessing()

    def report(self, value: float, total: float, preview: Preview | None = None) -> None:
        self.check_interrupt()
        self.emit("progress", {"value": value, "max": total, "prompt_id": self.prompt_id,
                               "node": self.node_id, "display_node": self.display_node_id})
        if preview is not None:
            image_format, image, max_size = preview
            self.emit("preview_image", {"prompt_id": self.prompt_id, "node": self.node_id,
                                        "display_node": self.display_node_id, "format": image_format,
                                        "image": image, "max_size": max_size, "parent_node": self.parent_node_id,
                                        "real_node_id": self.real_node_id or self.node_id})


_current: contextvars.ContextVar[ProgressHook | None] = contextvars.ContextVar("diffloom_progress", default=None)


@contextlib.contextmanager
def installed(hook: ProgressHook) -> Iterator[ProgressHook]:
    """Make `hook` the target of `report`/`check_interrupt` for the code run inside the block."""
    token = _current.set(hook)
    try:
        yield hook
    finally:
        _current.reset(token)


def current() -> ProgressHook | None:
    return _current.get()


def report(value: float, total: float, preview: Preview | None = None) -> None:
    """Report `value` of `total` for the running node (no-op outside the executor); raises on interrupt."""
    hook = _current.get()
    if hook is not None:
        hook.report(value, total, preview)


def check_interrupt() -> None:
    """Raise InterruptProcessing if the running prompt was interrupted (no-op outside the executor)."""
    hook = _current.get()
    if hook is not None:
        hook.check_interrupt()

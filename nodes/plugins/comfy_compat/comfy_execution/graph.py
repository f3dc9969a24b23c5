"""ComfyUI's `comfy_execution.graph`: only ExecutionBlocker is offered to custom nodes."""

from executor.blocker import ExecutionBlocker
from nodes.plugins.compat_import import missing_symbol

__all__ = ["ExecutionBlocker"]


def __getattr__(name: str):
    raise missing_symbol(__name__, name, __all__)

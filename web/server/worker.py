"""The queue worker: one thread that takes prompts from the store, runs them and writes their history.

Executor events are forwarded to the prompt's client through the hub; the event loop never waits on a prompt.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import traceback

from diffloom.config import ServerConfig
from nodes.registry import NodeRegistry
from web.server.hub import Hub
from web.server.preview import encode_preview
from web.server.queue_store import PromptStore, QueueItem

log = logging.getLogger(__name__)

# Sent only to the prompt's client, never broadcast (ComfyUI drops them when the prompt has no client_id).
_CLIENT_ONLY = frozenset({"execution_start", "execution_cached", "executing", "executed", "execution_success",
                          "execution_error"})


class QueueWorker:
    """Runs the store's prompts on its own thread; given the parts it uses, not the server state that holds it."""

    def __init__(self, config: ServerConfig, registry: NodeRegistry, store: PromptStore, hub: Hub):
        self.config, self.registry, self.store, self.hub = config, registry, store, hub
        self.current: QueueItem | None = None
        self.current_client: str | None = None
        self.last_node: str | None = None
        self.preview_method = config.preview_method
        self._executor = None
        self._executor_lock = threading.Lock()
        self._free = {"unload_models": False, "free_memory": False}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="diffloom-queue-worker", daemon=True)

    # ---- control from the event loop ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.interrupt()
        self.store.shutdown()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def interrupt(self, prompt_id: str | None = None) -> bool:
        """Interrupt the running prompt (only if it is `prompt_id`, when one is given)."""
        current = self.current
        if prompt_id is not None and (current is None or current.prompt_id != prompt_id):
            return False
        if self._executor is not None:
            self._executor.interrupt()
        return True

    def request_free(self, unload_models: bool, free_memory: bool) -> None:
        self._free["unload_models"] |= unload_models
        self._free["free_memory"] |= free_memory

    @property
    def executor(self):
        """The executor (created on first use; its cache lives as long as the server)."""
        with self._executor_lock:  # the worker and a route (plugin reload) may both ask first
            if self._executor is None:
                from executor.cache import CacheSettings
                from executor.engine import Executor

                config = self.config
                settings = CacheSettings(mode=config.cache_mode, lru_size=config.cache_lru_size,
                                         ram_threshold_gb=config.cache_ram_gb)
                self._executor = Executor(self.registry.classes, cache=settings, emit=self._emit)
            return self._executor

    # ---- the thread -----------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            item = self.store.get(timeout=0.5)
            if item is not None:
                try:
                    self._run(item)
                except Exception:  # the worker must outlive anything one prompt does
                    log.exception("queue worker: prompt %s could not be completed", item.prompt_id)
                    self.current = None
            self._process_free()

    def _run(self, item: QueueItem) -> None:
        self.current, self.current_client, self.last_node = item, item.extra_data.get("client_id"), None
        # a prompt's own preview_method (the front end sends one) wins over --preview-method, unless "default"
        wanted = item.extra_data.get("preview_method")
        self.preview_method = wanted if wanted not in (None, "default") else self.config.preview_method
        extra_data = {**item.extra_data, **item.sensitive}
        try:
            result = self.executor.execute(copy.deepcopy(item.prompt), item.prompt_id, extra_data, item.outputs)
            outputs, meta, messages, success = result.outputs, result.meta, result.messages, result.success
        except Exception as exc:  # an executor bug must not stop the queue; the prompt is recorded as failed
            log.exception("prompt %s failed outside any node", item.prompt_id)
            outputs, meta, success = {}, {}, False
            messages = [["execution_error", _crash_message(item.prompt_id, exc)]]
            self._send("execution_error", messages[0][1])
        status = {"status_str": "success" if success else "error", "completed": success, "messages": messages}
        self.store.task_done(item, outputs, status, meta)
        self.current = None
        # After the history is stored, so a client can fetch it as soon as it sees this (spec §12).
        self.hub.send_sync("executing", {"node": None, "prompt_id": item.prompt_id}, self.current_client)

    def _emit(self, event: str, data: dict) -> None:
        """Executor events (worker thread) → the prompt's client; previews are encoded here, off the event loop."""
        if event == "preview_image":
            # --preview-method governs sampler previews; full pictures (max_size None, SaveImageWebsocket) always go
            if self.preview_method == "none" and data.get("max_size") is not None:
                return
            metadata = {"node_id": data.get("node"), "prompt_id": data.get("prompt_id"),
                        "display_node_id": data.get("display_node"), "parent_node_id": data.get("parent_node"),
                        "real_node_id": data.get("real_node_id", data.get("node"))}
            try:
                preview = encode_preview(data["format"], data["image"], data.get("max_size"),
                                         self.config.preview_size, metadata)
            except Exception:  # a preview that cannot be encoded is skipped; the node keeps running
                log.warning("preview from node %s could not be encoded", data.get("node"), exc_info=True)
                return
            self.hub.send_sync("preview", preview, self.current_client)
            return
        if event == "executing":
            self.last_node = data.get("display_node") or data.get("node")
        self._send(event, data)

    def _send(self, event: str, data: dict) -> None:
        if self.current_client is None and event in _CLIENT_ONLY:
            return
        self.hub.send_sync(event, data, self.current_client)

    def _process_free(self) -> None:
        unload, free = self._free["unload_models"], self._free["free_memory"]
        if not (unload or free):
            return
        self._free = {"unload_models": False, "free_memory": False}
        if free and self._executor is not None:
            self._executor.cache.clear()
        import runtime

        runtime.offload_models()  # imports no torch in a process that never loaded a model


def _crash_message(prompt_id: str, exc: Exception) -> dict:
    return {"prompt_id": prompt_id, "node_id": None, "node_type": None, "executed": [],
            "exception_message": str(exc), "exception_type": type(exc).__name__,
            "traceback": traceback.format_exception(exc), "current_inputs": {}, "current_outputs": [],
            "timestamp": int(time.time() * 1000)}

"""What every route handler can reach: the config, node registry, paths, queue store, hub and worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from aiohttp import web

from diffloom.config import ServerConfig
from runtime.paths import Paths
from nodes.registry import NodeRegistry
from web.server.hub import Hub
from web.server.logbuffer import LogBuffer
from web.server.queue_store import PromptStore

if TYPE_CHECKING:
    from web.server.worker import QueueWorker


@dataclass
class ServerState:
    config: ServerConfig
    registry: NodeRegistry
    paths: Paths
    store: PromptStore
    hub: Hub
    logs: LogBuffer
    worker: "QueueWorker | None" = None
    # on_prompt hooks (plugins): each may rewrite the POST /prompt body before validation.
    prompt_filters: list[Callable[[dict], dict]] = field(default_factory=list)

    def status_message(self) -> dict:
        return {"status": {"exec_info": {"queue_remaining": self.store.remaining()}}}

    def feature_flags(self) -> dict:
        return {"supports_preview_metadata": True, "max_upload_size": float(self.config.max_upload_bytes),
                "extension": {"manager": {"supports_v4": True}}}


STATE = web.AppKey("diffloom_state", ServerState)


def state_of(request: web.Request) -> ServerState:
    return request.app[STATE]

"""Which node runs next: staged nodes, their unresolved producers, and ComfyUI's pick order (spec §6.2)."""

from __future__ import annotations

from typing import Callable


class DependencyCycleError(Exception):
    """Nothing can run and nothing is running: the staged nodes wait on each other."""


class ExecutionList:
    """Nodes staged to run; a node is ready when every producer it waits on has completed."""

    def __init__(self, is_output: Callable[[str], bool], is_async: Callable[[str], bool]):
        self.is_output = is_output
        self.is_async = is_async
        self.staged: dict[str, None] = {}  # ordered set
        self.waiting: dict[str, set[str]] = {}
        self.dependents: dict[str, set[str]] = {}
        self.ready: dict[str, None] = {}
        self.first: dict[str, None] = {}  # staged outputs and async nodes: picked before anything else
        self.parked: set[str] = set()  # async nodes whose tasks are still running

    def __bool__(self) -> bool:
        return bool(self.staged)

    def is_staged(self, node_id: str) -> bool:
        return node_id in self.staged

    def stage(self, node_id: str) -> bool:
        """Stage a node (no-op if staged); True if it was new."""
        if node_id in self.staged:
            return False
        self.staged[node_id] = None
        self.waiting[node_id] = set()
        self.ready[node_id] = None
        if self.is_output(node_id) or self.is_async(node_id):
            self.first[node_id] = None
        return True

    def add_dependency(self, producer: str, consumer: str) -> None:
        waiting = self.waiting[consumer]
        if producer not in waiting:
            waiting.add(producer)
            self.dependents.setdefault(producer, set()).add(consumer)
            self.ready.pop(consumer, None)

    def complete(self, node_id: str) -> None:
        self.first.pop(node_id, None)
        self.staged.pop(node_id, None)
        self.waiting.pop(node_id, None)
        self.ready.pop(node_id, None)
        for consumer in self.dependents.pop(node_id, ()):
            waiting = self.waiting.get(consumer)
            if waiting is not None:
                waiting.discard(node_id)
                if not waiting and consumer not in self.parked:
                    self.ready[consumer] = None

    def park(self, node_id: str) -> None:
        self.parked.add(node_id)
        self.ready.pop(node_id, None)

    def unpark(self, node_id: str) -> None:
        self.parked.discard(node_id)
        if node_id in self.staged and not self.waiting[node_id]:
            self.ready[node_id] = None

    def requeue(self, node_id: str) -> None:
        """A node that went back to pending is ready again at once unless it gained producers to wait on."""
        if not self.waiting.get(node_id) and node_id not in self.parked:
            self.ready[node_id] = None

    def next(self) -> str | None:
        """The next ready node: outputs and async nodes first, then nodes closest to an output."""
        if not self.ready:
            return None
        for node_id in self.first:
            if node_id in self.ready:
                return node_id
        candidates = self.ready
        for node_id in candidates:
            if any(self.is_output(c) for c in self.dependents.get(node_id, ())):
                return node_id
        for node_id in candidates:
            if any(self.is_output(cc) for c in self.dependents.get(node_id, ())
                   for cc in self.dependents.get(c, ())):
                return node_id
        return next(iter(candidates))

    def cycle(self) -> list[str]:
        """Staged nodes on a dependency cycle (for the error), following waits from any blocked node."""
        if not self.staged:
            return []
        node = next(iter(self.staged))
        path: list[str] = []
        while node not in path:
            path.append(node)
            waits = [p for p in self.waiting.get(node, ()) if p in self.staged]
            if not waits:
                return list(self.staged)
            node = sorted(waits)[0]
        return path[path.index(node):]

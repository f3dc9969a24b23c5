"""Fixtures for executor tests: the pure-Python test nodes and an executor that records its events."""

from __future__ import annotations

import pytest

from executor.cache import CacheSettings
from executor.engine import Executor
from tests.executor import testnodes


class Recorder:
    """An executor plus every event it emitted."""

    def __init__(self, mode: str = "budget", **settings):
        self.events: list[tuple[str, dict]] = []
        self.executor = Executor(testnodes.NODE_CLASS_MAPPINGS, CacheSettings(mode=mode, **settings),
                                 emit=lambda event, data: self.events.append((event, data)))

    def run(self, prompt: dict, prompt_id: str = "p", **kwargs):
        self.events.clear()
        testnodes.CALLS.clear()
        return self.executor.execute(prompt, prompt_id, **kwargs)

    def of(self, event: str) -> list[dict]:
        return [data for name, data in self.events if name == event]


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def make_recorder():
    return Recorder

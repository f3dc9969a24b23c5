"""The output cache: sizes by duck typing, GPU values moved to CPU before anything is dropped, cache policies."""

from __future__ import annotations

from executor.cache import CacheSettings, OutputCache, measure, offload


class FakeDevice:
    def __init__(self, type):
        self.type = type


class FakeTensor:
    """Looks like a torch tensor to the cache: element_size, nelement, device, to()."""

    def __init__(self, count, device="cuda", itemsize=4):
        self.count, self.device, self.itemsize = count, FakeDevice(device), itemsize

    def element_size(self):
        return self.itemsize

    def nelement(self):
        return self.count

    def to(self, device):
        return FakeTensor(self.count, device, self.itemsize)


class FakeModel:
    """A model wrapper implementing the cache protocol."""

    def __init__(self, nbytes):
        self.nbytes, self.on_gpu = nbytes, True

    def __cache_size__(self):
        return (0, self.nbytes) if self.on_gpu else (self.nbytes, 0)

    def __cache_offload__(self):
        self.on_gpu = False


def test_measure_counts_cpu_and_gpu_separately():
    latent = {"samples": FakeTensor(1000), "noise_mask": FakeTensor(10, "cpu")}
    assert measure([[latent]]) == (40 + len("samples") + len("noise_mask"), 4000)
    shared = FakeTensor(100)
    assert measure([shared, shared, (shared,)]) == (0, 400)  # the same object counts once
    assert measure([FakeModel(123)]) == (0, 123)
    assert measure([1, 2.0, None, True]) == (0, 0)


def test_offload_moves_tensors_and_keeps_structure():
    model = FakeModel(10)
    value = [[{"samples": FakeTensor(5)}], (FakeTensor(3), model)]
    moved = offload(value)
    assert moved[0][0]["samples"].device.type == "cpu" and moved[1][0].device.type == "cpu"
    assert isinstance(moved[1], tuple) and moved[1][1] is model and not model.on_gpu
    assert value[0][0]["samples"].device.type == "cuda"  # the original (used by the running prompt) is untouched


def test_gpu_pressure_moves_oldest_to_cpu_before_dropping():
    cache = OutputCache(CacheSettings(cpu_budget_bytes=10_000, gpu_budget_bytes=5_000))
    cache.begin_prompt(set())
    cache.set("a", [[FakeTensor(1000)]], None)  # 4000 GPU bytes
    cache.set("b", [[FakeTensor(1000)]], None)  # 8000 in all: over the GPU budget
    assert set(cache.entries) == {"a", "b"}
    assert (cache.entries["a"].cpu_bytes, cache.entries["a"].gpu_bytes) == (4000, 0)
    assert cache.entries["b"].gpu_bytes == 4000
    assert cache.stats()["gpu_bytes"] == 4000 and cache.stats()["cpu_bytes"] == 4000
    cache.set("c", [[FakeTensor(1000)]], None)  # b moves to CPU too: 8000 CPU bytes, still within 10 000
    assert set(cache.entries) == {"a", "b", "c"}
    cache.set("d", [[FakeTensor(1000)]], None)  # c moves: 12 000 CPU bytes: the oldest (a) is dropped
    assert set(cache.entries) == {"b", "c", "d"}
    assert cache.stats()["cpu_bytes"] == sum(e.cpu_bytes for e in cache.entries.values()) == 8000
    assert cache.stats()["gpu_bytes"] == sum(e.gpu_bytes for e in cache.entries.values()) == 4000


def test_recently_used_entries_survive():
    cache = OutputCache(CacheSettings(cpu_budget_bytes=2500, gpu_budget_bytes=0))
    cache.begin_prompt(set())
    cache.set("a", [["x" * 1000]], None)
    cache.set("b", [["x" * 1000]], None)
    cache.get("a")  # used again: b is now the oldest
    cache.set("c", [["x" * 1000]], None)
    assert set(cache.entries) == {"a", "c"}


def test_classic_keeps_only_the_new_prompts_signatures():
    cache = OutputCache(CacheSettings(mode="classic"))
    cache.begin_prompt(set())
    cache.set("a", [[1]], None)
    cache.set("a-child", [[2]], None, root="a")  # a node that "a" expanded into
    cache.set("b", [[3]], None)
    cache.begin_prompt({"a"})
    assert set(cache.entries) == {"a", "a-child"}


def test_none_mode_keeps_nothing():
    cache = OutputCache(CacheSettings(mode="none"))
    cache.begin_prompt(set())
    cache.set("a", [[1]], None)
    assert cache.get("a") is None


def test_settings_from_comfyui_flags():
    assert CacheSettings.from_flags(cache_lru=5).mode == "lru"
    assert CacheSettings.from_flags(cache_ram=2.0).ram_threshold_gb == 2.0
    assert CacheSettings.from_flags(cache_none=True).mode == "none"
    assert CacheSettings.from_flags().mode == "budget"
    try:
        CacheSettings(mode="fast")
    except ValueError as error:
        assert "fast" in str(error)
    else:
        raise AssertionError("unknown mode accepted")


def test_ram_mode_evicts_while_memory_is_low(monkeypatch):
    import executor.cache as cache_module

    available = {"bytes": 10 << 30}
    monkeypatch.setattr(cache_module, "available_ram", lambda: available["bytes"])
    cache = OutputCache(CacheSettings(mode="ram", ram_threshold_gb=4.0))
    cache.begin_prompt(set())
    cache.set("small", [["x" * 10]], None)
    cache.set("big", [["x" * 1000]], None)
    assert set(cache.entries) == {"small", "big"}
    available["bytes"] = 1 << 30  # below the threshold: the biggest (score = age x size) goes first

    collections = []

    def collect():  # the first collection frees nothing; the one after the first eviction frees enough
        collections.append(1)
        if len(collections) == 2:
            available["bytes"] = 5 << 30

    monkeypatch.setattr(cache_module.gc, "collect", collect)
    cache.set("tiny", [[1]], None)
    assert "big" not in cache.entries and "small" in cache.entries

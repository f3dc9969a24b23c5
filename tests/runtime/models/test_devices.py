"""Device and dtype choice: fp32 on the CPU, half precision on CUDA, both set through `runtime.configure`."""

import torch

import runtime
from runtime import devices


def test_cpu_runs_fp32_and_cuda_half_precision(monkeypatch):
    assert devices.weight_dtype(torch.device("cpu"), "unet") == torch.float32
    assert devices.weight_dtype(torch.device("cuda"), "unet") == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert devices.weight_dtype(torch.device("cuda"), "vae") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert devices.weight_dtype(torch.device("cuda"), "vae") == torch.float32


def test_device_override():
    with runtime.configured(devices="cpu"):
        assert devices.compute_device() == torch.device("cpu")
    with runtime.configured(devices=None):
        expected = "cuda" if torch.cuda.is_available() else "cpu"
        assert devices.compute_device().type == expected
    with runtime.configured(devices="cuda:1,cuda:0"):
        assert devices.compute_device() == torch.device("cuda:1")  # the first named device


def test_precision_is_configured_not_guessed(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    with runtime.configured(precision="fp32"):
        assert {devices.weight_dtype(d, r) for d in (cpu, cuda) for r in ("unet", "clip", "vae")} == {torch.float32}
    with runtime.configured(precision="bf16"):
        assert devices.weight_dtype(cpu, "unet") == devices.weight_dtype(cpu, "vae") == torch.bfloat16
    with runtime.configured(precision="fp16"):
        assert devices.weight_dtype(cuda, "clip") == torch.float16
        assert devices.weight_dtype(cuda, "vae") == torch.bfloat16  # a VAE overflows in fp16
        assert devices.weight_dtype(cpu, "vae") == torch.float32


def test_bad_settings_are_refused_by_name():
    import pytest

    with pytest.raises(ValueError, match="precision must be one of auto, fp32, fp16, bf16, got 'fp64'"):
        runtime.configure(precision="fp64")
    with pytest.raises(ValueError, match="device 'gpu0' is not a device name"):
        runtime.configure(devices="gpu0")


class _Fake(devices.DeviceResident):
    def __init__(self, size):
        self.net = torch.nn.Linear(size, size, bias=False)

    def _networks(self):
        return [self.net]


def test_making_room_offloads_least_recent_models_first(monkeypatch):
    a, b, c = _Fake(100), _Fake(100), _Fake(100)
    moved = []
    monkeypatch.setattr(devices, "_resident", devices.OrderedDict([(id(a), a), (id(b), b)]))
    monkeypatch.setattr(_Fake, "offload", lambda self: (moved.append(self), devices._resident.pop(id(self))))
    free = iter([0, runtime.current().memory.reserve_bytes + 10 ** 6])  # first check: no room, second: enough
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (next(free), 0))
    devices._make_room(c, torch.device("cuda"))
    assert moved == [a]


def test_offload_puts_unpatched_weights_back(monkeypatch):
    from runtime.weights.patches import WeightPatch, apply_patches

    fake = _Fake(4)
    original = fake.net.weight.detach().clone()
    apply_patches(fake.net, (WeightPatch("weight", 1.0, lambda w: torch.ones_like(w)),))
    torch.testing.assert_close(fake.net.weight, original + 1)
    fake.offload()
    torch.testing.assert_close(fake.net.weight, original)

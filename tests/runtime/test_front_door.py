"""The runtime's one front door: `runtime.configure` sets folders, devices, precision, memory and the metadata
switch in one call; `runtime.release` gives back what the runtime holds; nothing reads environment variables."""

import subprocess
import sys

import pytest

import runtime
from runtime.settings import current


def test_configure_sets_everything_in_one_call_and_release_returns_to_defaults(tmp_path):
    with runtime.configured():
        settings = runtime.configure(paths=runtime.Paths.create(tmp_path), devices="cpu", precision="bf16",
                                     memory=runtime.Memory(reserve_bytes=5), metadata=False)
        assert current() is settings
        assert (settings.paths.base_dir, settings.devices, settings.precision) == (tmp_path.resolve(), ("cpu",), "bf16")
        assert (settings.memory.reserve_bytes, settings.metadata) == (5, False)
        runtime.release()
        assert current().devices == () and current().precision == "auto" and current().metadata


def test_configure_resets_what_it_is_not_given(tmp_path):
    with runtime.configured():
        runtime.configure(devices="cpu", metadata=False)
        runtime.configure(paths=runtime.Paths.create(tmp_path))
        assert current().devices == () and current().metadata  # explicit: one call says everything


def test_release_empties_the_caches_of_loaded_files(tmp_path, monkeypatch):
    from runtime.lora import patches

    monkeypatch.setitem(patches._files, ("some.safetensors", 1, 2), object())
    with runtime.configured():
        runtime.release()
    assert not patches._files


def test_configured_restores_the_previous_settings(tmp_path):
    before = current()
    with runtime.configured(paths=runtime.Paths.create(tmp_path), devices="cpu") as inside:
        assert current() is inside and inside.paths.base_dir == tmp_path.resolve()
    assert current() is before


def test_the_device_comes_from_the_configuration_not_the_environment():
    code = ("import os, runtime, runtime.devices as d; os.environ['DIFFLOOM_DEVICE'] = 'meta';"
            "runtime.configure(devices='cpu'); print(d.compute_device())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "cpu"


def test_importing_the_runtime_and_releasing_it_never_imports_torch():
    code = ("import sys, runtime; runtime.configure(devices='cpu'); runtime.release(); runtime.offload_models();"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("flags, expected", [([], ("auto", 1024 ** 3, ())),
                                             (["--force-fp32", "--reserve-vram", "2", "--cpu"],
                                              ("fp32", 2 * 1024 ** 3, ("cpu",))),
                                             (["--force-fp16"], ("fp16", 1024 ** 3, ()))])
def test_serve_flags_reach_the_runtime_through_configure(tmp_path, flags, expected):
    from diffloom.config import parse_config
    from diffloom.serve_command import configure_runtime

    with runtime.configured():
        configure_runtime(parse_config(["--base-directory", str(tmp_path), *flags]))
        settings = current()
        assert (settings.precision, settings.memory.reserve_bytes, settings.devices) == expected
        assert settings.paths.base_dir == tmp_path.resolve() and settings.paths.output_dir.is_dir()

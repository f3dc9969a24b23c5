"""`diffloom serve` flags (spec §10) parsed once into ServerConfig."""

from pathlib import Path

import pytest

from diffloom.config import is_loopback, parse_config


@pytest.mark.parametrize("flags,mode,lru", [([], "budget", 0), (["--cache-classic"], "classic", 0),
                                            (["--cache-lru", "5"], "lru", 5), (["--cache-lru", "0"], "classic", 0),
                                            (["--cache-none"], "none", 0), (["--cache-ram"], "ram", 0)])
def test_cache_flags(flags, mode, lru):
    config = parse_config(flags, environ={})
    assert (config.cache_mode, config.cache_lru_size) == (mode, lru)


def test_cache_flags_are_exclusive():
    with pytest.raises(SystemExit):
        parse_config(["--cache-none", "--cache-lru", "3"], environ={})


def test_folders_limits_and_logging(tmp_path):
    config = parse_config(["--base-directory", str(tmp_path), "--temp-directory", "/x", "--max-upload-size", "2.5",
                           "--extra-model-paths-config", "a.yaml", "b.yaml", "--extra-model-paths-config", "c.yaml",
                           "--verbose", "--preview-method", "latent2rgb", "--enable-cors-header"], environ={})
    assert config.base_directory == tmp_path.resolve() and config.temp_directory == Path("/x/temp")
    assert config.max_upload_bytes == int(2.5 * 1024 * 1024)
    assert config.extra_model_paths_config == ["a.yaml", "b.yaml", "c.yaml"]
    assert config.verbose == "DEBUG" and config.preview_method == "latent2rgb" and config.enable_cors_header == "*"


@pytest.mark.parametrize("flags", [["--port", "0"], ["--port", "x"], ["--max-upload-size", "-1"],
                                   ["--preview-method", "magic"]])
def test_bad_flags_exit(flags):
    with pytest.raises(SystemExit):
        parse_config(flags, environ={})


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
                                           ("localhost", True), ("app.localhost", True), ("0.0.0.0", False),
                                           ("192.168.1.2", False), ("example.com", False), ("", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback

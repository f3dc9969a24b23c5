"""The flags of `diffloom serve` (spec §10), parsed once into a `ServerConfig` that is passed down."""

from __future__ import annotations

import argparse
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

AUTH_TOKEN_ENV = "DIFFLOOM_AUTH_TOKEN"
PREVIEW_METHODS = ("none", "auto", "latent2rgb", "taesd")


@dataclass
class ServerConfig:
    listen: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    port: int = 8188
    base_directory: Path = field(default_factory=Path.cwd)
    output_directory: Path | None = None
    input_directory: Path | None = None
    temp_directory: Path | None = None
    user_directory: Path | None = None
    extra_model_paths_config: list[str] = field(default_factory=list)
    cpu: bool = False
    precision: str = "auto"  # auto | fp32 (--force-fp32) | fp16 (--force-fp16); see runtime.settings
    reserve_vram_gb: float | None = None  # accelerator memory kept free; None: the runtime's default (1 GB)
    cache_mode: str = "budget"  # budget (diffloom's default) | classic | lru | ram | none; see executor/cache.py
    cache_lru_size: int = 0
    cache_ram_gb: float = 4.0
    preview_method: str = "none"
    preview_size: int = 512
    enable_cors_header: str | None = None
    max_upload_size_mb: float = 100.0
    disable_all_custom_nodes: bool = False
    whitelist_custom_nodes: list[str] = field(default_factory=list)  # still loaded with --disable-all-custom-nodes
    auto_launch: bool = False
    verbose: str = "INFO"
    auth_token: str | None = None
    # Listening beyond loopback creates a token unless this is set (an explicit, visible choice).
    no_auth_token: bool = False
    default_hashing_function: str = "sha256"
    dont_print_server: bool = False
    disable_metadata: bool = False  # no prompt/workflow chunks in saved PNGs and latents
    tls_keyfile: Path | None = None  # both set: serve HTTPS and WSS
    tls_certfile: Path | None = None

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_size_mb * 1024 * 1024)

    @property
    def loopback_only(self) -> bool:
        return all(is_loopback(address) for address in self.listen)


def is_loopback(host: str) -> bool:
    """True for localhost names and loopback IP literals (with or without brackets)."""
    host = host.strip().strip("[]").lower()
    if host in ("localhost", "localhost.") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="diffloom serve", description="Serve the ComfyUI-compatible HTTP + WebSocket API.")
    p.add_argument("--listen", nargs="?", const="0.0.0.0,::", default="127.0.0.1", metavar="IP[,IP…]",
                   help="addresses to bind (bare flag: all interfaces)")
    p.add_argument("--port", type=int, default=8188)
    p.add_argument("--base-directory", type=Path, default=None)
    p.add_argument("--output-directory", type=Path)
    p.add_argument("--input-directory", type=Path)
    p.add_argument("--temp-directory", type=Path, help="a 'temp' folder is created inside it")
    p.add_argument("--user-directory", type=Path)
    p.add_argument("--extra-model-paths-config", action="append", nargs="+", default=[], metavar="PATH")
    p.add_argument("--cpu", action="store_true", help="run everything on the CPU")
    precision = p.add_mutually_exclusive_group()
    precision.add_argument("--force-fp32", action="store_true", help="run every network in fp32")
    precision.add_argument("--force-fp16", action="store_true", help="run the networks in fp16 (the VAE never)")
    p.add_argument("--reserve-vram", type=float, default=None, metavar="GB",
                   help="accelerator memory kept free for activations (default 1)")
    cache = p.add_mutually_exclusive_group()
    cache.add_argument("--cache-classic", action="store_true")
    cache.add_argument("--cache-lru", type=int, metavar="N")
    cache.add_argument("--cache-none", action="store_true")
    cache.add_argument("--cache-ram", type=float, nargs="?", const=4.0, metavar="GB")
    p.add_argument("--preview-method", choices=PREVIEW_METHODS, default="none")
    p.add_argument("--preview-size", type=int, default=512)
    p.add_argument("--enable-cors-header", nargs="?", const="*", default=None, metavar="ORIGIN")
    p.add_argument("--max-upload-size", type=float, default=100.0, metavar="MB")
    p.add_argument("--disable-all-custom-nodes", action="store_true")
    p.add_argument("--whitelist-custom-nodes", nargs="+", default=[], metavar="NAME",
                   help="packs still loaded with --disable-all-custom-nodes")
    p.add_argument("--auto-launch", action="store_true")
    p.add_argument("--disable-auto-launch", action="store_true")
    p.add_argument("--verbose", nargs="?", const="DEBUG", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
    p.add_argument("--auth-token", default=None,
                   help=f"require this token on every request (also read from ${AUTH_TOKEN_ENV})")
    p.add_argument("--no-auth-token", action="store_true",
                   help="do not generate a token when listening on a non-loopback address")
    p.add_argument("--default-hashing-function", choices=["md5", "sha1", "sha256", "sha512"], default="sha256")
    p.add_argument("--dont-print-server", action="store_true")
    p.add_argument("--disable-metadata", action="store_true", help="do not embed the workflow in saved files")
    p.add_argument("--tls-keyfile", type=Path, metavar="PATH", help="serve HTTPS: the private key (PEM)")
    p.add_argument("--tls-certfile", type=Path, metavar="PATH", help="serve HTTPS: the certificate chain (PEM)")
    return p


def _cache_mode(args: argparse.Namespace) -> str:
    if args.cache_none:
        return "none"
    if args.cache_lru is not None:  # --cache-lru 0 behaves like classic (spec §12)
        return "lru" if args.cache_lru > 0 else "classic"
    if args.cache_ram is not None:
        return "ram"
    return "classic" if args.cache_classic else "budget"


def parse_config(argv: list[str], environ: dict[str, str] | None = None) -> ServerConfig:
    """Parse `diffloom serve` flags; the token may also come from the environment."""
    environ = os.environ if environ is None else environ
    args = _parser().parse_args(argv)
    if not 0 < args.port < 65536:
        raise SystemExit(f"--port must be between 1 and 65535, got {args.port}")
    if args.max_upload_size <= 0:
        raise SystemExit(f"--max-upload-size must be positive, got {args.max_upload_size}")
    if args.reserve_vram is not None and args.reserve_vram < 0:
        raise SystemExit(f"--reserve-vram must be at least 0, got {args.reserve_vram}")
    if (args.tls_keyfile is None) != (args.tls_certfile is None):
        raise SystemExit("--tls-keyfile and --tls-certfile go together: give both to serve HTTPS")
    temp = args.temp_directory / "temp" if args.temp_directory else None
    return ServerConfig(
        listen=[a.strip() for a in args.listen.split(",") if a.strip()],
        port=args.port,
        base_directory=(args.base_directory or Path.cwd()).resolve(),
        output_directory=args.output_directory, input_directory=args.input_directory,
        temp_directory=temp, user_directory=args.user_directory,
        extra_model_paths_config=[path for group in args.extra_model_paths_config for path in group],
        cpu=args.cpu, precision="fp32" if args.force_fp32 else "fp16" if args.force_fp16 else "auto",
        reserve_vram_gb=args.reserve_vram, cache_mode=_cache_mode(args), cache_lru_size=args.cache_lru or 0,
        cache_ram_gb=args.cache_ram if args.cache_ram is not None else 4.0,
        preview_method=args.preview_method, preview_size=args.preview_size,
        enable_cors_header=args.enable_cors_header, max_upload_size_mb=args.max_upload_size,
        disable_all_custom_nodes=args.disable_all_custom_nodes, whitelist_custom_nodes=args.whitelist_custom_nodes,
        auto_launch=args.auto_launch and not args.disable_auto_launch, verbose=args.verbose,
        auth_token=args.auth_token or environ.get(AUTH_TOKEN_ENV) or None, no_auth_token=args.no_auth_token,
        default_hashing_function=args.default_hashing_function, dont_print_server=args.dont_print_server,
        disable_metadata=args.disable_metadata, tls_keyfile=args.tls_keyfile, tls_certfile=args.tls_certfile)

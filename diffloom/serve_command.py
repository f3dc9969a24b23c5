"""`diffloom serve`: parse the flags, set up folders and nodes, and run the server until interrupted."""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import time

from diffloom.config import ServerConfig, parse_config

log = logging.getLogger("diffloom")


def configure_runtime(config: ServerConfig):
    """The runtime's one configuration, from the server flags: folders (created), device, precision, memory and the
    metadata switch. Returns the folders."""
    import runtime

    paths = runtime.Paths.create(config.base_directory, input_dir=config.input_directory,
                                 output_dir=config.output_directory, temp_dir=config.temp_directory,
                                 user_dir=config.user_directory, extra_model_paths=config.extra_model_paths_config)
    for directory in (paths.input_dir, paths.output_dir, paths.temp_dir, paths.user_dir):
        directory.mkdir(parents=True, exist_ok=True)
    memory = runtime.Memory() if config.reserve_vram_gb is None else runtime.Memory(
        reserve_bytes=int(config.reserve_vram_gb * 1024 ** 3))
    runtime.configure(paths=paths, devices="cpu" if config.cpu else None, precision=config.precision,
                      memory=memory, metadata=not config.disable_metadata)
    return paths


def _ensure_token(config: ServerConfig) -> None:
    """Beyond loopback, a server without a token is an open door: make one unless told not to."""
    if config.auth_token is None and not config.loopback_only and not config.no_auth_token:
        config.auth_token = secrets.token_urlsafe(24)
        print(f"diffloom: listening beyond loopback, so every request needs this token:\n  {config.auth_token}\n"
              "  (send 'Authorization: Bearer <token>' or open the URL below; --no-auth-token disables this)")


def _urls(config: ServerConfig) -> list[str]:
    query = f"/?token={config.auth_token}" if config.auth_token else "/"
    hosts = [("127.0.0.1" if h == "0.0.0.0" else "[::1]" if h == "::" else f"[{h}]" if ":" in h else h)
             for h in config.listen]
    scheme = "https" if config.tls_certfile else "http"
    return [f"{scheme}://{host}:{config.port}{query}" for host in dict.fromkeys(hosts)]


def _tls_context(config: ServerConfig):
    """The server's SSL context from --tls-certfile/--tls-keyfile, or None to serve plain HTTP."""
    if config.tls_certfile is None:
        return None
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(config.tls_certfile), str(config.tls_keyfile))
    except (OSError, ssl.SSLError) as exc:
        raise StartError(f"cannot use --tls-certfile {config.tls_certfile} with --tls-keyfile {config.tls_keyfile}: "
                         f"{exc}") from exc
    return context


class StartError(Exception):
    """The server cannot start; the message says why (printed without a traceback)."""


async def _run(config: ServerConfig, paths, started: float) -> None:
    from aiohttp import web

    from web.server.app import create_app
    from web.server.plugins import load_node_registry

    tls = _tls_context(config)
    registry = load_node_registry(config)
    app = create_app(config, registry, paths)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        for address in config.listen:
            await web.TCPSite(runner, address, config.port, ssl_context=tls).start()
    except OSError as exc:
        await runner.cleanup()
        raise StartError(f"cannot listen on {', '.join(config.listen)} port {config.port}: {exc}") from exc
    if not config.dont_print_server:
        print(f"diffloom: {len(registry.classes)} node classes, ready in {time.perf_counter() - started:.2f}s")
        for url in _urls(config):
            print(f"diffloom: serving on {url}", flush=True)
    if config.auto_launch:
        import webbrowser

        webbrowser.open(_urls(config)[0])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def serve(argv: list[str]) -> int:
    started = time.perf_counter()
    config = parse_config(argv)
    logging.basicConfig(level=config.verbose, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _ensure_token(config)
    import runtime
    from web.server.queue_store import QueueInUse

    try:
        paths = configure_runtime(config)
    except (OSError, ValueError) as exc:  # unreadable folders or a bad extra_model_paths.yaml
        print(f"diffloom serve: {exc}")
        return 1
    try:
        asyncio.run(_run(config, paths, started))
    except (QueueInUse, StartError) as exc:
        print(f"diffloom serve: {exc}")
        return 1
    finally:
        runtime.release()
    return 0

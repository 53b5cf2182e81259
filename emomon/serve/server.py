"""Running the app: :func:`run` (uvicorn, a graceful SIGTERM) and :func:`serve` (for the CLI).

SIGTERM (or Ctrl-C) first stops taking sessions and asks each open one to end: it gets its last
records, its last segment, its ``summary`` and an ``error`` ``server_shutdown``, then close code
1001, within ``shutdown_s``; then uvicorn stops. A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING, Any

from ..errors import EmomonError
from .options import ServeOptions

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger(__name__)

WS_MAX_BYTES = 1 << 20  # uvicorn refuses larger WebSocket messages itself (ours are 20-100 ms of audio)


def _check_installed() -> None:
    """Refuse, with one line, to run without the server's packages (the ``serve`` extra)."""
    missing = []
    for name in ("starlette", "uvicorn", "websockets", "multipart"):
        try:
            __import__(name)
        except ImportError:
            missing.append("python-multipart" if name == "multipart" else name)
    if missing:
        raise EmomonError("serve", f"needs {', '.join(missing)} (pip install 'emomon[serve]')")


def uvicorn_config(app: "Starlette", options: ServeOptions, **extra: Any) -> Any:
    """The uvicorn config of ``app`` under ``options``."""
    import uvicorn

    return uvicorn.Config(app, host=options.host, port=options.port, ws="auto", ws_max_size=WS_MAX_BYTES,
                          ws_ping_interval=options.ping_s, ws_ping_timeout=options.ping_s, lifespan="on",
                          log_level=extra.pop("log_level", "info"), timeout_graceful_shutdown=options.shutdown_s + 2, **extra)


def graceful_server(config: Any, state: Any = None) -> Any:
    """A uvicorn ``Server`` whose first SIGTERM/SIGINT drains the sessions before it stops."""
    import uvicorn

    class GracefulServer(uvicorn.Server):
        _loop: asyncio.AbstractEventLoop | None = None
        _draining = False

        async def serve(self, sockets: Any = None) -> None:
            self._loop = asyncio.get_running_loop()
            await super().serve(sockets)

        def handle_exit(self, sig: int, frame: Any) -> None:
            if self._draining or self._loop is None:
                self.should_exit = True
                self.force_exit = self._draining
                return
            self._draining = True
            log.info("stopping: ending the open sessions")
            self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._drain()))

        async def _drain(self) -> None:
            if state is not None and state.registry is not None:
                await state.registry.shutdown(state.options.shutdown_s)
            self.should_exit = True

    return GracefulServer(config)


def run(options: ServeOptions | None = None, *, app: "Starlette | None" = None, log_level: str = "info") -> None:
    """Load the model of ``options`` (``compute`` ``auto``: CUDA when present) and serve until
    SIGTERM/Ctrl-C. Expected errors (a bad model, a port in use) raise :class:`EmomonError`."""
    _check_installed()
    opts = options or ServeOptions()
    if app is None:
        from ..stream.api import open_model
        from .app import create_app

        model = open_model(opts.model, opts.compute, backend=opts.backend)
        app = create_app(model, opts, model_name=opts.model)
    server = graceful_server(uvicorn_config(app, opts, log_level=log_level), getattr(app.state, "emomon", None))
    if opts.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("listening on %s: reachable from other machines%s", opts.host, "" if opts.api_key else " without an API key")
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits when it cannot bind
        if exc.code not in (0, None):
            raise EmomonError(f"{opts.host}:{opts.port}", "could not listen (the port is in use, or the address is not this machine's)") from None


def serve(options: ServeOptions, log_level: str = "info") -> int:
    """:func:`run` for a command line: an expected error is one stderr line and exit code 1."""
    try:
        run(options, log_level=log_level)
    except EmomonError as exc:
        print(f"emomon: error: {exc.what}: {exc.why}", file=sys.stderr)
        return 1
    return 0

"""The ``emomon serve`` command: :func:`serve_cmd` (typer), registered by the CLI; ``main`` runs
it alone (``python -m emomon.serve``).

Only typer and :mod:`emomon.defaults` are imported here: the server's packages and the model load
when the command runs.
"""

from __future__ import annotations

import logging
import os
from typing import List, Optional

import typer

from .. import defaults

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx")


def serve_cmd(
    host: str = typer.Option(defaults.SERVE_HOST, "--host", help="Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface)."),
    port: int = typer.Option(defaults.SERVE_PORT, "--port", "-p", help="TCP port."),
    model: str = typer.Option("default", "--model", "-m", metavar="NAME|DIR", help="A shipped model name or a model directory."),
    backend: str = typer.Option("torch", "--backend", help="torch or onnx (onnxruntime, no torch)."),
    max_sessions: int = typer.Option(defaults.SERVE_MAX_SESSIONS, "--max-sessions", help="Concurrent streaming sessions; one more is answered 'busy'.", min=1),
    api_key: Optional[str] = typer.Option(None, "--api-key", metavar="KEY", help=f"Require this key on every route and the WebSocket (default: ${defaults.SERVE_API_KEY_ENV}; none: open)."),
    compute: str = typer.Option("auto", "--compute", help="auto (CUDA when present), cpu or cuda."),
    max_session_s: float = typer.Option(defaults.SERVE_MAX_SESSION_S, "--max-session-s", help="A streaming session's longest wall time, seconds."),
    idle_timeout_s: float = typer.Option(defaults.SERVE_IDLE_TIMEOUT_S, "--idle-timeout-s", help="A session with nothing from its client this long ends."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn's log level (info, warning, ...)."),
) -> None:
    """Serve the monitor over HTTP and WebSocket: /v1/stream, /v1/analyze, /v1/models, /v1/health and a web page at /."""
    from ..errors import EmomonError
    from .options import ServeOptions, api_key_from
    from .server import serve

    try:
        if backend not in BACKENDS:
            raise EmomonError("--backend", f"must be torch or onnx (got {backend!r})")
        options = ServeOptions(host=host, port=port, model=model, backend=backend, compute=compute, max_sessions=max_sessions,
                               api_key=api_key_from(api_key), max_session_s=max_session_s, idle_timeout_s=idle_timeout_s)
    except EmomonError as exc:
        typer.echo(f"emomon: error: {exc.what}: {exc.why}", err=True)
        raise typer.Exit(2) from None
    rc = serve(options, log_level=log_level)
    if rc:
        raise typer.Exit(rc)


def main(argv: Optional[List[str]] = None) -> int:
    """Run :func:`serve_cmd` as a program of its own; returns the exit code."""
    logging.basicConfig(level=logging.DEBUG if os.environ.get("EMOMON_DEBUG") else logging.INFO,
                        format="emomon: %(levelname)s: %(message)s")
    app = typer.Typer(add_completion=False)
    app.command()(serve_cmd)
    try:
        app(args=argv, prog_name="emomon serve", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0

"""The routes of ``emomon serve`` (a Starlette app): :func:`create_app`.

* ``GET /`` — the web page (microphone → live distribution and segment timeline);
* ``GET /v1/health`` — ``{"status": "ok", ...}`` with the open sessions;
* ``GET /v1/models`` — the model's labels, sample rate, window, hop and colours;
* ``POST /v1/analyze`` — an uploaded file → the JSON of ``emomon file`` (``?segments=true``
  keeps its segments);
* ``WS /v1/stream`` — the stream protocol (:mod:`emomon.serve.protocol`).

With an API key every one of them needs it (``Authorization: Bearer KEY`` or ``?token=KEY``):
HTTP answers 401 with ``{"type": "error", "code": "unauthorized", ...}``, the WebSocket the same
error and close code 1008, before anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from importlib import resources
from typing import TYPE_CHECKING, Any, AsyncIterator

from ..version import __version__
from ..errors import EmomonError
from .auth import authorized
from .options import ServeOptions
from .protocol import PROTOCOL_VERSION
from .state import ServerState

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.websockets import WebSocket

    from ..models.base import EmotionModel
    from ..stream.monitor import MonitorConfig

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str) -> "Response":
    from starlette.responses import JSONResponse

    return JSONResponse({"type": "error", "code": code, "message": message}, status_code=status)


def _guard(state: ServerState, request: "Request") -> "Response | None":
    """A 401 response when the request lacks the key, else ``None``."""
    why = authorized(state.options.api_key, request.headers, request.query_params)
    return None if why is None else error_response(401, "unauthorized", why)


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def _routes(state: ServerState, started: float) -> list[Any]:
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route, WebSocketRoute

    async def page(request: "Request") -> "Response":
        if (refused := _guard(state, request)) is not None:
            return refused
        html = resources.files("emomon.serve").joinpath("static/index.html").read_text(encoding="utf-8")
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def health(request: "Request") -> "Response":
        if (refused := _guard(state, request)) is not None:
            return refused
        reg = state.registry
        return JSONResponse({"status": "ok", "version": __version__, "protocol": PROTOCOL_VERSION, "model": state.model_name,
                             "sessions": reg.active if reg else 0, "max_sessions": state.options.max_sessions,
                             "uptime_s": round(time.monotonic() - started, 1), "draining": bool(reg and reg.draining),
                             "model_failures": state.hub.failures if state.hub else 0})

    async def models(request: "Request") -> "Response":
        if (refused := _guard(state, request)) is not None:
            return refused
        return JSONResponse({"protocol": PROTOCOL_VERSION, "models": [state.model_info()]})

    async def analyze(request: "Request") -> "Response":
        if (refused := _guard(state, request)) is not None:
            return refused
        return await _analyze(state, request)

    async def stream(ws: "WebSocket") -> None:
        from .stream import handle_stream

        await handle_stream(ws, state)

    return [Route("/", page), Route("/v1/health", health), Route("/v1/models", models),
            Route("/v1/analyze", analyze, methods=["POST"]), WebSocketRoute("/v1/stream", stream)]


async def _analyze(state: ServerState, request: "Request") -> "Response":
    """``POST /v1/analyze``: the upload to disk (bounded), analysed in a worker thread."""
    from starlette.responses import JSONResponse

    from ..features.vad import VadOptions
    from ..timeline.analyze import FileOptions
    from .upload import BadUpload, UploadTooLarge, analyze_upload, receive_upload

    vad = request.query_params.get("vad")
    try:
        options = FileOptions(vad=VadOptions(method=vad) if vad else state.config.vad, min_confidence=state.config.min_confidence)
    except EmomonError as exc:
        return error_response(400, "bad_request", f"{exc.what.lstrip('-')}: {exc.why}")
    try:
        path, name = await receive_upload(request, state.options.max_upload_bytes)
    except UploadTooLarge as exc:
        return error_response(413, "too_large", str(exc))
    except BadUpload as exc:
        return error_response(400, "bad_request", str(exc))
    except Exception as exc:  # noqa: BLE001 - a broken multipart body, a client gone
        return error_response(400, "bad_request", f"could not read the upload ({type(exc).__name__}: {exc})")
    try:
        assert state.analyses is not None
        async with state.analyses:
            status, body = await asyncio.to_thread(analyze_upload, path, name, state.model, options,
                                                   _flag(request.query_params.get("segments")))
    finally:
        path.unlink(missing_ok=True)
    return JSONResponse(body, status_code=status)


def create_app(model: "EmotionModel", options: ServeOptions | None = None, *, model_name: str | None = None,
               config: "MonitorConfig | None" = None) -> "Starlette":
    """The server as an ASGI app over a loaded ``model`` (every session shares it, and one
    inference worker); ``config``: the streams' default settings (``None``: the defaults)."""
    from starlette.applications import Starlette

    from ..stream.monitor import MonitorConfig

    opts = options or ServeOptions()
    state = ServerState(model=model, options=opts, model_name=model_name or opts.model, config=config or MonitorConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: "Starlette") -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            if state.registry is not None:
                await state.registry.shutdown(opts.shutdown_s)
            state.stop()

    app = Starlette(routes=_routes(state, time.monotonic()), lifespan=lifespan)
    app.state.emomon = state
    return app

"""``WS /v1/stream``: one connection's side of the stream protocol (:mod:`emomon.serve.protocol`).

The key is checked first, then the config, then a session slot: nothing of the client's audio
is taken before all three pass. Then the connection has two halves: this coroutine reads the
client's frames (audio into the session's :class:`~emomon.stream.sources.PushSource`, control
messages) and watches the limits on a short tick; a sender task drains the session's bounded
queue to the client. A clean end (the client's ``close``, or a soft stop: the server shutting
down, the session's time up, an idle client) ends the stream, waits for its last records, and
sends the last segment, the ``summary`` (and the ``error`` for a soft stop) before the close
code. A hard failure (garbage, an oversized frame, a client that does not read, the model
failing) is an ``error`` and its close code at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EmomonError
from ..features.vad import VadOptions
from ..records import dumps
from .auth import authorized
from .protocol import (ENCODINGS, NORMAL, Busy, Error, Flushed, Keepalive, ProtocolError, Ready, StreamConfig,
                       parse_config, parse_control)
from .sessions import END, Session

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

    from ..stream.monitor import MonitorConfig
    from ..stream.sources import PushSource
    from .state import ServerState

log = logging.getLogger(__name__)

TICK_S = 0.1
END_WAIT_S = 10.0  # how long a closing session waits for its last records
SEND_WAIT_S = 2.0  # how long the last messages may take to go out


async def send_now(ws: "WebSocket", msg: Any) -> None:
    """Send one message (a dict or a protocol message) as JSON text."""
    await ws.send_text(dumps(msg if isinstance(msg, dict) else msg.to_dict()))


async def refuse(ws: "WebSocket", error: Error) -> None:
    """Send ``error`` and close with its code (the connection may already be gone)."""
    try:
        await asyncio.wait_for(send_now(ws, error), SEND_WAIT_S)
        await asyncio.wait_for(ws.close(error.close_code, error.code), SEND_WAIT_S)
    except Exception:  # noqa: BLE001 - the client went away meanwhile
        log.debug("could not deliver %s", error.code, exc_info=True)


def stream_config(state: "ServerState", cfg: StreamConfig) -> "MonitorConfig | None":
    """The stream's monitor settings: the server's with the client's window/hop/vad/smoothing/
    adapt (``None``: the server's as they are); :class:`ProtocolError` ``bad_config`` when they
    do not fit the model."""
    changes: dict[str, Any] = {k: v for k, v in (("window", cfg.window), ("hop", cfg.hop), ("smoothing", cfg.smoothing),
                                                 ("adapt", cfg.adapt)) if v is not None}
    if cfg.vad is not None:
        changes["vad"] = replace(state.config.vad, method=cfg.vad) if isinstance(state.config.vad, VadOptions) else VadOptions(method=cfg.vad)
    if not changes:
        return None
    if cfg.window is not None and round(cfg.window * state.model.sample_rate) < state.model.input_needs.min_samples:
        raise ProtocolError("bad_config", f"window {cfg.window:g} s is shorter than the model takes")
    try:
        return replace(state.config, **changes).resolved(state.model)
    except EmomonError as exc:
        raise ProtocolError("bad_config", f"{exc.what.lstrip('-')} {exc.why}") from None


async def first_config(ws: "WebSocket", timeout: float) -> StreamConfig:
    """The client's config message (``bad_config`` for anything else, ``idle_timeout`` when none comes)."""
    try:
        msg = await asyncio.wait_for(ws.receive(), timeout)
    except asyncio.TimeoutError:
        raise ProtocolError("idle_timeout", f"no config within {timeout:g} s") from None
    if msg["type"] == "websocket.disconnect":
        raise ConnectionError("the client went away")
    if msg.get("text") is None:
        raise ProtocolError("bad_config", "the first message must be a JSON config (text), not audio")
    return parse_config(msg["text"])


async def handle_stream(ws: "WebSocket", state: "ServerState") -> None:
    """The whole life of one ``/v1/stream`` connection."""
    assert state.registry is not None and state.hub is not None
    await ws.accept()
    why = authorized(state.options.api_key, ws.headers, ws.query_params)
    if why is not None:
        await refuse(ws, Error("unauthorized", why))
        return
    try:
        cfg = await first_config(ws, state.options.idle_timeout_s)
        own = stream_config(state, cfg)
        profile = _profile(state, cfg.profile)
    except ProtocolError as exc:
        await refuse(ws, exc.to_message())
        return
    except ConnectionError:
        return
    sid = state.registry.reserve()
    if sid is None:
        try:
            await send_now(ws, Busy(state.options.retry_after_s))
            await ws.close(Error("busy", "").close_code, "busy")
        except Exception:  # noqa: BLE001
            pass
        return
    try:
        await _run_session(ws, state, sid, cfg, own, profile)
    finally:
        state.registry.release(sid)


def _profile(state: "ServerState", name: str | None) -> Any:
    """The speaker profile a stream starts from (read, never written by the server)."""
    if name is None:
        return None
    from ..stream.api import open_profile

    try:
        return open_profile(name, state.model)
    except EmomonError as exc:
        raise ProtocolError("bad_config", f"profile {name}: {exc.why}") from None


async def _run_session(ws: "WebSocket", state: "ServerState", sid: str, cfg: StreamConfig,
                       own: "MonitorConfig | None", profile: Any) -> None:
    """Open the stream on the hub, say ``ready``, run the connection, and clean up."""
    assert state.hub is not None and state.registry is not None
    conf = own or state.config
    session = Session(sid, asyncio.get_running_loop(), state.model.labels, float(conf.hop or 0.5), state.options.out_queue,
                      conf.min_confidence)
    try:
        src = await asyncio.to_thread(state.hub.open_stream, sid, cfg.sample_rate, session, own, profile, state.options.ring_s)
    except EmomonError as exc:
        await refuse(ws, Error("bad_config", f"{exc.what}: {exc.why}"))
        return
    state.registry.attach(session)
    opts = state.options
    max_frame = max(1, int(opts.max_frame_s * cfg.sample_rate)) * cfg.sample_bytes
    limits = {"max_frame_bytes": max_frame, "max_session_s": opts.max_session_s, "idle_timeout_s": opts.idle_timeout_s,
              "ring_s": opts.ring_s}
    await send_now(ws, Ready(sid, list(state.model.labels), state.model.sample_rate, float(conf.window or 0), float(conf.hop or 0),
                             cfg.encoding, limits))
    log.info("session %s opened (%d Hz %s)", sid, cfg.sample_rate, cfg.encoding)
    sender = asyncio.ensure_future(_sender(ws, session))
    conn = _Connection(ws, state, session, src, cfg, max_frame)
    conn.sender = sender
    try:
        await conn.run()
    finally:
        state.hub.drop_stream(sid)
        if not sender.done():
            sender.cancel()
        log.info("session %s closed (%s)", sid, conn.outcome)


async def _sender(ws: "WebSocket", session: Session) -> None:
    """Drain the session's queue to the client until :data:`END`."""
    while True:
        msg = await session.queue.get()
        if msg is END:
            return
        await send_now(ws, msg)


class _Connection:
    """The reading half of a session and its limits."""

    def __init__(self, ws: "WebSocket", state: "ServerState", session: Session, src: "PushSource", cfg: StreamConfig,
                 max_frame: int) -> None:
        self.ws, self.state, self.session, self.src, self.cfg, self.max_frame = ws, state, session, src, cfg, max_frame
        self.dtype = np.dtype("<i2") if cfg.encoding == "pcm_s16le" else np.dtype("<f4")
        self.outcome = "running"
        self.flushing: asyncio.Task | None = None
        self.sender: asyncio.Future | None = None

    async def run(self) -> None:
        """Read frames until the client closes, goes away, or a limit or failure ends it."""
        recv: asyncio.Future | None = None
        try:
            while True:
                if recv is None:
                    recv = asyncio.ensure_future(self.ws.receive())
                done, _ = await asyncio.wait({recv}, timeout=TICK_S)
                if recv in done:
                    msg, recv = recv.result(), None
                    if msg["type"] == "websocket.disconnect":
                        self.outcome = "client went away"
                        return
                    if await self._message(msg):
                        await self._finish(None)
                        return
                if await self._limits():
                    return
        except ProtocolError as exc:
            self.outcome = exc.code
            await self._fail(exc.to_message())
        except (ConnectionError, RuntimeError) as exc:  # the socket closed under us
            self.outcome = f"connection lost ({exc})"
        finally:
            if recv is not None and not recv.done():
                recv.cancel()
            if self.flushing is not None and not self.flushing.done():
                self.flushing.cancel()

    async def _message(self, msg: dict) -> bool:
        """Handle one client message; True when it asks to close."""
        self.session.last_heard = time.monotonic()
        data = msg.get("bytes")
        if data is not None:
            self._audio(data)
            return False
        kind = parse_control(msg.get("text") or "")
        if kind == "keepalive":
            self.session.put(Keepalive())
        elif kind == "flush":
            if self.flushing is None or self.flushing.done():
                self.flushing = asyncio.ensure_future(self._flush())
        return kind == "close"

    def _audio(self, data: bytes) -> None:
        if len(data) > self.max_frame:
            raise ProtocolError("frame_too_large", f"an audio frame of {len(data)} bytes is over the limit of {self.max_frame} "
                                                   f"({self.state.options.max_frame_s * 1000:.0f} ms; send 20-100 ms frames)")
        if len(data) % ENCODINGS[self.cfg.encoding]:
            raise ProtocolError("bad_audio", f"{len(data)} bytes is not a whole number of {self.cfg.encoding} samples")
        samples = np.frombuffer(data, dtype=self.dtype)
        x = samples.astype(np.float32) / 32768.0 if self.dtype.kind == "i" else samples.astype(np.float32)
        self.session.seconds += len(x) / self.cfg.sample_rate
        self.src.push(x)

    async def _flush(self) -> None:
        """Wait until everything received so far has its records, close the open segment, say ``flushed``."""
        hub, s = self.state.hub, self.session
        assert hub is not None
        deadline = time.monotonic() + END_WAIT_S
        while time.monotonic() < deadline:
            if hub.outstanding(s.id) == 0 and s.records >= self.state.hub.monitor.stats(s.id).windows:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.02)
        seg = s.tracker.close()
        if seg is not None:
            s.put(seg)
        s.put(Flushed(s.last_t))

    async def _limits(self) -> bool:
        """Check the limits and outside stops; True when the session is over."""
        s, opts, now = self.session, self.state.options, time.monotonic()
        if s.problem is not None:
            self.outcome = s.problem.code
            await self._fail(s.problem)
            return True
        soft: Error | None = None
        if s.stop_reason == "server_shutdown":
            soft = Error("server_shutdown", "the server is shutting down")
        elif now - s.started > opts.max_session_s:
            soft = Error("session_too_long", f"the session reached its limit of {opts.max_session_s:g} s")
        elif now - s.last_heard > opts.idle_timeout_s:
            soft = Error("idle_timeout", f"nothing from the client in {opts.idle_timeout_s:g} s")
        if soft is None:
            return False
        await self._finish(soft)
        return True

    async def _finish(self, error: Error | None) -> None:
        """End the stream cleanly: its last records, the last segment, the summary, then the
        error (for a soft stop) and the close code."""
        s = self.session
        assert self.state.hub is not None
        self.state.hub.end_stream(s.id)
        try:
            await asyncio.wait_for(s.ended.wait(), END_WAIT_S)
        except asyncio.TimeoutError:
            log.warning("session %s: its last records did not come within %.0f s", s.id, END_WAIT_S)
        if s.problem is not None and s.problem.code != "slow_client":
            error = error or s.problem
        seg = s.tracker.close()
        if seg is not None:
            s.put(seg)
        s.put(s.summary(completed=error is None, stopped_by=error.code if error else None,
                        error=error.message if error else None))
        if error is not None:
            s.put(error)
        s.put(END)
        self.outcome = error.code if error else "completed"
        await self._drain_and_close(error.close_code if error else NORMAL, error.code if error else "done")

    async def _drain_and_close(self, code: int, reason: str) -> None:
        s = self.session
        deadline = time.monotonic() + SEND_WAIT_S
        while not s.queue.empty() and time.monotonic() < deadline and s.problem is None:
            await asyncio.sleep(0.01)
        try:
            await asyncio.wait_for(self.ws.close(code, reason), SEND_WAIT_S)
        except Exception:  # noqa: BLE001 - already closed
            log.debug("session %s: close failed", s.id, exc_info=True)

    async def _fail(self, error: Error) -> None:
        """A hard failure: the error and its close code now (queued messages are abandoned)."""
        self.state.hub.drop_stream(self.session.id)  # type: ignore[union-attr]
        if self.sender is not None:
            self.sender.cancel()
        await refuse(self.ws, error)

"""Streaming sessions: each one's outgoing messages, and the registry that bounds how many run.

A :class:`Session` is the hub's :class:`~emomon.serve.hub.Listener` for one WebSocket: records
arrive on the hub's thread and are handed to the event loop, where they become protocol
messages (a ``warning`` first when the stream dropped audio, the ``window``, a ``segment`` when
a stretch of speech ended) on a bounded queue that the connection's sender drains. A client
that lets :attr:`Session.queue` fill up is not reading: the session is marked ``slow_client``.

:class:`SessionRegistry` holds the open sessions: at most ``max_sessions`` (a slot is reserved
before any audio is accepted), and on shutdown asks each to stop.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
import uuid
from typing import Any, Sequence

from ..records import WindowRecord
from ..stream.monitor import MonitorStats
from .protocol import Error, Summary, Warning  # noqa: A004 - the protocol's message type
from .segments import SegmentTracker

log = logging.getLogger(__name__)

END = object()  # put on a session's queue: the sender stops after it


class Session:
    """One stream's state on the event loop (fed from the hub's thread)."""

    def __init__(self, sid: str, loop: asyncio.AbstractEventLoop, labels: Sequence[str], hop: float,
                 out_queue: int, min_confidence: float | None = None) -> None:
        self.id = sid
        self.loop = loop
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=out_queue)
        self.tracker = SegmentTracker(labels, hop, sid, min_confidence)
        self.started = time.monotonic()
        self.last_heard = self.started  # the client's last message
        self.records = 0  # window records delivered to this session
        self.last_t = 0.0
        self.latencies: list[float] = []
        self.dropped_reported = 0.0
        self.ended = asyncio.Event()  # the hub says the stream is over
        self.stats: MonitorStats | None = None
        self.problem: Error | None = None  # a hard failure (slow client, model failure): close at once
        self.stop_reason: str | None = None  # a soft stop asked from outside (server shutdown)
        self.seconds = 0.0  # audio received

    # -- the hub's thread ------------------------------------------------------------------------
    def on_record(self, rec: WindowRecord) -> None:
        self._call(self._record, rec)

    def on_end(self, stats: MonitorStats) -> None:
        self._call(self._end, stats)

    def on_failure(self, message: str) -> None:
        self._call(self._fail, Error("stream_failed", f"the model failed: {message}"))

    def _call(self, fn: Any, arg: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(fn, arg)
        except RuntimeError:  # the loop is closed: the server is gone
            pass

    # -- the event loop ----------------------------------------------------------------------------
    def put(self, msg: Any) -> bool:
        """Queue a message (a dict or a protocol message) for the client; False (and the
        session marked ``slow_client``) when the queue is full."""
        try:
            self.queue.put_nowait(msg)
            return True
        except asyncio.QueueFull:
            if self.problem is None:
                log.warning("session %s: %d messages waiting; the client is not reading", self.id, self.queue.maxsize)
                self.problem = Error("slow_client", f"more than {self.queue.maxsize} messages were waiting: the client is not reading")
            return False

    def _record(self, rec: WindowRecord) -> None:
        self.records += 1
        self.last_t = rec.t
        if rec.latency_ms is not None:
            self.latencies.append(rec.latency_ms)
        if rec.dropped_s > self.dropped_reported + 1e-6:
            new = rec.dropped_s - self.dropped_reported
            self.dropped_reported = rec.dropped_s
            self.put(Warning("dropped", f"{new:.2f} s of audio dropped (the stream fell behind or came faster than real time)",
                             rec.dropped_s, new))
        self.put(rec.to_dict())
        seg = self.tracker.push(rec)
        if seg is not None:
            self.put(seg)

    def _end(self, stats: MonitorStats) -> None:
        self.stats = stats
        self.ended.set()

    def _fail(self, error: Error) -> None:
        self.problem = self.problem or error
        self.ended.set()

    def summary(self, completed: bool, stopped_by: str | None = None, error: str | None = None) -> Summary:
        st = self.stats or MonitorStats()
        return Summary(session=self.id, seconds=self.seconds, windows=st.windows, speech_windows=st.speech_windows,
                       dropped_s=st.dropped_seconds, gaps=st.gaps,
                       latency_median_ms=statistics.median(self.latencies) if self.latencies else None,
                       completed=completed, stopped_by=stopped_by, error=error)


class SessionRegistry:
    """The open sessions, at most ``max_sessions``."""

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self._slots: dict[str, Session | None] = {}
        self.draining = False
        self.opened = 0  # sessions opened since the start
        self.refused = 0  # answered busy

    def reserve(self) -> str | None:
        """A new session id holding a slot, or ``None`` when every slot is taken (or the server
        is shutting down)."""
        if self.draining or len(self._slots) >= self.max_sessions:
            self.refused += 1
            return None
        sid = "s-" + uuid.uuid4().hex[:12]
        self._slots[sid] = None
        self.opened += 1
        return sid

    def attach(self, session: Session) -> None:
        self._slots[session.id] = session

    def release(self, sid: str) -> None:
        self._slots.pop(sid, None)

    @property
    def active(self) -> int:
        return len(self._slots)

    def sessions(self) -> list[Session]:
        return [s for s in self._slots.values() if s is not None]

    async def shutdown(self, timeout: float) -> None:
        """Refuse new sessions, ask every open one to stop (it gets its last records, its
        summary and an error ``server_shutdown``), and wait up to ``timeout`` for them to close."""
        self.draining = True
        for s in self.sessions():
            s.stop_reason = s.stop_reason or "server_shutdown"
        deadline = time.monotonic() + timeout
        while self._slots and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._slots:
            log.warning("%d session(s) still open after %.1f s of shutdown", len(self._slots), timeout)

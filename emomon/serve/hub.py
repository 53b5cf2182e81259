"""The bridge between the sessions and the one shared :class:`~emomon.stream.Monitor`.

One persistent monitor (one inference worker, batching the windows of every session) runs in a
thread of its own; each session is a :class:`~emomon.stream.sources.PushSource` added to it.
Its records are handed to the session's :class:`Listener` (from the hub's thread: a listener
hands them on to its event loop), and so is the end of its stream, with the stream's figures.
When the model fails, every open stream is told and the hub starts a fresh monitor.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Protocol

from ..errors import EmomonError
from ..records import WindowRecord
from ..stream.monitor import Monitor, MonitorConfig, MonitorStats
from ..stream.sources import PushSource

if TYPE_CHECKING:
    from ..models.base import EmotionModel
    from ..profiles import Profile

log = logging.getLogger(__name__)


class Listener(Protocol):
    """What a session gets from the hub (called on the hub's thread)."""

    def on_record(self, rec: WindowRecord) -> None: ...

    def on_end(self, stats: MonitorStats) -> None: ...

    def on_failure(self, message: str) -> None: ...


class Hub:
    """One monitor for all sessions: :meth:`open_stream`, :meth:`end_stream`, :meth:`close`."""

    def __init__(self, model: "EmotionModel", config: MonitorConfig | None = None) -> None:
        self.model = model
        self.config = config or MonitorConfig()
        self._listeners: dict[str, Listener] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._monitor = self._new_monitor()
        self._thread: threading.Thread | None = None
        self.failures = 0

    @property
    def monitor(self) -> Monitor:
        return self._monitor

    def _new_monitor(self) -> Monitor:
        m = Monitor(self.model, [], self.config, persistent=True, on_source_error=self._source_error)
        m.on_stream_end = self._stream_end
        return m

    def start(self) -> "Hub":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="emomon-serve-hub", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        """The hub's thread: the monitor's records to their sessions; a failed model fails
        every open stream and a new monitor takes over."""
        while not self._closing.is_set():
            monitor = self._monitor
            try:
                for rec in monitor.records():
                    listener = self._listeners.get(rec.stream)
                    if listener is not None:
                        listener.on_record(rec)
                return
            except Exception as exc:  # noqa: BLE001 - the model (or a source) failed: tell the sessions
                self.failures += 1
                why = str(exc) if isinstance(exc, EmomonError) else f"{type(exc).__name__}: {exc}"
                log.error("the shared monitor failed (%s); ending its streams and starting a new one", why)
                with self._lock:
                    listeners, self._listeners = dict(self._listeners), {}
                    self._monitor = self._new_monitor()
                for listener in listeners.values():
                    listener.on_failure(why)
                time.sleep(0.1)

    def open_stream(self, name: str, sample_rate: int, listener: Listener, config: MonitorConfig | None = None,
                    profile: "Profile | None" = None, ring_s: float = 10.0) -> PushSource:
        """Add stream ``name`` (audio at ``sample_rate``) with its own settings; its records go
        to ``listener``. Bad settings raise :class:`EmomonError`."""
        src = PushSource(sample_rate, name, ring_seconds=ring_s)
        with self._lock:
            self._listeners[name] = listener
            try:
                self._monitor.add_source(src, config, profile)
            except Exception:
                self._listeners.pop(name, None)
                raise
        return src

    def end_stream(self, name: str) -> None:
        """No more audio for ``name``: its last windows are flushed, then ``on_end`` comes."""
        self._monitor.end_source(name)

    def drop_stream(self, name: str) -> None:
        """Forget ``name`` (its client went away): it ends, and nothing more is delivered."""
        with self._lock:
            self._listeners.pop(name, None)
        self._monitor.end_source(name)

    def outstanding(self, name: str) -> int:
        """Samples and windows of ``name`` not yet turned into records."""
        return self._monitor.outstanding(name)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the monitor and its worker."""
        self._closing.set()
        self._monitor.stop()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- from the monitor's thread ---------------------------------------------------------------
    def _stream_end(self, name: str) -> None:
        stats = self._monitor.stats(name)
        with self._lock:
            listener = self._listeners.pop(name, None)
        if listener is not None:
            listener.on_end(stats)

    def _source_error(self, exc: EmomonError) -> None:
        log.warning("stream %s failed: %s", exc.what, exc.why)

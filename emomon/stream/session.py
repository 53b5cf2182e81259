"""A live session: a :class:`~emomon.stream.Monitor` run to its end into sinks.

A sink gets the session's :class:`~emomon.records.SessionInfo` first, then every
:class:`~emomon.records.WindowRecord`, then the :class:`~emomon.records.SessionSummary`; it needs
nothing else (the dropped-audio figure, latency and speech fraction travel in the records).
Ctrl-C and SIGTERM end a session cleanly: every sink is closed (logs flushed, the plot drawn) and
the summary says it was stopped.
"""

from __future__ import annotations

import logging
import signal
import statistics
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator, Protocol, Sequence

from ..errors import EmomonError
from ..records import SessionInfo, SessionSummary, WindowRecord
from .monitor import Monitor

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where window records go: a log file, stdout, the live screen, a plot."""

    def open(self, info: SessionInfo) -> None: ...

    def write(self, rec: WindowRecord) -> None: ...

    def close(self, summary: SessionSummary) -> None: ...


class Terminated(Exception):
    """Raised in the main thread by SIGTERM while a session runs."""


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    """While a session runs in the main thread, SIGTERM ends it like Ctrl-C (sinks closed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def session_info(monitor: Monitor, model: str) -> SessionInfo:
    """The header record of a session over ``monitor`` (``model``: the name the user gave); its
    settings say whether the streams adapt to the speaker (``adapt``) and from which ``profile``."""
    from .. import __version__

    settings = {**monitor.config.to_dict(), "profile": monitor.profile.name if monitor.profile is not None else None}
    return SessionInfo(start=datetime.now(timezone.utc), model=model, settings=settings,
                       streams=monitor.streams, version=__version__)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def run_session(monitor: Monitor, sinks: Sequence[Sink], model: str) -> SessionSummary:
    """Drive ``monitor`` to its end (or Ctrl-C/SIGTERM) into ``sinks``; returns the summary.

    A source, model or sink error (a log that cannot be written) is raised after every sink is
    closed; so is an expected error (:class:`~emomon.errors.EmomonError`) of a sink's ``close``.
    """
    info = session_info(monitor, model)
    opened: list[Sink] = []
    latencies: list[float] = []
    computes: list[float] = []
    completed = False
    gen = monitor.records()
    try:
        for sink in sinks:
            sink.open(info)
            opened.append(sink)
        with _sigterm_stops():
            try:
                for rec in gen:
                    if rec.latency_ms is not None:
                        latencies.append(rec.latency_ms)
                    if rec.compute_ms is not None:
                        computes.append(rec.compute_ms)
                    for sink in opened:
                        sink.write(rec)
                completed = True
            except (KeyboardInterrupt, Terminated):
                monitor.stop()
    finally:
        gen.close()  # stops the sources and the worker
        stats = monitor.stats() if monitor.started_at is not None else None
        summary = SessionSummary(
            end=datetime.now(timezone.utc),
            windows=stats.windows if stats else 0,
            speech_windows=stats.speech_windows if stats else 0,
            dropped_s=stats.dropped_seconds if stats else 0.0,
            latency_median_ms=_median(latencies),
            compute_median_ms=_median(computes),
            completed=completed,
        )
        failed = _close_all(opened, summary)
    if failed is not None:  # the session itself ended well: the sink's error is the one to tell
        raise failed
    return summary


def _close_all(sinks: Sequence[Sink], summary: SessionSummary) -> EmomonError | None:
    """Close every sink (one failing must not keep the others open); returns the first expected
    error (a log that cannot be written), other failures are logged."""
    first: EmomonError | None = None
    for sink in sinks:
        try:
            sink.close(summary)
        except EmomonError as exc:
            log.debug("closing %s failed: %s", type(sink).__name__, exc)
            first = first or exc
        except Exception:  # noqa: BLE001
            log.warning("closing %s failed", type(sink).__name__, exc_info=True)
    return first


def summary_line(summary: SessionSummary) -> str:
    """The one-line report printed on stderr at the end of a session."""
    parts = [f"{summary.windows} windows ({summary.speech_windows} with speech)"]
    if summary.latency_median_ms is not None:
        parts.append(f"latency median {summary.latency_median_ms:.0f} ms")
    if summary.compute_median_ms is not None:
        parts.append(f"model compute median {summary.compute_median_ms:.0f} ms per window")
    parts.append(f"dropped {summary.dropped_s:.2f} s of audio")
    return "emomon: " + ", ".join(parts) + ("" if summary.completed else " (stopped)")

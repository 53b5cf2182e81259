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

from ..errors import EmomonError, Terminated
from ..records import SessionInfo, SessionSummary, StreamSummary, WindowRecord
from .monitor import Monitor

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where window records go: a log file, stdout, the live screen, a plot."""

    def open(self, info: SessionInfo) -> None: ...

    def write(self, rec: WindowRecord) -> None: ...

    def close(self, summary: SessionSummary) -> None: ...


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    """While a session runs in the main thread, SIGTERM raises :class:`Terminated` there (it ends
    the session like Ctrl-C: sinks closed, summary written)."""
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
    from ..version import __version__

    settings = {**monitor.config.to_dict(), "profile": monitor.profile.name if monitor.profile is not None else None}
    return SessionInfo(start=datetime.now(timezone.utc), model=model, settings=settings,
                       streams=monitor.streams, version=__version__)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def run_session(monitor: Monitor, sinks: Sequence[Sink], model: str) -> SessionSummary:
    """Drive ``monitor`` to its end (or Ctrl-C/SIGTERM) into ``sinks``; returns the summary.

    Ctrl-C and SIGTERM stop the session: the sources are stopped (never waiting on the audio
    library for more than ``defaults.STOP_TIMEOUT_S``), every sink closed, the summary returned.
    A source, model or sink error (a device that stalled, a log that cannot be written) is
    raised after every sink is closed with a summary that names it; so is an expected error
    (:class:`~emomon.errors.EmomonError`) of a sink's ``close``.
    """
    info = session_info(monitor, model)
    opened: list[Sink] = []
    timing: dict[str, list[float]] = {"latency": [], "compute": []}
    outcome: dict[str, str | None] = {"stopped_by": "error", "error": None}
    gen = monitor.records()
    with _sigterm_stops():
        try:
            for sink in sinks:
                sink.open(info)
                opened.append(sink)
            _drive(gen, opened, timing, outcome, monitor)
        except EmomonError as exc:
            outcome["error"] = str(exc)
            raise
        except Exception as exc:  # an internal error: the CLI reports it, the log says it too
            outcome["error"] = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            gen.close()  # stops the sources (bounded) and the worker
            summary = _summary(monitor, timing, outcome)
            failed = _close_all(opened, summary)
    if failed is not None:  # the session itself ended well: the sink's error is the one to tell
        raise failed
    return summary


def _drive(gen: Iterator[WindowRecord], sinks: Sequence[Sink], timing: dict[str, list[float]],
           outcome: dict[str, str | None], monitor: Monitor) -> None:
    """Write every record of ``gen`` to ``sinks`` until it ends or Ctrl-C/SIGTERM stops it;
    ``outcome["stopped_by"]`` becomes ``None`` (ran to its end), ``"interrupt"`` or ``"terminate"``."""
    try:
        for rec in gen:
            if rec.latency_ms is not None:
                timing["latency"].append(rec.latency_ms)
            if rec.compute_ms is not None:
                timing["compute"].append(rec.compute_ms)
            for sink in sinks:
                sink.write(rec)
        outcome["stopped_by"] = None
    except KeyboardInterrupt:
        outcome["stopped_by"] = "interrupt"
        monitor.stop()
    except Terminated:
        outcome["stopped_by"] = "terminate"
        monitor.stop()


def _stream_summaries(monitor: Monitor) -> tuple[StreamSummary, ...]:
    """Each stream's figures, in the monitor's order (a live device's status flags included)."""
    out = []
    for src in monitor.sources:
        stats = monitor.stats(src.name)
        flags = src.stats if isinstance(getattr(src, "stats", None), dict) else None
        out.append(StreamSummary(
            stream=src.name, windows=stats.windows, speech_windows=stats.speech_windows,
            dropped_s=stats.dropped_seconds, gaps=stats.gaps, nonfinite_windows=stats.nonfinite_windows,
            input_overflows=flags["input_overflows"] if flags else None,
            input_underflows=flags["input_underflows"] if flags else None,
        ))
    return tuple(out)


def _summary(monitor: Monitor, timing: dict[str, list[float]], outcome: dict[str, str | None]) -> SessionSummary:
    """The session's summary record, with the live devices' status flags when there are any, and
    each stream's own figures."""
    stats = monitor.stats() if monitor.started_at is not None else None
    flags = [src.stats for src in monitor.sources if isinstance(getattr(src, "stats", None), dict)]
    return SessionSummary(
        end=datetime.now(timezone.utc),
        windows=stats.windows if stats else 0,
        speech_windows=stats.speech_windows if stats else 0,
        dropped_s=stats.dropped_seconds if stats else 0.0,
        latency_median_ms=_median(timing["latency"]),
        compute_median_ms=_median(timing["compute"]),
        completed=outcome["stopped_by"] is None,
        stopped_by=outcome["stopped_by"],
        error=outcome["error"],
        input_overflows=sum(f["input_overflows"] for f in flags) if flags else None,
        input_underflows=sum(f["input_underflows"] for f in flags) if flags else None,
        gaps=stats.gaps if stats else 0,
        nonfinite_windows=stats.nonfinite_windows if stats else 0,
        streams=_stream_summaries(monitor),
    )


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
    parts.append(f"dropped {summary.dropped_s:.2f} s of audio" + (f" in {summary.gaps} gap{'s' * (summary.gaps != 1)}" if summary.gaps else ""))
    if summary.nonfinite_windows:
        parts.append(f"{summary.nonfinite_windows} window{'s' * (summary.nonfinite_windows != 1)} with NaN/Inf samples skipped")
    if summary.input_overflows is not None:
        parts.append(f"device overflows {summary.input_overflows}, underflows {summary.input_underflows or 0}")
    line = "emomon: " + ", ".join(parts) + ("" if summary.completed else " (stopped)")
    if len(summary.streams) > 1:
        line += "; " + "; ".join(_stream_part(s) for s in summary.streams)
    return line


def _stream_part(s: StreamSummary) -> str:
    """One stream in the summary line: ``virtmic2: 16 windows (0 with speech)``, with what it
    dropped or skipped, and a device's overflows and underflows, when there were any."""
    part = f"{s.stream}: {s.windows} windows ({s.speech_windows} with speech)"
    if s.dropped_s:
        part += f", dropped {s.dropped_s:.2f} s"
    if s.nonfinite_windows:
        part += f", {s.nonfinite_windows} with NaN/Inf skipped"
    if s.input_overflows or s.input_underflows:
        part += f", overflows {s.input_overflows or 0}, underflows {s.input_underflows or 0}"
    return part

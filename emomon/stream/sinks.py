"""Sinks of a live session: the JSONL log, JSON lines on stdout, the live screen, the timeline
plot, and the speaker profile saved when the session ends.

Each is a :class:`~emomon.stream.session.Sink`: ``open(info)``, ``write(record)``,
``close(summary)``. Files a user names are checked before any work starts and never overwritten
unless asked (``force``), nor appended to unless asked (``append``): :mod:`emomon.output.files`.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Sequence, TextIO

from ..errors import EmomonError, cannot_write
from ..features.vad import VadOptions
from ..output.files import check_output_path, check_plot_path
from ..output.writers import emit
from ..records import SessionInfo, SessionSummary, WindowRecord, dumps

if TYPE_CHECKING:
    from .monitor import Monitor

log = logging.getLogger(__name__)


class JsonlLog:
    """``--jsonl PATH``: a session header, every window record, a summary; flushed per line.

    ``append`` adds a new session (its own header) to an existing log; ``force`` replaces it.
    A line that cannot be written (a full disk) is an :class:`~emomon.errors.OutputError`
    ``PATH: cannot write (<reason>)``; the log is cut back to its last whole line (what it held
    before, and every line written, are kept) and closed, and later writes are not tried.
    """

    def __init__(self, path: Path, force: bool = False, append: bool = False) -> None:
        check_output_path(path, "jsonl", force, append)
        self.path = path
        mode = "a" if append else ("w" if force else "x")
        try:
            self._file: IO[str] = open(path, mode, encoding="utf-8")
        except FileExistsError:
            raise EmomonError(str(path), "already exists (use --append to add to it or --force to overwrite it)") from None
        except OSError as exc:
            raise EmomonError(str(path), f"cannot open for writing ({exc.strerror or exc})") from None
        self._whole = self._size()  # bytes of whole lines in the file

    def _size(self) -> int:
        try:
            return os.fstat(self._file.fileno()).st_size
        except OSError:
            return 0

    def _line(self, obj: dict) -> None:
        if self._file.closed:
            return  # a write failed before: reported then
        text = dumps(obj) + "\n"
        try:
            self._file.write(text)
            self._file.flush()
        except OSError as exc:
            self._abandon()
            raise cannot_write(str(self.path), exc) from None
        self._whole += len(text.encode("utf-8"))

    def _abandon(self) -> None:
        """After a failed write: close the file (its unwritten rest is dropped) and cut a regular
        file back to its last whole line, so no half record is left in it."""
        try:
            self._file.close()
        except OSError:
            pass
        try:
            if stat.S_ISREG(os.stat(self.path).st_mode) and os.stat(self.path).st_size > self._whole:
                os.truncate(self.path, self._whole)
        except OSError as exc:
            log.debug("cannot cut %s back to its last whole line: %s", self.path, exc)

    def open(self, info: SessionInfo) -> None:
        self._line(info.to_dict())

    def write(self, rec: WindowRecord) -> None:
        self._line(rec.to_dict())

    def close(self, summary: SessionSummary) -> None:
        try:
            self._line(summary.to_dict())
        finally:
            if not self._file.closed:
                self._file.close()


class JsonLines:
    """``--no-ui``: window records as JSON lines on stdout (no header, no summary)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    def open(self, info: SessionInfo) -> None:
        pass

    def write(self, rec: WindowRecord) -> None:
        emit(self.out or sys.stdout, dumps(rec.to_dict()) + "\n")

    def close(self, summary: SessionSummary) -> None:
        pass


class LiveScreen:
    """The rich Live screen: one panel per stream (:mod:`emomon.stream.ui`)."""

    def __init__(self, labels: Sequence[str], streams: Sequence[str], title: str, vad: VadOptions,
                 min_confidence: float | None = None, realtime: bool = True, adapt: bool = False,
                 profile: str | None = None) -> None:
        from .ui import MonitorState

        many = len(streams) > 1
        self.states = {
            name: MonitorState(labels=labels, title=f"{title} — {name}" if many else title, vad=vad,
                               min_confidence=min_confidence, realtime=realtime, adapt=adapt, profile=profile)
            for name in streams
        }
        self._live = None
        self._console = None

    def _render(self):  # noqa: ANN202
        from .ui import render

        return render(list(self.states.values()), width=self._console.width if self._console else None)

    def open(self, info: SessionInfo) -> None:
        from rich.console import Console
        from rich.live import Live

        self._console = Console()
        self._live = Live(self._render(), console=self._console, refresh_per_second=10, transient=False)
        self._live.start()

    def write(self, rec: WindowRecord) -> None:
        self.states[rec.stream].update(rec)
        if self._live is not None:
            self._live.update(self._render())

    def close(self, summary: SessionSummary) -> None:
        for s in self.states.values():
            s.finished = True
        if self._live is not None:
            self._live.update(self._render())
            self._live.stop()
            if self._console is not None and not self._console.is_terminal:  # rich ends a non-terminal Live without a newline
                self._console.line()


class TimelinePlot:
    """``--plot PATH``: the session's emotion distribution over time, drawn when it ends."""

    def __init__(self, path: Path, labels: Sequence[str], title: str, force: bool = False) -> None:
        check_plot_path(path, force)
        self.path = path
        self.labels = list(labels)
        self.title = title
        self.records: list[WindowRecord] = []

    def open(self, info: SessionInfo) -> None:
        pass

    def write(self, rec: WindowRecord) -> None:
        self.records.append(rec)

    def close(self, summary: SessionSummary) -> None:
        from ..output.plot import plot_windows

        plot_windows(self.records, self.path, labels=self.labels, title=self.title)


class ProfileSaver:
    """``--profile NAME``: when the session ends (Ctrl-C and SIGTERM included), the profile's
    statistics plus everything the monitor's streams heard are saved to it (atomically)."""

    def __init__(self, monitor: "Monitor") -> None:
        if monitor.profile is None:
            raise EmomonError("profile", "the monitor has no profile to save")
        self.monitor = monitor
        self.saved: Path | None = None

    def open(self, info: SessionInfo) -> None:
        pass

    def write(self, rec: WindowRecord) -> None:
        pass

    def close(self, summary: SessionSummary) -> None:
        from ..profiles import save_profile

        profile, stats = self.monitor.profile, self.monitor.heard()
        if stats is None or profile is None:
            return
        try:
            self.saved = save_profile(profile, stats)
        except OSError as exc:
            log.warning("profile %s not saved: %s (%s)", profile.name, exc.strerror or exc, profile.path)

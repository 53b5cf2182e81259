"""How file results are printed (``emomon file``): JSON lines, CSV or a table; per file or per segment.

Each writer takes :class:`~emomon.records.FileResult` s one at a time (``write``) and finishes
with ``close``. JSON and CSV rows are printed as soon as a file is done; the table at the end.
A file that failed is a row too (its ``error``), so nothing a user asked about goes missing.
"""

from __future__ import annotations

import csv
import sys
from contextlib import contextmanager
from typing import Iterator, Protocol, Sequence, TextIO

from ..errors import cannot_write
from ..records import SCORE_DIGITS, FileResult, dumps, round_scores
from .colors import COLORS


@contextmanager
def writing(what: str = "stdout") -> Iterator[None]:
    """Turn a failed write to ``what`` (a full disk, an I/O error) into one
    :class:`~emomon.errors.OutputError`; a closed pipe (``BrokenPipeError``) passes as it is:
    the command line ends quietly on it."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise cannot_write(what, exc) from None


def emit(out: TextIO, text: str, what: str = "stdout") -> None:
    """Write ``text`` to ``out`` and flush it (see :func:`writing`)."""
    with writing(what):
        out.write(text)
        out.flush()


class ResultWriter(Protocol):
    def write(self, result: FileResult) -> None: ...

    def close(self) -> None: ...


def clock(seconds: float | None) -> str:
    """``3.52 s`` below a minute, ``10:18`` or ``2:00:07`` above."""
    if seconds is None:
        return "?"
    if seconds < 60:
        return f"{seconds:.2f} s"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class JsonWriter:
    """One JSON object per file and line: ``{"path", "duration", "speech", "label", ..., "segments"}``."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    def write(self, result: FileResult) -> None:
        emit(self.out or sys.stdout, dumps(result.to_dict()) + "\n")

    def close(self) -> None:
        pass


class CsvWriter:
    """CSV: one row per file, or per segment with ``segments`` (a file without speech or that
    failed still gets one row, with its ``reason`` or ``error``)."""

    def __init__(self, labels: Sequence[str], segments: bool = False, out: TextIO | None = None) -> None:
        self.labels = list(labels)
        self.segments = segments
        self.out = out or sys.stdout
        self._csv = csv.writer(self.out, lineterminator="\n")
        head = ["path", "start", "end"] if segments else ["path", "duration", "speech"]
        with writing():
            self._csv.writerow([*head, "label", "uncertain", "reason", "error", *self.labels])
            self.out.flush()

    def _scores(self, scores: dict[str, float] | None) -> list[str]:
        rounded = round_scores(scores) or {}
        return [f"{rounded[lab]:.{SCORE_DIGITS}f}" if rounded.get(lab) is not None else "" for lab in self.labels]

    def write(self, result: FileResult) -> None:
        with writing():
            self._write(result)
            self.out.flush()

    def _write(self, result: FileResult) -> None:
        r = result
        if r.error is not None:
            self._csv.writerow([r.path, "", "", "", "", "", r.error, *[""] * len(self.labels)])
        elif self.segments and r.segments:
            for s in r.segments:
                self._csv.writerow([r.path, f"{s.start:.4f}", f"{s.end:.4f}", s.label, str(s.uncertain).lower(), "", "", *self._scores(s.scores)])
        elif self.segments:
            self._csv.writerow([r.path, "", "", "", "false", r.reason or "", "", *[""] * len(self.labels)])
        else:
            self._csv.writerow([r.path, f"{r.duration:.4f}", f"{r.speech:.4f}", r.label or "", str(r.uncertain).lower(),
                                r.reason or "", "", *self._scores(r.scores)])

    def close(self) -> None:
        pass


class TableWriter:
    """A rich table printed at the end: one row per file (or per segment), top emotion, its score,
    the next two; uncertain answers marked ``?``, files without speech or that failed said so."""

    def __init__(self, labels: Sequence[str], segments: bool = False) -> None:
        self.labels = list(labels)
        self.segments = segments
        self.rows: list[tuple[str, str, str, str, str]] = []

    def _answer(self, label: str | None, scores: dict[str, float] | None, uncertain: bool) -> tuple[str, str, str]:
        if label is None or scores is None:
            return "[dim]no speech[/]", "", ""
        others = sorted((k for k in self.labels if k != label), key=lambda k: -scores[k])[:2]
        mark = " [yellow](uncertain)[/]" if uncertain else ""
        return (f"[bold {COLORS.get(label, 'white')}]{label}[/]{mark}", f"{scores[label] * 100:.0f}%",
                " · ".join(f"{k} {scores[k] * 100:.0f}%" for k in others))

    def write(self, result: FileResult) -> None:
        from rich.markup import escape

        r = result
        path = escape(r.path)
        if r.error is not None:
            self.rows.append((path, "", "[bold red]error[/]", "", escape(r.error)))
        elif self.segments and r.segments:
            for s in r.segments:
                self.rows.append((path, f"{clock(s.start)} – {clock(s.end)}", *self._answer(s.label, s.scores, s.uncertain)))
        else:
            where = f"{clock(r.speech)} of {clock(r.duration)}" if not self.segments else ""
            self.rows.append((path, where, *self._answer(r.label, r.scores, r.uncertain)))

    def close(self) -> None:
        from rich.console import Console
        from rich.table import Table

        if not self.rows:
            return
        table = Table(show_header=True, header_style="bold")
        table.add_column("file", overflow="fold", ratio=1)
        table.add_column("segment" if self.segments else "speech", no_wrap=True)
        table.add_column("emotion", no_wrap=True)
        table.add_column("score", justify="right", no_wrap=True)
        table.add_column("next", overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        with writing():
            Console().print(table)
            sys.stdout.flush()


def make_writer(fmt: str, labels: Sequence[str], segments: bool = False) -> ResultWriter:
    """The writer for ``--format`` (``table``, ``json`` or ``csv``)."""
    if fmt == "json":
        return JsonWriter()
    if fmt == "csv":
        return CsvWriter(labels, segments)
    return TableWriter(labels, segments)

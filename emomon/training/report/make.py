"""``make_report``: load the runs, write every section into one :class:`~.document.Doc` and render
it to ``report.md`` and ``report.html`` beside ``figures/*.png``.

The sections, in order: the introduction (what UA, WA and F1 are), the summary table and chart,
the seed study's figures, per-class recall, streamed/file decisions with calibration and noise, the
figures per test corpus and per ``pairs`` fold, the online-adaptive curve (a labelled mode), the
confusion matrices, each run in detail, and, with ``data``, the seed's exploratory figures for that
corpus. Nothing is written before every run (and the ``data`` folder) has been read.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ...atomic import atomic_write_text
from ...errors import DataError
from .breakdown import _corpora_section, _online_section
from .document import FIGURES, Doc
from .exploration import _exploration, _load_exploration_data
from .loading import load_runs
from .runs import Run
from .sections import (_confusion_section, _details_section, _recall_section, _seed_section, _streaming_section,
                       _summary_section)

log = logging.getLogger(__name__)

REPORT_MD = "report.md"
REPORT_HTML = "report.html"


@dataclass(frozen=True)
class ReportResult:
    """Files written by :func:`make_report`: the two documents and the figures (PNG, under ``figures/``)."""

    markdown: Path
    html: Path
    figures: list[Path] = field(default_factory=list)


def check_out(out: Path, force: bool) -> None:
    """Refuse (``DataError``) when a report or its figures already exist in ``out`` and not ``force``."""
    if out.exists() and not out.is_dir():
        raise DataError(str(out), "exists and is not a directory")
    if force:
        return
    taken = [n for n in (REPORT_MD, REPORT_HTML, FIGURES) if (out / n).exists()]
    if taken:
        raise DataError(str(out / taken[0]), "already exists (use --force to overwrite the report)")


def _write_documents(doc: Doc, out: Path, title: str) -> tuple[Path, Path]:
    """``out/report.md`` and ``out/report.html`` (figures embedded)."""
    md_path, html_path = out / REPORT_MD, out / REPORT_HTML
    atomic_write_text(md_path, doc.markdown())
    atomic_write_text(html_path, doc.html(out, title))
    log.info("report: %s, %s", md_path, html_path)
    return md_path, html_path


def _introduction(doc: Doc, runs: Sequence[Run], title: str) -> None:
    """The title and the paragraph that defines UA, WA and F1."""
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    doc.h(1, title)
    doc.p(f"{len(runs)} run{'s' if len(runs) != 1 else ''}, generated {now}. UA = unweighted accuracy (mean of the per-class "
          "recalls), WA = weighted accuracy (plain accuracy), F1 = macro F1; all in %, mean ± std over the folds of each run's protocol.")


def _write_sections(doc: Doc, runs: Sequence[Run], figdir: Path, progress: bool) -> list[Path]:
    """Every section about the runs, in order; the figures written."""
    written = _summary_section(doc, runs, figdir)
    _seed_section(doc)
    _recall_section(doc, runs)
    _streaming_section(doc, runs)
    _corpora_section(doc, runs)
    _online_section(doc, runs)
    written += _confusion_section(doc, runs, figdir, progress)
    _details_section(doc, runs)
    return written


def make_report(
    run_paths: Sequence[str | Path],
    out: str | Path,
    *,
    data: str | Path | None = None,
    corpus: str = "auto",
    force: bool = False,
    progress: bool = True,
    eda_max: int | None = None,
    title: str = "emomon — model comparison",
) -> ReportResult:
    """Write ``out/report.md``, ``out/report.html`` and ``out/figures/*.png`` comparing the runs.

    ``run_paths``: ``emomon train`` output folders (or their ``metrics.json``), shipped model
    names or model directories (see :func:`~.loading.load_run`).

    ``data``: a corpus folder whose exploratory figures are added, read with the ``corpus`` reader
    (``auto``: told from the folder), at most ``eda_max`` of its clips (a fixed random sample).
    ``force``: overwrite a report already in ``out``. ``progress``: progress bars on stderr.
    ``title``: the document's heading and HTML title.

    Raises :class:`~emomon.errors.DataError` when a run cannot be read or ``out`` already holds a
    report (without ``force``), before anything is written.
    """
    out = Path(out).expanduser()
    check_out(out, force)
    runs = load_runs(run_paths)
    utts = _load_exploration_data(data, corpus)
    figdir = out / FIGURES
    figdir.mkdir(parents=True, exist_ok=True)
    doc = Doc()
    _introduction(doc, runs, title)
    written = _write_sections(doc, runs, figdir, progress)
    if utts is not None:
        written += _exploration(doc, utts, figdir, str(data), progress=progress, eda_max=eda_max)
    md_path, html_path = _write_documents(doc, out, title)
    return ReportResult(markdown=md_path, html=html_path, figures=written)

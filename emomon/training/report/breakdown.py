"""The report's breakdowns of a run's figures: per test corpus (and per fold of a ``pairs`` run:
train corpus → test corpus), and along the online-adaptive curve (a labelled mode, in its own
section, never beside the strict figures).

Each section is left out when no run recorded such figures.
"""

from __future__ import annotations

from typing import Sequence

from ..results import ONLINE_MODE, FoldResult, OnlinePointFigures
from .document import Doc
from .formatting import COLLAPSE_HEADERS, _text, collapse_cells, ece_cell, pct
from .runs import PAIRS, Run


# ----------------------------------------------------------------------------------------------
# per test corpus (and per fold of a `pairs` run)
# ----------------------------------------------------------------------------------------------
def _pair_sides(fold_id: str) -> tuple[str, str]:
    """``"savee_to_ravdess"`` → ``("savee", "ravdess")``; ``("–", "–")`` for a fold id of another shape."""
    train, sep, test = fold_id.partition("_to_")
    return (train, test) if sep and train and test else ("–", "–")


def _corpus_rows(runs: Sequence[Run]) -> list[list[str]]:
    """One row per run and test corpus: clips, UA/WA/F1/ECE % (mean ± std over the folds testing on it)
    and the collapse of its answers (:func:`collapse_cells`)."""
    return [[r.name, corpus, _text(f.n), pct(f.ua), pct(f.wa), pct(f.f1), ece_cell(f.ece, f.ece_pooled, f.ece_floor),
             *collapse_cells(f.collapse)]
            for r in runs for corpus, f in r.corpora.items()]


PAIR_ONLINE_POINTS = ("10", "all")
"""Points of the online-adaptive curve shown beside each ``pairs`` fold."""


def _pairs_rows(runs: Sequence[Run]) -> list[list[str]]:
    """One row per fold of each ``pairs`` run: its train and test corpus, the fold's UA/WA/F1/ECE %
    and, for an adaptive model, its online-adaptive UA % after 10 clips and after all the clips before."""
    def online(f: FoldResult, heard: str) -> str:
        """The fold's online-adaptive UA % at ``heard`` clips; ``–`` when not measured."""
        row = f.online.get(heard)
        return pct(row.ua) if row is not None else "–"

    return [[r.name, f.fold, *_pair_sides(f.fold), _text(f.n_test), pct(f.ua), pct(f.wa), pct(f.f1),
             pct(f.ece) + (f" (floor {pct(f.ece_floor)})" if f.ece_floor is not None else ""),
             *collapse_cells(f.collapse), *[online(f, h) for h in PAIR_ONLINE_POINTS]]
            for r in runs if r.protocol == PAIRS for f in r.folds or ()]


def _has_corpus_figures(runs: Sequence[Run]) -> bool:
    """True when a run tests on more than one corpus (one corpus's row would only repeat the summary) or is a ``pairs`` run."""
    return any(len(r.corpora) > 1 or (r.protocol == PAIRS and r.folds) for r in runs)


def _corpora_section(doc: Doc, runs: Sequence[Run]) -> None:
    """Per test corpus: run × corpus figures, and each fold of the ``pairs`` runs (train corpus → test corpus)."""
    if not _has_corpus_figures(runs):
        return
    doc.h(2, "Per test corpus")
    rows = _corpus_rows(runs)
    if rows:
        doc.p("Each run's test clips split by the corpus they come from: UA, WA, F1 and ECE of that corpus's clips, "
              "mean ± std over the folds that test on it (a corpus tested in one fold only has std 0). The last two "
              "columns say whether the answers collapse onto one class whatever was said: the most often predicted "
              "class and its share of the corpus's clips, and the entropy of the predicted labels beside its ceiling "
              "(log2 of the classes the corpus has). Runs that did not "
              "record per-corpus figures (a model, a metrics.json written before them) are not listed.")
        doc.table(["run", "test corpus", "clips", "UA %", "WA %", "F1 %", "ECE %", *COLLAPSE_HEADERS], rows)
    pairs = _pairs_rows(runs)
    if pairs:
        doc.h(3, "Cross-corpus pairs")
        doc.p("Protocol `pairs`: each fold trains on one whole corpus and tests on another (the four shared classes, "
              "test side balanced per class). Figures of the single fold, no std. The last two columns are the labelled "
              f"`{ONLINE_MODE}` mode (an adaptive model only; – otherwise): UA after 10 clips of the test speaker, and "
              "with all the speaker's clips before each.")
        doc.table(["run", "fold", "train corpus", "test corpus", "test clips", "UA %", "WA %", "F1 %", "ECE %",
                   *COLLAPSE_HEADERS, f"UA % after 10 clips ({ONLINE_MODE})", f"UA % after all ({ONLINE_MODE})"], pairs)


# ----------------------------------------------------------------------------------------------
# the online-adaptive curve: a labelled mode, in its own section
# ----------------------------------------------------------------------------------------------
ONLINE_EXPLAINED = (
    f"Mode `{ONLINE_MODE}`, not strict: these figures are never comparable with the strict ones above. Each test "
    "speaker's clips are streamed in a seeded random order, and each clip is standardised with the statistics of that "
    "speaker's clips before it only (labels never used). 'Clips heard' k counts the clips at position k or later, each "
    "standardised with the k clips just before it; 'all' counts every clip, each with all the clips before it. "
    "UA and ECE in %, mean ± std over the folds."
)


ONLINE_HEADING = "Online-adaptive mode (labelled, not strict)"


def _heard_order(heard: str) -> tuple[int, int, str]:
    """Sort key of a curve point: ``0, 5, 10, 20``, then ``all``, then anything else."""
    if heard.isdigit():
        return (0, int(heard), "")
    return (1, 0, "") if heard == "all" else (2, 0, heard)


def _curve_rows(name: str, points: Sequence[OnlinePointFigures], corpus: str | None = None) -> list[list[str]]:
    """Rows of one curve, in order of clips heard: ``[name, (corpus,) heard, UA %, ECE %]``."""
    lead = [name] if corpus is None else [name, corpus]
    return [[*lead, p.heard, pct(p.figures.ua), ece_cell(p.figures.ece, p.figures.ece_pooled, p.figures.ece_floor),
             *collapse_cells(p.figures.collapse)]
            for p in sorted(points, key=lambda p: _heard_order(p.heard))]


def _online_rows(runs: Sequence[Run]) -> list[list[str]]:
    """The curve of each run that measured one, over all its test clips."""
    return [row for r in runs if r.online for row in _curve_rows(r.name, r.online.points)]


def _online_corpus_rows(runs: Sequence[Run]) -> list[list[str]]:
    """The curve of each run that measured one, per test corpus (``[run, corpus, heard, UA %, ECE %, ...]``)."""
    return [row for r in runs if r.online for c, pts in r.online.corpora.items() for row in _curve_rows(r.name, pts, c)]


def _online_section(doc: Doc, runs: Sequence[Run]) -> None:
    """Run × clips heard (UA ± std, ECE) of the online-adaptive mode, and per test corpus when recorded."""
    rows = _online_rows(runs)
    if not rows:
        return
    doc.h(2, ONLINE_HEADING)
    doc.p(ONLINE_EXPLAINED)
    doc.table(["run", "clips heard", f"UA % ({ONLINE_MODE})", f"ECE % ({ONLINE_MODE})", *COLLAPSE_HEADERS], rows)
    per_corpus = _online_corpus_rows(runs)
    if per_corpus:
        doc.h(3, "Online-adaptive mode per test corpus")
        doc.p(f"The same `{ONLINE_MODE}` curve over each test corpus's clips (ECE: – where the run did not record it per corpus).")
        doc.table(["run", "test corpus", "clips heard", f"UA % ({ONLINE_MODE})", f"ECE % ({ONLINE_MODE})", *COLLAPSE_HEADERS], per_corpus)

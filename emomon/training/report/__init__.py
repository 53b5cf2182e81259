"""``emomon report``: compare training runs in ``report.md`` and ``report.html``.

Each run is an ``emomon train`` output folder (or its ``metrics.json``, read through
:meth:`~emomon.training.results.RunResults.from_dict`: the one typed reading of the metrics
contract), or a trained model: a shipped model's name (``default``) or a model directory
(``config.json`` + ``model.safetensors``), whose figures come from the ``meta`` of its
``config.json`` (:func:`run_from_model_config`). Both become the same typed :class:`Run`; what a
model does not carry (per-class recall, confusion matrix, per-fold rows, costs) is marked as not
available.

The report holds a summary table (UA/WA/F1 mean ± std over folds, as percentages, with the
protocol and evaluation mode spelled out: *speaker-independent, strict*, *speaker-independent,
speaker-norm* or *speaker-dependent*), the seed study's figures next to them (accuracy on a
random split — said so), per-class recall, streamed/file decisions, calibration and noise, the
figures per test corpus (and per fold of a ``pairs`` run) when a run tests on several corpora,
the online-adaptive curve (a labelled mode, in its own section, never beside the strict figures)
when a run measured it, per-fold tables, parameters, training time, CPU ms per clip and per
stream window, and confusion matrices as PNG files (linked from the Markdown, embedded in the
HTML). With ``data`` it adds the seed's exploratory figures for that corpus.

The package, one concept a module: :mod:`.runs` (the typed :class:`Run`), :mod:`.loading` (reading
``metrics.json`` and model ``config.json`` files into runs), :mod:`.formatting` (table cells),
:mod:`.document` (the Markdown/HTML renderer), :mod:`.sections` (the summary, seed, recall,
streaming, confusion and detail sections), :mod:`.breakdown` (per test corpus, per ``pairs`` fold,
the online-adaptive curve), :mod:`.exploration` (the seed's exploratory figures) and :mod:`.make`
(:func:`make_report`). Importing it loads neither torch nor matplotlib.
"""

from __future__ import annotations

from .breakdown import ONLINE_EXPLAINED, ONLINE_HEADING, PAIR_ONLINE_POINTS
from .document import FIGURES, Doc
from .formatting import (COLLAPSE_HEADERS, ECE_EXPLAINED, NOT_AVAILABLE, collapse_cells, ece_cell, evaluation_label,
                         human_count, human_seconds, pct)
from .loading import load_metrics_run, load_model_run, load_run, load_runs, read_results, run_from_model_config, run_from_results
from .make import REPORT_HTML, REPORT_MD, ReportResult, check_out, make_report
from .runs import METRICS, MODEL_CONFIG, MODEL_WEIGHTS, PAIRS, REQUIRED_KEYS, Costs, Provenance, Run, Source
from .sections import SEED_RESULTS, SEED_SPLIT, SeedResult

__all__ = [
    "COLLAPSE_HEADERS", "Costs", "Doc", "ECE_EXPLAINED", "FIGURES", "METRICS", "MODEL_CONFIG", "MODEL_WEIGHTS",
    "NOT_AVAILABLE", "ONLINE_EXPLAINED", "ONLINE_HEADING", "PAIRS", "PAIR_ONLINE_POINTS", "Provenance", "REPORT_HTML",
    "REPORT_MD", "REQUIRED_KEYS", "ReportResult", "Run", "SEED_RESULTS", "SEED_SPLIT", "SeedResult", "Source",
    "check_out", "collapse_cells", "ece_cell", "evaluation_label", "human_count", "human_seconds", "load_metrics_run",
    "load_model_run", "load_run", "load_runs", "make_report", "pct", "read_results", "run_from_model_config",
    "run_from_results",
]

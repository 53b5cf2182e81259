"""The report's sections about the runs as wholes: the summary table and chart, the seed study's
figures beside them, per-class recall, streamed/file decisions with calibration and noise, the
confusion matrices and each run in detail (parameters, provenance, per-fold rows).

Each ``_*_section`` appends its heading, prose and tables to a :class:`~.document.Doc`; those that
draw figures write them into ``figdir`` and return their paths.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ...labels import EMOTIONS
from .. import figures
from ..results import FoldResult
from .document import FIGURES, Doc
from .formatting import ECE_EXPLAINED, NOT_AVAILABLE, _num, _slug, _text, ece_cell, human_count, human_seconds, pct
from .runs import Run


@dataclass(frozen=True)
class SeedResult:
    """A figure reported by the seed study (accuracy on a random, speaker-dependent split)."""

    name: str
    accuracy: float
    parameters: int | None
    notes: str


SEED_RESULTS: tuple[SeedResult, ...] = (
    SeedResult("seed: logistic baseline", 0.378, None, "logistic regression on clip length and amplitude variation"),
    SeedResult("seed: transformer", 0.514, 377_000, "custom 3-layer transformer on mel spectrograms"),
    SeedResult("seed: wav2vec2", 0.625, 95_000_000, "fine-tuned wav2vec 2.0, 10 epochs (about 32 min on a Colab GPU)"),
)
SEED_SPLIT = "random split of the 1,440 RAVDESS speech clips (speaker-dependent: every actor on both sides of the split)"


def _labels_of(runs: Sequence[Run]) -> list[str]:
    """Labels of the runs that carry per-class recall: canonical order first, then others."""
    present = {lab for r in runs if r.per_class_recall is not None for lab in (r.labels or r.per_class_recall.keys())}
    return [e for e in EMOTIONS if e in present] + sorted(present - set(EMOTIONS))


def _model_runs_note(runs: Sequence[Run]) -> str | None:
    """The paragraph that says which runs are trained models and what they do not carry."""
    models = [r for r in runs if r.is_model]
    if not models:
        return None
    which = ", ".join(f"{r.name} ({r.provenance.source.value})" for r in models)
    return (f"{which}: figures from the model's `config.json` (the cross-validation recorded when it was trained). "
            f"Per-class recall, confusion matrix, per-fold rows, parameters, training time and CPU timings are not "
            f"stored there: {NOT_AVAILABLE} below.")


def _summary_row(r: Run) -> list[str]:
    """One row of the summary table: the run, its protocol and evaluation, UA/WA/F1 % and its costs."""
    c = r.costs
    costs = ([NOT_AVAILABLE] * 4 if r.is_model else
             [human_count(c.num_parameters), human_seconds(c.train_seconds), _num(c.cpu_ms_per_clip), _num(c.cpu_ms_per_window)])
    return [r.name, r.model, _text(r.protocol), r.evaluation, _text(r.n_folds), _text(r.n_utterances),
            pct(r.ua), pct(r.wa), pct(r.f1), *costs]


def _summary_section(doc: Doc, runs: Sequence[Run], figdir: Path) -> list[Path]:
    """The summary table, the notes on model / speaker-dependent / speaker-norm runs, and ``summary.png``."""
    doc.h(2, "Summary")
    doc.table(["run", "model", "protocol", "evaluation", "folds", "clips", "UA %", "WA %", "F1 %", "parameters", "training time",
               "CPU ms/clip", "CPU ms/window"], [_summary_row(r) for r in runs])
    note = _model_runs_note(runs)
    if note:
        doc.p(note)
    if any(r.speaker_independent is False for r in runs):
        doc.p("Speaker-dependent runs put clips of the same speakers in training and test sets: their figures are higher "
              "than what a new speaker gets and must not be compared with the speaker-independent ones.")
    if any(r.mode == "speaker-norm" for r in runs):
        doc.p("Speaker-norm runs normalise features with each test speaker's own (unlabelled) statistics, which a live "
              "monitor only has after hearing that speaker for a while.")
    written = figures.plot_summary(_summary_bars(runs), figdir / "summary.png")
    doc.img(f"{FIGURES}/summary.png", "UA and WA per run, with the seed study's accuracies (random split)")
    return [written]


def _summary_bars(runs: Sequence[Run]) -> list[figures.Bar]:
    """The bars of ``summary.png``: each run's UA and WA (mean, std), then the seed study's accuracies (as WA)."""
    bars = [figures.Bar(r.name, r.ua.mean if r.ua else None, (r.ua.std if r.ua else None) or 0.0,
                        r.wa.mean if r.wa else None, (r.wa.std if r.wa else None) or 0.0) for r in runs]
    bars += [figures.Bar(s.name.replace("seed: ", ""), None, 0.0, s.accuracy, 0.0, seed=True) for s in SEED_RESULTS]
    return bars


def _seed_section(doc: Doc) -> None:
    """The seed study's accuracies, said to be on a random (speaker-dependent) split."""
    doc.h(2, "The seed study, for reference")
    doc.table(["model", "accuracy %", "split", "parameters", "notes"],
              [[s.name, f"{100 * s.accuracy:.1f}", "random (speaker-dependent)", human_count(s.parameters), s.notes] for s in SEED_RESULTS])
    doc.p(f"The seed study reports accuracy on a {SEED_SPLIT}. Its numbers are comparable only to the WA of a "
          "speaker-dependent (`random` protocol) run, not to the speaker-independent UA above.")


def _recall_cell(r: Run, label: str) -> str:
    """``r``'s recall % of ``label`` (``n/a`` for a model, ``–`` for a label it does not have)."""
    if r.per_class_recall is None:
        return NOT_AVAILABLE
    return pct(r.per_class_recall.get(label))


def _recall_section(doc: Doc, runs: Sequence[Run]) -> None:
    """Label × run table of per-class recall %."""
    doc.h(2, "Per-class recall (%)")
    labels = _labels_of(runs)
    if not labels:
        doc.p(f"{NOT_AVAILABLE}: none of these runs carries per-class recall (a model's `config.json` records summary "
              "figures only; the `emomon train` run folder that made the model has them).")
        return
    doc.table(["emotion", *[r.name for r in runs]], [[lab, *[_recall_cell(r, lab) for r in runs]] for lab in labels])
    missing = [r.name for r in runs if r.per_class_recall is None]
    if missing:
        doc.p(f"{NOT_AVAILABLE}: not available for {', '.join(missing)} (a model's `config.json` records summary figures only).")


def _streaming_section(doc: Doc, runs: Sequence[Run]) -> None:
    """Whole-clip, streamed and file UA, ECE and UA per noise condition; nothing when no run measured any of them."""
    if not any(r.streamed_ua or r.file_ua or r.ece or r.noise for r in runs):
        return
    doc.h(2, "Streaming, files, calibration and noise")
    doc.p("Streamed decision: a clip's label from the mean of its 3 s stream windows with speech (what `file --stream` "
          "shows). File decision: the time-weighted mean over the clip's speech segments (what `emomon file` answers); a "
          "clip in which no speech is found gets no answer, counted wrong (how many: 'no answer'). Both beside the "
          "whole-clip UA. " + ECE_EXPLAINED + " "
          "Noise: each fold's model on noisy copies of its test clips (white, pink, babble of other speakers) at the given SNR.")
    conds = sorted({(c.kind, c.snr_db) for r in runs for c in r.noise}, key=lambda c: (c[0], -c[1]))
    headers = ["run", "UA %", "streamed UA %", "file UA %", "no answer", "ECE %", *[f"{k} {snr:g} dB UA %" for k, snr in conds]]
    rows = []
    for r in runs:
        by_cond = {(c.kind, c.snr_db): c for c in r.noise}
        absent = NOT_AVAILABLE if r.is_model else "–"
        rows.append([r.name, pct(r.ua), pct(r.streamed_ua), pct(r.file_ua), _text(r.file_unanswered), ece_cell(r.ece, r.ece_pooled, r.ece_floor),
                     *[pct(by_cond[c].figures.ua) if c in by_cond else absent for c in conds]])
    doc.table(headers, rows)


# ----------------------------------------------------------------------------------------------
# confusion matrices and details
# ----------------------------------------------------------------------------------------------
def _confusion_section(doc: Doc, runs: Sequence[Run], figdir: Path, progress: bool) -> list[Path]:
    """One ``confusion-<run>.png`` per run that recorded its confusion matrix (a progress bar on stderr)."""
    from tqdm import tqdm

    doc.h(2, "Confusion matrices")
    doc.p("Rows are the true emotion, columns the prediction, summed over the test folds; colour is the fraction of the row.")
    written = []
    for r in tqdm(runs, desc="confusion matrices", unit="run", file=sys.stderr, disable=not progress):
        if r.confusion is None:
            doc.p(f"{r.name}: confusion matrix {NOT_AVAILABLE} (a model's `config.json` records summary figures only)."
                  if r.is_model else f"{r.name}: no confusion matrix in its metrics.json.")
            continue
        labels = list(r.labels) or list(EMOTIONS)[: len(r.confusion)]
        name = f"confusion-{_slug(r.name)}.png"
        title = f"{r.name}: {r.model} / {r.protocol} / {r.evaluation}\nUA {pct(r.ua)} %"
        written.append(figures.plot_confusion([list(row) for row in r.confusion], labels, figdir / name, title))
        doc.img(f"{FIGURES}/{name}", f"{r.name} — confusion matrix")
    return written


def _run_details(r: Run) -> list[list[str]]:
    """``[parameter, value]`` rows of an ``emomon train`` run: source, protocol, data, costs, provenance, settings."""
    c, p = r.costs, r.provenance
    rows = [
        ["source", p.source.value], ["folder", str(r.path)], ["model (recipe)", r.model], ["protocol", _text(r.protocol)],
        ["evaluation", r.evaluation], ["data", _text(p.data)], ["clips", _text(r.n_utterances)], ["labels", ", ".join(r.labels)],
        ["parameters", f"{c.num_parameters:,}" if c.num_parameters is not None else "–"],
        ["training time (all folds)", human_seconds(c.train_seconds)], ["CPU ms per clip", _num(c.cpu_ms_per_clip)],
        ["CPU ms per stream window (one thread)", _num(c.cpu_ms_per_window)],
        ["final model", p.final_model or "none"], ["created", _text(p.created)], ["emomon version", _text(p.emomon_version)],
    ]
    if p.settings:
        rows.append(["recipe settings", json.dumps(dict(p.settings), sort_keys=True, default=str)])
    return rows


def _model_details(r: Run) -> list[list[str]]:
    """``[parameter, value]`` rows of a trained model: what its ``config.json`` records, and what it does not."""
    p = r.provenance
    rows = [
        ["source", p.source.value], ["folder", str(r.path)], ["model (recipe)", r.model], ["architecture", _text(p.architecture)],
        ["protocol", _text(r.protocol_detail or r.protocol)], ["evaluation", r.evaluation], ["trained on", _text(p.data)],
        ["clips", _text(r.n_utterances)], ["labels", ", ".join(r.labels)], ["UA %", pct(r.ua)], ["WA %", pct(r.wa)],
        ["F1 %", pct(r.f1)], ["streamed UA %", pct(r.streamed_ua)], ["file UA %", pct(r.file_ua)], ["ECE %", ece_cell(r.ece, r.ece_pooled, r.ece_floor)],
        ["command", _text(p.command)],
        ["license", _text(p.license)], ["description", _text(p.description)],
    ]
    if p.settings:
        rows.append(["settings", json.dumps(dict(p.settings), sort_keys=True, default=str)])
    rerun = "; its command reproduces one" if p.command else ""
    rows.append(["per-class recall, confusion matrix, per-fold rows, costs",
                 f"{NOT_AVAILABLE} (not recorded in a model's config.json; the `emomon train` run folder that made it has them{rerun})"])
    return rows


def _fold_rows(folds: Sequence[FoldResult]) -> list[list[str]]:
    """One row per fold: test speakers, clip counts, UA/WA/F1 % and training time."""
    return [[f.fold, ", ".join(f.test_speakers), _text(f.n_train), _text(f.n_test), pct(f.ua), pct(f.wa), pct(f.f1),
             human_seconds(f.train_seconds)] for f in folds]


def _details_section(doc: Doc, runs: Sequence[Run]) -> None:
    """Each run's parameters and provenance, and its per-fold table when it has one."""
    doc.h(2, "Runs in detail")
    for r in runs:
        doc.h(3, r.name)
        doc.table(["parameter", "value"], _model_details(r) if r.is_model else _run_details(r))
        if r.folds:
            doc.table(["fold", "test speakers", "train", "test", "UA %", "WA %", "F1 %", "training time"], _fold_rows(r.folds))

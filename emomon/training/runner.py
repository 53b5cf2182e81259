"""The cross-validation runner: fit and test a recipe fold by fold, write OUT.

OUT receives ``metrics.json`` (the contract in the project notes), ``predictions.jsonl``
(one line per test clip: ``{"id","speaker","fold","true","pred","scores"}``), ``confusion.png``
and, unless disabled, ``model/``: the recipe trained on all utterances (config.json +
model.safetensors, loadable by :func:`emomon.load_model`).
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import logging
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..audio import decode_audio
from ..errors import DataError
from ..models.base import CONFIG_NAME, EmotionModel
from ..records import Utterance
from .cache import atomic_write_bytes
from .calibration import expected_calibration_error
from .figures import plot_confusion
from .noise import noisy_copies
from .metrics import FoldMetrics, aggregate, compute_metrics, mean_std
from .protocols import SPEAKER_DEPENDENT_LABEL, Fold
from .recipes.base import Recipe, TrainContext, progress

log = logging.getLogger(__name__)

METRICS_NAME = "metrics.json"
PREDICTIONS_NAME = "predictions.jsonl"
CONFUSION_NAME = "confusion.png"
MODEL_DIRNAME = "model"


@dataclass
class RunResult:
    """What :func:`run_protocol` wrote: the metrics dict and where."""

    metrics: dict[str, Any]
    out_dir: Path
    final_model: EmotionModel | None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def check_out_dir(out_dir: Path, force: bool) -> None:
    """Refuse an OUT that already holds results unless ``force``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(str(out_dir), "exists and is not a directory")
    if (out_dir / METRICS_NAME).exists() and not force:
        raise DataError(str(out_dir), f"already holds {METRICS_NAME} (use --force to overwrite)")


def measure_cpu_ms(model: EmotionModel, *input_sets: Sequence[np.ndarray]) -> list[float | None]:
    """Per input set, the mean milliseconds of ``model.predict_proba`` per input ``(samples,)``,
    one at a time, on CPU with ONE thread (``None`` for an empty set).

    Decoding is excluded (the model's own front end is included). One copy of the model is moved
    to CPU; one warm-up call precedes each set's timed calls.
    """
    if not any(input_sets):
        return [None] * len(input_sets)
    m = copy.deepcopy(model).cpu().eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out: list[float | None] = []
    try:
        for inputs in input_sets:
            if not inputs:
                out.append(None)
                continue
            m.predict_proba(inputs[0][None, :])
            times = []
            for x in inputs:
                t0 = time.perf_counter()
                m.predict_proba(x[None, :])
                times.append(time.perf_counter() - t0)
            out.append(float(np.mean(times) * 1000.0))
    finally:
        torch.set_num_threads(threads)
    return out


def measure_cpu_ms_per_clip_and_window(model: EmotionModel, utts: Sequence[Utterance], n: int = 5) -> tuple[float | None, float | None]:
    """``(ms per whole clip, ms per stream window)`` over the first ``n`` clips (:func:`measure_cpu_ms`);
    a window is the model's ``config.window`` seconds from the clip's start (zero-padded when shorter)."""
    clips = [decode_audio(u.path, model.sample_rate) for u in list(utts)[:n]]
    size = int(round(model.config.window * model.sample_rate))
    windows = [np.pad(c[:size], (0, max(0, size - len(c)))) for c in clips]
    per_clip, per_window = measure_cpu_ms(model, clips, windows)
    return per_clip, per_window


def _r(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else round(float(x), 6)


def _fold_dict(fold: Fold, m: FoldMetrics, seconds: float) -> dict[str, Any]:
    return {
        "fold": fold.id,
        "test_speakers": list(fold.test_speakers),
        "n_train": len(fold.train),
        "n_test": len(fold.test),
        "ua": _r(m.ua),
        "wa": _r(m.wa),
        "f1": _r(m.f1),
        "per_class_recall": {k: _r(v) for k, v in m.per_class_recall.items()},
        "train_seconds": round(seconds, 3),
    }


def run_protocol(
    recipe: Recipe,
    utterances: Sequence[Utterance],
    folds: Sequence[Fold],
    out_dir: str | Path,
    ctx: TrainContext,
    *,
    protocol: str,
    data: str = "",
    final: bool = True,
    force: bool = False,
    emomon_version: str | None = None,
    noise: Sequence[tuple[str, float]] = (),
    noise_dir: str | Path | None = None,
) -> RunResult:
    """Fit ``recipe`` on each fold's train side, test on its test side, write OUT.

    ``final``: also train on all ``utterances`` and save OUT/model (skipped in
    ``speaker-norm`` mode, whose features need the test speaker's statistics).
    ``noise``: ``(kind, snr_db)`` conditions; each fold's model is also tested on noisy copies of
    its test clips (see :func:`~emomon.training.noise.noisy_copies`, files under ``noise_dir``).
    """
    out = Path(out_dir)
    check_out_dir(out, force)
    if ctx.mode == "speaker-norm" and not recipe.supports_speaker_norm:
        raise DataError(recipe.name, "this recipe does not support --normalize speaker")
    if not folds:
        raise DataError(protocol, "no folds to run")
    recipe.check_options(ctx)  # a bad --set fails before any feature is computed
    speaker_independent = all(f.speaker_independent for f in folds)
    tag = "" if speaker_independent else f" [{SPEAKER_DEPENDENT_LABEL}]"
    labels = list(ctx.labels)
    out.mkdir(parents=True, exist_ok=True)
    if force and (out / MODEL_DIRNAME / CONFIG_NAME).exists():
        shutil.rmtree(out / MODEL_DIRNAME)
    if not ctx.all_utterances:
        ctx.all_utterances = list(utterances)

    fold_metrics: list[FoldMetrics] = []
    decisions: dict[str, list[FoldMetrics]] = {}
    noise_metrics: dict[tuple[str, float], list[FoldMetrics]] = {}
    eces: list[float] = []
    fold_rows: list[dict[str, Any]] = []
    pred_lines: list[str] = []
    model: EmotionModel | None = None
    total_train = 0.0
    t_run = time.perf_counter()
    for fold in progress(folds, ctx, f"{recipe.name}: folds{tag}"):
        seed_everything(ctx.seed)
        log.info("%s fold %s%s: train %d clips, test %d clips (speakers %s)", recipe.name, fold.id, tag, len(fold.train), len(fold.test), ", ".join(fold.test_speakers))
        t0 = time.perf_counter()
        model = recipe.fit(list(fold.train), ctx)
        seconds = time.perf_counter() - t0
        total_train += seconds
        probs = np.asarray(recipe.predict_proba(model, list(fold.test), ctx))
        y_true = ctx.label_indices(fold.test)
        y_pred = probs.argmax(axis=1)
        m = compute_metrics(y_true, y_pred, labels)
        fold_metrics.append(m)
        row = _fold_dict(fold, m, seconds)
        row["ece"] = _r(expected_calibration_error(probs, y_true))
        eces.append(row["ece"])
        for name, method, _ in DECISIONS:  # the streaming pipeline's and `emomon file`'s decisions
            decide = getattr(recipe, method, None)
            if callable(decide):
                md = decision_metrics(y_true, np.asarray(decide(model, list(fold.test), ctx)), labels)
                decisions.setdefault(name, []).append(md)
                row[name] = {"ua": _r(md.ua), "wa": _r(md.wa), "f1": _r(md.f1), "unanswered": md.unanswered}
                log.info("%s fold %s%s: %s decision UA %.3f (%d clips unanswered)", recipe.name, fold.id, tag, name, md.ua, md.unanswered)
        if noise:
            row["noise"] = {}
            for kind, snr in noise:
                noisy = noisy_copies(fold.test, kind, snr, noise_dir or out / "noisy", pool=ctx.all_utterances, seed=ctx.seed)
                mn = compute_metrics(y_true, np.asarray(recipe.predict_proba(model, noisy, ctx)).argmax(axis=1), labels)
                noise_metrics.setdefault((kind, snr), []).append(mn)
                row["noise"][f"{kind}@{snr:g}dB"] = {"ua": _r(mn.ua), "wa": _r(mn.wa), "f1": _r(mn.f1)}
                log.info("%s fold %s%s: %s noise at %g dB SNR: UA %.3f", recipe.name, fold.id, tag, kind, snr, mn.ua)
        fold_rows.append(row)
        log.info("%s fold %s%s: UA %.3f WA %.3f F1 %.3f (%.1f s)", recipe.name, fold.id, tag, m.ua, m.wa, m.f1, seconds)
        for u, p, t, q in zip(fold.test, probs, y_true, y_pred):
            line = {"id": u.id, "speaker": u.speaker, "fold": fold.id, "true": labels[t], "pred": labels[q], "scores": {lab: round(float(s), 6) for lab, s in zip(labels, p)}}
            if not speaker_independent:
                line["split"] = SPEAKER_DEPENDENT_LABEL
            pred_lines.append(json.dumps(line))
        # Write predictions as we go, so an interrupted run leaves its finished folds.
        atomic_write_bytes(out / PREDICTIONS_NAME, ("\n".join(pred_lines) + "\n").encode())

    summary = aggregate(fold_metrics, labels)
    final_rel: str | None = None
    final_model: EmotionModel | None = None
    if final and ctx.mode == "strict":
        seed_everything(ctx.seed)
        log.info("%s: training the final model on all %d clips", recipe.name, len(utterances))
        t0 = time.perf_counter()
        final_model = recipe.fit(list(utterances), ctx)
        total_train += time.perf_counter() - t0
        final_model.config.meta.update(
            {
                "recipe": recipe.name,
                "trained_on": data,
                "n_utterances": len(utterances),
                "protocol": protocol,
                "cv_ua": _r(summary.ua.mean),
                "cv_wa": _r(summary.wa.mean),
                "license": "weights trained on RAVDESS (CC BY-NC-SA 4.0)" if any(u.corpus == "ravdess" for u in utterances) else None,
            }
        )
        final_model.save(out / MODEL_DIRNAME, overwrite=force)
        final_rel = MODEL_DIRNAME
    elif final:
        log.warning("%s: no final model in speaker-norm mode (its input needs the speaker's statistics)", recipe.name)
    measured = final_model or model
    assert measured is not None
    cpu_ms, cpu_ms_window = measure_cpu_ms_per_clip_and_window(measured, utterances)

    title = f"{recipe.name} / {protocol}{tag} / {ctx.mode}: UA {summary.ua.mean:.3f} ± {summary.ua.std:.3f}"
    metrics: dict[str, Any] = {
        "model": recipe.name,
        "protocol": protocol,
        "speaker_independent": speaker_independent,
        "mode": ctx.mode,
        "labels": labels,
        "data": data,
        "n_utterances": len(utterances),
        "ua": {"mean": _r(summary.ua.mean), "std": _r(summary.ua.std)},
        "wa": {"mean": _r(summary.wa.mean), "std": _r(summary.wa.std)},
        "f1": {"mean": _r(summary.f1.mean), "std": _r(summary.f1.std)},
        "per_class_recall": {k: {"mean": _r(v.mean), "std": _r(v.std)} for k, v in summary.per_class_recall.items()},
        "folds": fold_rows,
        "confusion": summary.confusion.astype(int).tolist(),
        "num_parameters": int(measured.num_parameters()),
        "train_seconds": round(total_train, 3),
        "wall_seconds": round(time.perf_counter() - t_run, 3),
        "cpu_ms_per_clip": None if cpu_ms is None else round(cpu_ms, 3),
        "cpu_ms_per_window": None if cpu_ms_window is None else round(cpu_ms_window, 3),
        "final_model": final_rel,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "emomon_version": emomon_version or _version(),
        "extra": {"seed": ctx.seed, "std": "population (ddof=0) over folds", "options": dict(ctx.options), **recipe.extra(ctx)},
    }
    ece = mean_std(eces)
    metrics["ece"] = {"mean": _r(ece.mean), "std": _r(ece.std)}
    for name, _, what in DECISIONS:
        if decisions.get(name):
            agg = aggregate(decisions[name], labels)
            metrics[name] = {
                "what": what,
                "ua": {"mean": _r(agg.ua.mean), "std": _r(agg.ua.std)},
                "wa": {"mean": _r(agg.wa.mean), "std": _r(agg.wa.std)},
                "f1": {"mean": _r(agg.f1.mean), "std": _r(agg.f1.std)},
                "per_class_recall": {k: {"mean": _r(v.mean), "std": _r(v.std)} for k, v in agg.per_class_recall.items()},
                "unanswered": int(sum(f.unanswered for f in decisions[name])),
            }
    if noise_metrics:
        metrics["noise"] = []
        for (kind, snr), ms_list in noise_metrics.items():
            agg = aggregate(ms_list, labels)
            metrics["noise"].append({
                "kind": kind, "snr_db": snr,
                "ua": {"mean": _r(agg.ua.mean), "std": _r(agg.ua.std)},
                "wa": {"mean": _r(agg.wa.mean), "std": _r(agg.wa.std)},
                "f1": {"mean": _r(agg.f1.mean), "std": _r(agg.f1.std)},
            })
    if not speaker_independent:
        metrics["protocol_label"] = SPEAKER_DEPENDENT_LABEL
    try:
        plot_confusion(summary.confusion, labels, out / CONFUSION_NAME, title)
    except ImportError as exc:  # pragma: no cover - matplotlib is a core dependency
        log.warning("no confusion.png (%s)", exc)
    atomic_write_bytes(out / METRICS_NAME, (json.dumps(metrics, indent=2) + "\n").encode())
    log.info("%s%s: UA %.3f ± %.3f, WA %.3f ± %.3f, F1 %.3f ± %.3f -> %s", recipe.name, tag, summary.ua.mean, summary.ua.std, summary.wa.mean, summary.wa.std, summary.f1.mean, summary.f1.std, out / METRICS_NAME)
    return RunResult(metrics=metrics, out_dir=out, final_model=final_model)


# Decisions a recipe may report besides whole clips: (metrics key, recipe method, what it is).
DECISIONS = [
    ("streamed", "stream_proba", "clip decision = mean of the probabilities of its stream windows with speech (file --stream)"),
    ("file", "file_proba", "clip decision = time-weighted mean over its speech segments (emomon file); no speech found = no answer, counted wrong"),
]


def decision_metrics(y_true: np.ndarray, probs: np.ndarray, labels: list[str]) -> FoldMetrics:
    """Metrics of a decision ``probs (n, labels)``; a row of NaN is no answer (counted wrong)."""
    y_pred = np.where(np.isnan(probs).any(axis=1), -1, np.nan_to_num(probs, nan=-1.0).argmax(axis=1))
    return compute_metrics(y_true, y_pred, labels)


def _version() -> str:
    try:
        from .. import __version__

        return __version__
    except ImportError:  # pragma: no cover
        return "unknown"

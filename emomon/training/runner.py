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
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..audio import decode_audio
from ..errors import DataError
from ..models.base import CONFIG_NAME, EmotionModel
from ..records import Utterance, dumps
from ..atomic import atomic_write_bytes
from . import distributed
from .loop import history_of
from .calibration import ece_floor, expected_calibration_error
from .figures import plot_confusion
from .noise import noisy_copies
from .metrics import FoldMetrics, aggregate, compute_metrics, mean_std
from .adaptation import ONLINE_POINTS, point_name
from .protocols import SPEAKER_DEPENDENT_LABEL, Fold
from .resume import (SETTINGS_NAME, STATE_DIRNAME, FoldOutcome, NoiseOutcome, OnlinePointOutcome, RunSettings, RunState, data_digest,
                     fold_filename, has_state)
from .results import ONLINE_MODE, FoldResult, Figures, NoiseFigures, OnlineAdaptive, OnlinePointFigures, Row, RunResults, Score, _r, rounded_collapse
from .recipes.base import Recipe, TrainContext, progress

log = logging.getLogger(__name__)

METRICS_NAME = "metrics.json"
PREDICTIONS_NAME = "predictions.jsonl"
CONFUSION_NAME = "confusion.png"
MODEL_DIRNAME = "model"


@dataclass
class RunResult:
    """What :func:`run_protocol` wrote: the typed results, where, and the final model."""

    results: RunResults
    out_dir: Path
    final_model: EmotionModel | None

    @property
    def metrics(self) -> dict[str, Any]:
        """The results as written to metrics.json."""
        return self.results.to_dict()


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch with ``seed`` and ask torch for deterministic kernels (cuDNN
    without autotuning; an op with no deterministic version warns rather than fails), so that
    the same seed gives the same metrics on the same machine, whichever folds ran before."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS (read when CUDA starts)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def check_out_dir(out_dir: Path, force: bool, folds: Sequence[Fold] | None = None) -> None:
    """Refuse an OUT that already holds results unless ``force``: a finished run (metrics.json),
    or outputs (predictions, confusion.png, model/) with no run state to resume (OUT/folds).

    A finished run that did not train all of ``folds`` (e.g. a quick ``--fold 1``) is extended
    rather than refused: its state is resumed when the settings match, its folds reused, and its
    outputs written again with every fold. With ``folds`` unknown (``None``) such a run passes,
    to be checked again once they are known."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(str(out_dir), "exists and is not a directory")
    if force:
        return
    if (out_dir / METRICS_NAME).exists() and not _extends(out_dir, folds):
        raise DataError(str(out_dir), f"already holds {METRICS_NAME} of a finished run (use --force to run again over it)")
    if has_state(out_dir):
        return  # an unfinished run: resumed when the settings match (RunState.open)
    made = [n for n in (MODEL_DIRNAME, PREDICTIONS_NAME, CONFUSION_NAME, STATE_DIRNAME) if (out_dir / n).exists()]
    if made:
        raise DataError(str(out_dir), f"already holds {', '.join(made)} with no run to resume (no {STATE_DIRNAME}/{SETTINGS_NAME}); "
                                      "use --force to overwrite")


def _extends(out_dir: Path, folds: Sequence[Fold] | None) -> bool:
    """Whether a finished run in ``out_dir`` lacks some of ``folds`` (any, when ``folds`` is ``None``)."""
    if not has_state(out_dir):
        return False
    if folds is None:
        return True
    return any(not (out_dir / STATE_DIRNAME / fold_filename(f.id)).is_file() for f in folds)


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


CalibKey = tuple[str, ...]
"""Which probabilities an ECE is of: ``("whole",)``, ``("corpus", c)``, ``("online", heard)``, ``("online", c, heard)``."""


@dataclass
class _Tally:
    """What the folds measured so far, aggregated into :class:`RunResults` at the end."""

    labels: list[str]
    whole: list[FoldMetrics] = field(default_factory=list)
    decisions: dict[str, list[FoldMetrics]] = field(default_factory=dict)
    noise: dict[tuple[str, float], list[FoldMetrics]] = field(default_factory=dict)
    corpora: dict[str, list[FoldMetrics]] = field(default_factory=dict)
    online: dict[str, list[FoldMetrics]] = field(default_factory=dict)
    online_corpora: dict[tuple[str, str], list[FoldMetrics]] = field(default_factory=dict)
    held: dict[CalibKey, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)  # each fold's (probs, y_true)
    rows: list[FoldResult] = field(default_factory=list)
    predictions: list[str] = field(default_factory=list)
    train_seconds: float = 0.0

    def scores(self, key: CalibKey, probs: np.ndarray, y_true: np.ndarray) -> tuple[FoldMetrics, float]:
        """Metrics and ECE of one fold's ``probs (n, labels)``, kept under ``key`` for the pooled ECE."""
        self.held.setdefault(key, []).append((probs, y_true))
        return compute_metrics(y_true, probs.argmax(axis=1), self.labels), float(expected_calibration_error(probs, y_true))

    def calibration(self, key: CalibKey) -> dict[str, Any]:
        """``ece`` (mean ± std over folds), ``ece_pooled`` and ``ece_floor`` of the probabilities kept under ``key``."""
        folds = self.held.get(key)
        if not folds:
            return {}
        probs = np.concatenate([p for p, _ in folds])
        y = np.concatenate([t for _, t in folds])
        return {"ece": Score.of(mean_std([expected_calibration_error(p, t) for p, t in folds])),
                "ece_pooled": _r(expected_calibration_error(probs, y)), "ece_floor": _r(ece_floor(probs))}

    def figures(self, ms: list[FoldMetrics], key: CalibKey | None = None, **kw: Any) -> Figures:
        return Figures.of(aggregate(ms, self.labels), **(self.calibration(key) if key else {}), **kw)


# -- one fold: measure (run_fold) into a FoldOutcome, then aggregate it (tally_fold) -------------
def _rows(probs: np.ndarray, fold: Fold) -> list[list[float]]:
    """``probs (n, labels)`` as plain floats (what a fold file stores; JSON keeps them exactly);
    :class:`DataError` when one is NaN or infinite (a model that diverged)."""
    probs = np.asarray(probs, dtype=np.float64)
    if not np.isfinite(probs).all():
        raise DataError(f"fold {fold.id}", "the model's probabilities are not finite (did its training diverge?)")
    return [[float(v) for v in row] for row in probs]


def decision_predictions(probs: np.ndarray) -> np.ndarray:
    """Label indices of a decision's ``probs (n, labels)``; -1 where a row is NaN (no answer)."""
    probs = np.asarray(probs, dtype=np.float64)
    return np.where(np.isnan(probs).any(axis=1), -1, np.nan_to_num(probs, nan=-1.0).argmax(axis=1)).astype(np.int64)


def _measure_decisions(recipe: Recipe, model: EmotionModel, fold: Fold, ctx: TrainContext) -> dict[str, list[int]]:
    """The streaming pipeline's and ``emomon file``'s decisions (when the recipe reports them)."""
    out: dict[str, list[int]] = {}
    for name, method, _ in DECISIONS:
        decide = getattr(recipe, method, None)
        if callable(decide):
            out[name] = [int(v) for v in decision_predictions(np.asarray(decide(model, list(fold.test), ctx)))]
    return out


def _measure_online(recipe: Recipe, model: EmotionModel, fold: Fold, ctx: TrainContext) -> list[OnlinePointOutcome]:
    """The online-adaptive curve (labelled mode) of an adaptive model: each point's counted clips."""
    online = getattr(recipe, "online_proba", None)
    if not callable(online):
        return []
    points = []
    for point in online(model, list(fold.test), ctx):
        sel = np.asarray(point.counted, dtype=bool)
        if sel.any():
            points.append(OnlinePointOutcome(point_name(point.heard), [int(i) for i in np.flatnonzero(sel)], _rows(np.asarray(point.probs)[sel], fold)))
    return points


def _measure_noise(recipe: Recipe, model: EmotionModel, fold: Fold, ctx: TrainContext, noise: Sequence[tuple[str, float]],
                   noise_dir: Path) -> list[NoiseOutcome]:
    """The fold's model on noisy copies of its test clips, per ``(kind, snr)``."""
    out = []
    for kind, snr in noise:
        noisy = noisy_copies(fold.test, kind, snr, noise_dir, pool=ctx.all_utterances, seed=ctx.seed)
        pred = np.asarray(recipe.predict_proba(model, noisy, ctx)).argmax(axis=1)
        out.append(NoiseOutcome(kind, float(snr), [int(v) for v in pred]))
    return out


def run_fold(recipe: Recipe, fold: Fold, ctx: TrainContext, noise: Sequence[tuple[str, float]] = (),
             noise_dir: Path | None = None) -> tuple[EmotionModel, FoldOutcome]:
    """Fit on the fold's train side (seeded with ``ctx.seed``, whatever ran before) and measure
    every decision on its test side: the model and the fold's :class:`FoldOutcome`."""
    seed_everything(ctx.seed)
    log.info("%s fold %s: train %d clips, test %d clips (speakers %s)", recipe.name, fold.id, len(fold.train), len(fold.test), ", ".join(fold.test_speakers))
    t0 = time.perf_counter()
    model = recipe.fit(list(fold.train), ctx)
    seconds = time.perf_counter() - t0
    probs = np.asarray(recipe.predict_proba(model, list(fold.test), ctx))
    outcome = FoldOutcome(fold.id, [u.id for u in fold.test], _rows(probs, fold), seconds,
                          decisions=_measure_decisions(recipe, model, fold, ctx), num_parameters=int(model.num_parameters()),
                          history=history_of(model.config.meta))
    if ctx.mode == "strict":
        outcome.online = _measure_online(recipe, model, fold, ctx)
    if noise:
        outcome.noise = _measure_noise(recipe, model, fold, ctx, noise, noise_dir or Path("noisy"))
    return model, outcome


def _tally_corpora(fold: Fold, probs: np.ndarray, y_true: np.ndarray, tally: _Tally, row: FoldResult) -> None:
    """Per test corpus of the fold: metrics over that corpus's clips (its classes' mean recall)."""
    corpora = np.array([u.corpus for u in fold.test])
    for c in sorted(set(corpora)):
        sel = corpora == c
        m, _ = tally.scores(("corpus", c), probs[sel], y_true[sel])
        tally.corpora.setdefault(c, []).append(m)
        row.corpora[c] = Row.of(m)
        if m.collapse is not None and m.collapse.label is not None:
            log.info("fold %s, test corpus %s: UA %.3f; largest predicted class %s (%.1f %% of %d clips), entropy %.2f of %.2f bits",
                     fold.id, c, m.ua, m.collapse.label, 100 * m.collapse.share, m.n, m.collapse.entropy, m.collapse.entropy_max)


def _tally_decisions(name: str, fold: Fold, outcome: FoldOutcome, y_true: np.ndarray, tally: _Tally, row: FoldResult) -> None:
    for decision, pred in outcome.decisions.items():
        md = compute_metrics(y_true, np.asarray(pred, dtype=np.int64), tally.labels)
        tally.decisions.setdefault(decision, []).append(md)
        row.decisions[decision] = Row.of(md, unanswered=True)
        log.info("%s fold %s: %s decision UA %.3f (%d clips unanswered)", name, fold.id, decision, md.ua, md.unanswered)


def _tally_online(name: str, fold: Fold, outcome: FoldOutcome, y_true: np.ndarray, tally: _Tally, row: FoldResult) -> None:
    corpora = np.array([u.corpus for u in fold.test])
    for point in outcome.online:
        idx = np.asarray(point.counted, dtype=np.int64)
        probs = np.asarray(point.probs, dtype=np.float64).reshape(len(idx), len(tally.labels))
        m, _ = tally.scores(("online", point.heard), probs, y_true[idx])
        tally.online.setdefault(point.heard, []).append(m)
        row.online[point.heard] = Row.of(m)
        for c in sorted(set(corpora[idx])):
            cs = corpora[idx] == c
            tally.online_corpora.setdefault((c, point.heard), []).append(tally.scores(("online", c, point.heard), probs[cs], y_true[idx][cs])[0])
        log.info("%s fold %s [%s]: %s clips heard: UA %.3f (%d clips)", name, fold.id, ONLINE_MODE, point.heard, m.ua, len(idx))


def _tally_noise(name: str, fold: Fold, outcome: FoldOutcome, y_true: np.ndarray, tally: _Tally, row: FoldResult) -> None:
    for n in outcome.noise:
        mn = compute_metrics(y_true, np.asarray(n.pred, dtype=np.int64), tally.labels)
        tally.noise.setdefault((n.kind, n.snr_db), []).append(mn)
        row.noise[f"{n.kind}@{n.snr_db:g}dB"] = Row.of(mn)
        log.info("%s fold %s: %s noise at %g dB SNR: UA %.3f", name, fold.id, n.kind, n.snr_db, mn.ua)


def _prediction_lines(fold: Fold, probs: np.ndarray, y_true: np.ndarray, labels: list[str]) -> list[str]:
    lines = []
    for u, p, t in zip(fold.test, probs, y_true):
        line = {"id": u.id, "speaker": u.speaker, "corpus": u.corpus, "fold": fold.id, "true": labels[t], "pred": labels[int(p.argmax())],
                "scores": {lab: round(float(s), 6) for lab, s in zip(labels, p)}}
        if not fold.speaker_independent:
            line["split"] = SPEAKER_DEPENDENT_LABEL
        lines.append(dumps(line))
    return lines


def tally_fold(name: str, fold: Fold, outcome: FoldOutcome, ctx: TrainContext, tally: _Tally) -> None:
    """Add one fold's outcome (just measured or read back from OUT/folds: the same figures either way) to ``tally``."""
    y_true = ctx.label_indices(fold.test)
    probs = np.asarray(outcome.probs, dtype=np.float64).reshape(len(fold.test), len(tally.labels))
    tally.train_seconds += outcome.train_seconds
    m, ece = tally.scores(("whole",), probs, y_true)
    tally.whole.append(m)
    row = FoldResult(fold.id, list(fold.test_speakers), len(fold.train), len(fold.test), *[_r(v) for v in (m.ua, m.wa, m.f1)],
                     per_class_recall={k: _r(v) for k, v in m.per_class_recall.items()}, train_seconds=round(outcome.train_seconds, 3),
                     ece=_r(ece), ece_floor=_r(ece_floor(probs)), history=list(outcome.history), collapse=rounded_collapse(m.collapse))
    _tally_corpora(fold, probs, y_true, tally, row)
    _tally_decisions(name, fold, outcome, y_true, tally, row)
    _tally_online(name, fold, outcome, y_true, tally, row)
    _tally_noise(name, fold, outcome, y_true, tally, row)
    tally.rows.append(row)
    tally.predictions += _prediction_lines(fold, probs, y_true, tally.labels)
    log.info("%s fold %s: UA %.3f WA %.3f F1 %.3f (%.1f s)", name, fold.id, m.ua, m.wa, m.f1, outcome.train_seconds)


def train_final(recipe: Recipe, utterances: Sequence[Utterance], ctx: TrainContext, out: Path, meta: dict[str, Any], force: bool) -> EmotionModel:
    """Train on all ``utterances`` and save OUT/model with ``meta`` in its config (``force``: over what is there)."""
    seed_everything(ctx.seed)
    log.info("%s: training the final model on all %d clips", recipe.name, len(utterances))
    model = recipe.fit(list(utterances), ctx)
    model.config.meta.update(meta)
    if distributed.is_main():
        model.save(out / MODEL_DIRNAME, overwrite=force)
    return model


def corpus_licences(utterances: Sequence[Utterance]) -> str | None:
    """The terms of the corpora the weights were trained on (see the README's licence section)."""
    terms = [CORPUS_TERMS.get(c, f"{c} (see its licence)") for c in sorted({u.corpus for u in utterances})]
    return "Weights trained on " + "; ".join(terms) + "." if terms else None


CORPUS_TERMS = {
    "ravdess": "RAVDESS (Livingstone & Russo 2018, CC BY-NC-SA 4.0: attribution, non-commercial, share-alike)",
    "emodb": "EmoDB (Burkhardt et al. 2005: free for research; cite the paper)",
    "savee": "SAVEE (Haq & Jackson 2009, 2010: free for research; cite the papers)",
    "crema-d": "CREMA-D (Open Database License / Database Contents License)",
    "tess": "TESS (CC BY-NC-ND 4.0)",
}


def _online_section(tally: _Tally) -> OnlineAdaptive | None:
    if not tally.online:
        return None
    names = [point_name(k) for k in ONLINE_POINTS if point_name(k) in tally.online]
    points = [OnlinePointFigures(n, tally.figures(tally.online[n], ("online", n))) for n in names]
    corpora: dict[str, list[OnlinePointFigures]] = {}
    for (c, n), ms in tally.online_corpora.items():
        corpora.setdefault(c, []).append(OnlinePointFigures(n, tally.figures(ms, ("online", c, n))))
    for c in corpora:
        corpora[c].sort(key=lambda p: names.index(p.heard))
    return OnlineAdaptive(points, corpora=corpora if len(corpora) > 1 or len(tally.corpora) > 1 else {})


def collect_results(tally: _Tally, recipe: Recipe, ctx: TrainContext, *, protocol: str, data: str, speaker_independent: bool,
                    n_utterances: int, num_parameters: int, cpu_ms: tuple[float | None, float | None], wall: float,
                    final_rel: str | None, emomon_version: str | None) -> RunResults:
    """The run's :class:`RunResults` from what the folds measured."""
    summary = aggregate(tally.whole, tally.labels)
    per_corpus = {c: tally.figures(ms, ("corpus", c), n=sum(m.n for m in ms)) for c, ms in sorted(tally.corpora.items())}
    return RunResults(
        model=recipe.name, protocol=protocol, speaker_independent=speaker_independent, mode=ctx.mode, labels=tally.labels,
        data=data, n_utterances=n_utterances, ua=Score.of(summary.ua), wa=Score.of(summary.wa), f1=Score.of(summary.f1),
        per_class_recall={k: Score.of(v) for k, v in summary.per_class_recall.items()}, folds=tally.rows,
        confusion=summary.confusion.astype(int).tolist(), **tally.calibration(("whole",)),
        num_parameters=int(num_parameters), train_seconds=round(tally.train_seconds, 3), wall_seconds=round(wall, 3),
        cpu_ms_per_clip=None if cpu_ms[0] is None else round(cpu_ms[0], 3),
        cpu_ms_per_window=None if cpu_ms[1] is None else round(cpu_ms[1], 3), final_model=final_rel,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), emomon_version=emomon_version or _version(),
        extra={"seed": ctx.seed, "std": "population (ddof=0) over folds", "options": dict(ctx.options), **recipe.extra(ctx)},
        decisions={name: tally.figures(tally.decisions[name], what=what, unanswered=int(sum(f.unanswered for f in tally.decisions[name])))
                   for name, _, what in DECISIONS if tally.decisions.get(name)},
        noise=[NoiseFigures(kind, snr, tally.figures(ms)) for (kind, snr), ms in tally.noise.items()],
        corpora=per_corpus,
        online_adaptive=_online_section(tally),
        protocol_label=None if speaker_independent else SPEAKER_DEPENDENT_LABEL,
        collapse=rounded_collapse(summary.collapse),
    )


def run_settings(recipe: Recipe, utterances: Sequence[Utterance], ctx: TrainContext, protocol: str, data: str,
                 noise: Sequence[tuple[str, float]], emomon_version: str | None) -> RunSettings:
    """What this run's fold results depend on (compared with OUT/folds' on a rerun)."""
    clips = {u.id: u for u in [*ctx.all_utterances, *utterances]}
    return RunSettings(recipe=recipe.name, options=json.loads(json.dumps(dict(ctx.options), sort_keys=True, default=str)),
                       protocol=protocol, mode=ctx.mode, labels=list(ctx.labels), seed=int(ctx.seed), epochs=ctx.epochs,
                       noise=[f"{k}@{s:g}dB" for k, s in noise], data=data, data_digest=data_digest(list(clips.values()), ctx.cache.content_digest),
                       compute=ctx.torch_device.type, emomon_version=emomon_version or _version())


def start_over(out: Path) -> None:
    """``--force``: remove what an earlier run wrote in OUT (its outputs, OUT/model, OUT/folds); nothing else."""
    for name in (METRICS_NAME, PREDICTIONS_NAME, CONFUSION_NAME):
        (out / name).unlink(missing_ok=True)
    for name in (MODEL_DIRNAME, STATE_DIRNAME):
        if (out / name).is_dir():
            shutil.rmtree(out / name)
        else:
            (out / name).unlink(missing_ok=True)


def open_state(out: Path, settings: RunSettings, folds: Sequence[Fold], force: bool) -> RunState:
    """OUT/folds for this run (``force``: after :func:`start_over`); logs which folds an earlier run finished.
    Under ``torchrun`` rank 0 prepares it and the other ranks then read it."""
    main = distributed.is_main()
    if main:
        if force and out.exists():
            start_over(out)
        out.mkdir(parents=True, exist_ok=True)
        state = RunState.open(out, settings)
    distributed.barrier()
    if not main:
        state = RunState.open(out, settings)
    done = [f.id for f in folds if state.path(f).is_file()]
    if done:
        log.warning("%s: resuming: %d of %d folds finished by an earlier run are reused (%s); training the others",
                    out, len(done), len(folds), ", ".join(done))
    return state


def _cross_validate(recipe: Recipe, utterances: Sequence[Utterance], folds: Sequence[Fold], out: Path, ctx: TrainContext,
                    state: RunState, final: bool, noise: Sequence[tuple[str, float]], noise_dir: Path) -> tuple[_Tally, FoldOutcome]:
    """Every fold, reused from OUT/folds or run and saved there; predictions.jsonl as we go. The last fold's outcome
    carries the measured model size and speed when no final model follows (``final`` false)."""
    tally = _Tally(list(ctx.labels))
    tag = "" if all(f.speaker_independent for f in folds) else f" [{SPEAKER_DEPENDENT_LABEL}]"
    outcome: FoldOutcome | None = None
    for i, fold in enumerate(progress(folds, ctx, f"{recipe.name}: folds{tag}")):
        outcome = state.load(fold)
        if outcome is not None:
            log.info("%s fold %s: reusing the results an earlier run saved in %s", recipe.name, fold.id, state.path(fold))
        else:
            model, outcome = run_fold(recipe, fold, ctx, noise, noise_dir)
            if not final and i == len(folds) - 1:
                outcome.cpu_ms_per_clip, outcome.cpu_ms_per_window = measure_cpu_ms_per_clip_and_window(model, utterances)
            if distributed.is_main():
                state.save(fold, outcome)
        tally_fold(recipe.name, fold, outcome, ctx, tally)
        if distributed.is_main():
            atomic_write_bytes(out / PREDICTIONS_NAME, ("\n".join(tally.predictions) + "\n").encode())
    assert outcome is not None
    return tally, outcome


def _final_model(recipe: Recipe, utterances: Sequence[Utterance], ctx: TrainContext, out: Path, meta: dict[str, Any],
                 state: RunState) -> tuple[EmotionModel, float]:
    """OUT/model: reused when an earlier run with these settings saved it whole, else trained and saved
    (over an unfinished save of an earlier run: OUT/model holds nothing else, see :func:`check_out_dir`).
    Returns the model and its training seconds."""
    from ..models.registry import load_model

    record = state.final()
    if record is not None and (out / MODEL_DIRNAME / CONFIG_NAME).is_file():
        log.info("%s: reusing the final model an earlier run saved in %s", recipe.name, out / MODEL_DIRNAME)
        return load_model(out / MODEL_DIRNAME, device="cpu"), record.train_seconds
    main = distributed.is_main()
    if main:
        state.forget_final()
    t0 = time.perf_counter()
    model = train_final(recipe, utterances, ctx, out, meta, force=True)
    seconds = time.perf_counter() - t0
    if main:
        state.mark_final(seconds)
    return model, seconds


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
    Each finished fold is saved in OUT/folds (:mod:`~emomon.training.resume`): the same call
    after an interruption reuses them; ``force`` starts again.
    """
    out = Path(out_dir)
    check_out_dir(out, force, folds)
    distributed.barrier()  # every rank has looked at OUT before rank 0 writes to it (open_state)
    if ctx.mode == "speaker-norm" and not recipe.supports_speaker_norm:
        raise DataError(recipe.name, "this recipe does not support --normalize speaker")
    if not folds:
        raise DataError(protocol, "no folds to run")
    recipe.validate(ctx)  # a bad --set fails before any feature is computed
    if not ctx.all_utterances:
        ctx.all_utterances = list(utterances)
    state = open_state(out, run_settings(recipe, utterances, ctx, protocol, data, noise, emomon_version), folds, force)
    if final and ctx.mode != "strict":
        log.warning("%s: no final model in speaker-norm mode (its input needs the speaker's statistics)", recipe.name)
    final = final and ctx.mode == "strict"
    t_run = time.perf_counter()
    tally, last = _cross_validate(recipe, utterances, folds, out, ctx, state, final, noise, Path(noise_dir) if noise_dir else out / "noisy")
    final_model: EmotionModel | None = None
    size, cpu_ms = last.num_parameters or 0, (last.cpu_ms_per_clip, last.cpu_ms_per_window)
    if final:
        summary = aggregate(tally.whole, tally.labels)
        meta = {"recipe": recipe.name, "trained_on": data, "corpora": sorted({u.corpus for u in utterances}),
                "n_utterances": len(utterances), "protocol": protocol, "cv_ua": _r(summary.ua.mean), "cv_wa": _r(summary.wa.mean),
                "license": corpus_licences(utterances)}
        final_model, seconds = _final_model(recipe, utterances, ctx, out, meta, state)
        tally.train_seconds += seconds
        size, cpu_ms = int(final_model.num_parameters()), measure_cpu_ms_per_clip_and_window(final_model, utterances)
    speaker_independent = all(f.speaker_independent for f in folds)
    results = collect_results(tally, recipe, ctx, protocol=protocol, data=data, speaker_independent=speaker_independent,
                              n_utterances=len(utterances), num_parameters=size, cpu_ms=cpu_ms, wall=time.perf_counter() - t_run,
                              final_rel=MODEL_DIRNAME if final_model is not None else None, emomon_version=emomon_version)
    tag = "" if speaker_independent else f" [{SPEAKER_DEPENDENT_LABEL}]"
    if distributed.is_main():
        write_results(results, out, f"{recipe.name} / {protocol}{tag} / {ctx.mode}")
    return RunResult(results=results, out_dir=out, final_model=final_model)


def write_results(results: RunResults, out: Path, title: str) -> None:
    """OUT/confusion.png and OUT/metrics.json (atomically)."""
    try:
        plot_confusion(np.asarray(results.confusion), results.labels, out / CONFUSION_NAME, f"{title}: UA {results.ua.mean:.3f} ± {results.ua.std:.3f}")
    except ImportError as exc:  # pragma: no cover - matplotlib is a core dependency
        log.warning("no confusion.png (%s)", exc)
    atomic_write_bytes(out / METRICS_NAME, (dumps(results.to_dict(), indent=2) + "\n").encode())
    log.info("%s: UA %.3f ± %.3f, WA %.3f ± %.3f, F1 %.3f ± %.3f -> %s", title, results.ua.mean, results.ua.std, results.wa.mean,
             results.wa.std, results.f1.mean, results.f1.std, out / METRICS_NAME)
    if results.online_adaptive is not None:
        for p in results.online_adaptive.points:
            log.info("%s [%s]: %s clips heard: UA %.3f ± %.3f", title, ONLINE_MODE, p.heard, p.figures.ua.mean, p.figures.ua.std)


# Decisions a recipe may report besides whole clips: (metrics key, recipe method, what it is).
DECISIONS = [
    ("streamed", "stream_proba", "clip decision = mean of the probabilities of its stream windows with speech (file --stream)"),
    ("file", "file_proba", "clip decision = time-weighted mean over its speech segments (emomon file); no speech found = no answer, counted wrong"),
]


def decision_metrics(y_true: np.ndarray, probs: np.ndarray, labels: list[str]) -> FoldMetrics:
    """Metrics of a decision ``probs (n, labels)``; a row of NaN is no answer (counted wrong)."""
    return compute_metrics(y_true, decision_predictions(probs), labels)


def _version() -> str:
    try:
        from ..version import __version__

        return __version__
    except ImportError:  # pragma: no cover
        return "unknown"

#!/usr/bin/env python3
"""Collapse on unseen corpora: head variants and unlabelled per-session corrections, measured.

    python benchmarks/collapse_eval.py                       # loco over ../shared's RAVDESS, EmoDB, SAVEE
    python benchmarks/collapse_eval.py --protocol pairs      # every ordered pair (4 classes)
    python benchmarks/collapse_eval.py --variants plain,balanced --subsample 0.5

For each fold it fits the default recipe's plain head (the shipped recipe's rows: whole clips,
their stream windows with speech, the six noisy copies; features from the training cache,
computed when missing) in several *training* variants, then scores the held-out corpus:

* ``strict``: the head's answers, nothing of the test audio used;
* ``em``, ``balance`` (labelled: they use the test speaker's unlabelled audio): each test speaker's
  clips are a session, the class priors re-estimated from the session's posteriors
  (:mod:`emomon.models.priors`: Saerens' EM, or the prior that spreads the session's mean
  posterior back to the training prior), shrunk by 10 pseudo-clips; ``online`` forms use only the
  10 clips before each clip, as a live session would.
* The same per-session corrections on **single-emotion sessions** (each speaker × emotion a
  session): a person who stays angry must stay angry.

Prints UA %, the largest predicted class's share % and the predicted-label entropy (bits) per
held-out corpus. Temperatures are not fitted (they do not move the argmax; EM's re-weighting uses
the raw posteriors). Figures of the strict column are strict; every other column is its own
labelled mode.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

from emomon.training.recipes.layer_head import PERTURBATIONS as PERTURB  # noqa: E402
VARIANTS = {
    "plain": {},
    "balanced": {"balance": "corpus-class"},
    "corpus-norm": {"corpus_norm": True},
    "balanced+corpus-norm": {"balance": "corpus-class", "corpus_norm": True},
    "balanced-C0.1": {"balance": "corpus-class", "C": 0.1},
    "perturbed": {"augment": "+" + PERTURB},
    "balanced+perturbed": {"balance": "corpus-class", "augment": "+" + PERTURB},
}
"""Training variants: options of the default recipe (``augment`` ``+X``: the default's copies and X)
and this script's own ``corpus_norm`` (each training corpus standardised with its own statistics,
a new voice with their average)."""
SHRINK = 10.0
ONLINE_CLIPS = 10


def load(protocol: str, data: list[str]):
    from emomon.labels import EMOTIONS
    from emomon.training.cli import load_corpora
    from emomon.training.protocols import make_folds, protocol_labels

    everyone = load_corpora(data, "ravdess")
    labels = protocol_labels(protocol, EMOTIONS)
    utts = [u for u in everyone if u.emotion in labels]
    return everyone, labels, make_folds(protocol, utts)


def fold_options(ap, protocol: str) -> None:
    """The options every fold-by-fold benchmark here takes: ``--protocol``, ``--data``, ``--folds``, ``--seed``."""
    ap.add_argument("--protocol", default=protocol, choices=("loco", "emobox", "pairs"))
    ap.add_argument("--data", action="append", help="NAME=DIR (default: ../shared's ravdess, emodb, savee)")
    ap.add_argument("--folds", default="", help="comma-separated fold ids (default: all)")
    ap.add_argument("--seed", type=int, default=0)


def selected_folds(args):
    """``(everyone, labels, folds)`` of :func:`fold_options`' parsed ``args`` (the shared corpora by default)."""
    data = args.data or [f"ravdess={SHARED / 'ravdess-speech'}", f"emodb={SHARED / 'emodb'}", f"savee={SHARED / 'savee'}"]
    everyone, labels, folds = load(args.protocol, data)
    wanted = [f for f in args.folds.split(",") if f]
    return everyone, labels, [f for f in folds if not wanted or f.id in wanted]


def dump_path(folder: Path | None, name: str) -> Path | None:
    """``folder/name.npz`` for a fold's dumped probabilities, the folder made; ``None`` without one."""
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.npz"


def session_correct(probs: np.ndarray, sessions: np.ndarray, order: np.ndarray, train_prior: np.ndarray, how: str,
                    online: bool) -> np.ndarray:
    """``probs (n, K)`` re-weighted per session: with all its clips, or (``online``) the 10 before each."""
    from emomon.models.priors import balance_priors, em_priors, reweight

    estimate = {"em": em_priors, "balance": balance_priors}[how]
    out = np.empty_like(probs)
    for s in np.unique(sessions):
        idx = np.flatnonzero(sessions == s)
        idx = idx[np.argsort(order[idx], kind="stable")]
        if not online:
            out[idx] = reweight(probs[idx], train_prior, estimate(probs[idx], train_prior, SHRINK))
            continue
        for p, i in enumerate(idx):
            before = idx[max(0, p - ONLINE_CLIPS):p]
            out[i] = reweight(probs[i:i + 1], train_prior, estimate(probs[before], train_prior, SHRINK))[0]
    return out


def scores(y: np.ndarray, probs: np.ndarray, labels) -> str:
    from emomon.training.metrics import compute_metrics

    m = compute_metrics(y, probs.argmax(axis=1), list(labels))
    return f"{100 * m.ua:5.1f} {m.collapse.label[:4]:>4} {100 * m.collapse.share:4.0f}% {m.collapse.entropy:4.2f}"


def fit_variant(x, y, speakers, opts: dict, n_labels: int, seed: int, subsample: float):
    from emomon.training.balance import balanced_weights, corpus_of
    from emomon.training.recipes.base import fit_standardised_logreg

    rng = np.random.default_rng(seed)
    keep = rng.random(len(y)) < subsample if subsample < 1 else np.ones(len(y), dtype=bool)
    x, y, corpora = x[keep], y[keep], corpus_of(speakers[keep])
    norm = None
    if opts.get("corpus_norm"):
        stats = {c: (x[corpora == c].mean(axis=0), np.maximum(x[corpora == c].std(axis=0), 1e-6)) for c in np.unique(corpora)}
        for c, (mu, sd) in stats.items():
            x = np.where((corpora == c)[:, None], (x - mu) / sd, x)
        norm = (np.mean([m for m, _ in stats.values()], axis=0), np.mean([s for _, s in stats.values()], axis=0))
    w = balanced_weights(y, corpora, opts.get("balance", "none"))
    head = fit_standardised_logreg(x, y, n_labels, c=float(opts.get("C", 1.0)), seed=seed, max_iter=300, sample_weight=w)
    prior = np.bincount(y, weights=w, minlength=n_labels) / w.sum()
    return head, norm, np.maximum(prior, 1e-6)


def head_probs(head, norm, x: np.ndarray) -> np.ndarray:
    from emomon.training.calibration import softmax
    from emomon.training.recipes.base import head_logits

    if norm is not None:
        x = (x - norm[0]) / norm[1]
    return softmax(head_logits(head, x))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--protocol", default="loco", choices=("loco", "pairs"))
    ap.add_argument("--data", action="append", help="NAME=DIR (default: ../shared's ravdess, emodb, savee)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    ap.add_argument("--subsample", type=float, default=1.0, help="share of the training rows used (speed)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = args.data or [f"ravdess={SHARED / 'ravdess-speech'}", f"emodb={SHARED / 'emodb'}", f"savee={SHARED / 'savee'}"]

    from emomon.training.adaptation import stream_order
    from emomon.training.cache import FeatureCache
    from emomon.training.recipes import get_recipe
    from emomon.training.recipes.base import TrainContext
    from emomon.training.recipes.layer_head import DEFAULT_AUGMENT, DEFAULT_LAYERS

    everyone, labels, folds = load(args.protocol, data)
    ctx = TrainContext(cache=FeatureCache(), all_utterances=everyone, labels=labels, options={"adapt": False}, seed=args.seed)
    recipe = get_recipe("default")
    names = [v for v in args.variants.split(",") if v]
    cols = ["strict", "em/session", "em/online", "balance/session", "balance/online", "balance/1-emotion", "em/1-emotion"]
    print(f"protocol {args.protocol}; cells: UA %, largest predicted class, its share, entropy (bits)")
    print(f"{'fold':<22}{'variant':<22}" + "".join(f"{c:>26}" for c in cols), flush=True)
    for fold in folds:
        t0 = time.perf_counter()
        rows: dict[str, tuple] = {}
        test = list(fold.test)
        xt = recipe._select(recipe.features(test, ctx), DEFAULT_LAYERS)
        yt = ctx.label_indices(test)
        spk = np.array([u.speaker for u in test])
        single = np.array([f"{u.speaker}/{u.emotion}" for u in test])
        order = stream_order(list(spk), args.seed)
        for name in names:
            augment = str(VARIANTS[name].get("augment", ""))
            augment = DEFAULT_AUGMENT + "," + augment[1:] if augment.startswith("+") else augment or DEFAULT_AUGMENT
            if augment not in rows:
                ctx.options["augment"] = augment
                rows[augment] = recipe.training_rows(list(fold.train), DEFAULT_LAYERS, ctx)
            x, y, speakers = rows[augment]
            head, norm, prior = fit_variant(x, y, speakers, VARIANTS[name], len(labels), args.seed, args.subsample)
            p = head_probs(head, norm, xt)
            cells = [scores(yt, p, labels)]
            for how in ("em", "balance"):
                cells += [scores(yt, session_correct(p, spk, order, prior, how, False), labels),
                          scores(yt, session_correct(p, spk, order, prior, how, True), labels)]
            cells += [scores(yt, session_correct(p, single, order, prior, "balance", True), labels),
                      scores(yt, session_correct(p, single, order, prior, "em", True), labels)]
            print(f"{fold.id:<22}{name:<22}" + "".join(f"{c:>26}" for c in cells), flush=True)
        print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The shipped recipe on new voices: strict, online-adaptive, and with the session's answer balance.

    python benchmarks/session_balance.py                                  # loco over ../shared's corpora
    python benchmarks/session_balance.py --protocol emobox                # RAVDESS's six folds (in-corpus)
    python benchmarks/session_balance.py --variants shipped --folds emodb

Each fold is fitted by the default recipe exactly as ``emomon train`` does (``adapt=true``,
``calib_split=both``, and the variant's own options), then its held-out clips are scored. The
variant ``shipped`` is the recipe shipped before issue 25 (no balance, no perturbations); the
default shipped now is ``balanced+perturbed`` (``SHIPPED_OPTIONS`` of the recipe):

* ``strict``: whole clips, nothing of the test speakers used (the strict figure of ``emomon train``);
* ``online@10``: each clip standardised with the 10 clips of its speaker before it
  (``emomon train``'s online-adaptive point 10; labelled mode);
* ``adapt+bal``: every clip standardised with all the speaker's clips before it, then its answer
  balanced over the posteriors of the 10 clips before it
  (:class:`emomon.models.priors.AnswerBalance`, shrunk by 10 pseudo-clips; labelled mode: what a
  live session with both corrections answers); ``bal@10`` the same, counting clips 10 onwards;
* ``1-emotion``: the same two corrections where every session is one speaker in one emotion (a
  person who stays angry must stay angry).

History and shrink (10 clips each) were fixed before any measurement, not tuned.
Cells: UA %, the largest predicted class, its share of the clips, the predicted-label entropy (bits).
A protocol whose folds share a test corpus (emobox) ends with the mean ± std over folds.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emomon.training.recipes.layer_head import PERTURBATIONS as PERTURB  # noqa: E402

BASE = {"adapt": True, "calib_split": "both"}
VARIANTS = {
    "shipped": {},
    "balanced": {"balance": "corpus-class"},
    "balanced+perturbed": {"balance": "corpus-class", "augment": "+" + PERTURB},
}
"""The default recipe's options on top of the shipped ones (``augment`` ``+X``: the default copies and X)."""
HISTORY = 10
SHRINK = 10.0
COLUMNS = ("strict", "online@10", "adapt+bal", "bal@10", "1-emotion")


def cell(y: np.ndarray, probs: np.ndarray, labels) -> tuple[str, float, float]:
    from emomon.training.metrics import compute_metrics

    m = compute_metrics(y, probs.argmax(axis=1), list(labels))
    return f"{100 * m.ua:5.1f} {m.collapse.label[:4]:>4} {100 * m.collapse.share:3.0f}% {m.collapse.entropy:4.2f}", m.ua, m.collapse.share


def options(name: str) -> dict:
    from emomon.training.recipes.layer_head import DEFAULT_AUGMENT

    opts = {**BASE, **VARIANTS[name]}
    augment = str(opts.get("augment", ""))
    if augment.startswith("+"):
        opts["augment"] = DEFAULT_AUGMENT + "," + augment[1:]
    return opts


def measure(recipe, fold, ctx, labels, dump: Path | None = None) -> list[tuple[str, float, float]]:
    """The five cells of one fitted fold (module docstring); ``dump``: the clips' probabilities
    (strict, adapted, adapted on one-emotion sessions) saved there as ``.npz``."""
    from emomon.training.adaptation import balanced_answers, stream_order

    model = recipe.fit(list(fold.train), ctx)
    test = list(fold.test)
    y = ctx.label_indices(test)
    spk = [u.speaker for u in test]
    prior = np.asarray(model.config.class_prior)
    points = {p.heard: p for p in recipe.online_proba(model, test, ctx)}
    strict = recipe.predict_proba(model, test, ctx)
    p10, pall = points[10], points[None]
    bal = balanced_answers(pall.probs, spk, ctx.seed, prior, HISTORY, SHRINK)
    late = stream_order(spk, ctx.seed) >= HISTORY
    single = [dataclasses.replace(u, speaker=f"{u.speaker}/{u.emotion}") for u in test]
    one = {p.heard: p for p in recipe.online_proba(model, single, ctx)}[None]
    bal1 = balanced_answers(one.probs, [u.speaker for u in single], ctx.seed, prior, HISTORY, SHRINK)
    if dump is not None:
        np.savez(dump, y=y, speaker=np.asarray(spk), strict=strict, adapted=pall.probs, single=one.probs,
                 order=stream_order(spk, ctx.seed), prior=prior, labels=np.asarray(list(labels)))
    return [cell(y, strict, labels), cell(y[p10.counted], p10.probs[p10.counted], labels),
            cell(y, bal, labels), cell(y[late], bal[late], labels), cell(y, bal1, labels)]


def main() -> None:
    from collapse_eval import dump_path, fold_options, selected_folds  # this folder

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    fold_options(ap, "loco")
    ap.add_argument("--variants", default="shipped,balanced+perturbed", help=f"comma-separated, of {', '.join(VARIANTS)}")
    ap.add_argument("--dump", type=Path, help="a folder for each fold's clip probabilities (FOLD-VARIANT.npz)")
    args = ap.parse_args()

    from emomon.training.cache import FeatureCache
    from emomon.training.recipes import get_recipe
    from emomon.training.recipes.base import TrainContext

    everyone, labels, folds = selected_folds(args)
    recipe = get_recipe("default")
    print(f"protocol {args.protocol}; cells: UA %, largest predicted class, its share, entropy (bits)")
    print(f"{'fold':<12}{'variant':<22}" + "".join(f"{c:>24}" for c in COLUMNS), flush=True)
    tally: dict[str, list[list[tuple[float, float]]]] = {}
    for name in [v for v in args.variants.split(",") if v]:
        for fold in folds:
            t0 = time.perf_counter()
            ctx = TrainContext(cache=FeatureCache(), all_utterances=everyone, labels=labels, options=options(name), seed=args.seed)
            cells = measure(recipe, fold, ctx, labels, dump_path(args.dump, f"{args.protocol}-{fold.id}-{name}"))
            tally.setdefault(name, []).append([(ua, share) for _, ua, share in cells])
            print(f"{fold.id:<12}{name:<22}" + "".join(f"{c:>24}" for c, _, _ in cells) + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
        if args.protocol == "emobox":
            a = np.array(tally[name])  # (folds, columns, 2)
            print(f"{'mean ± std':<12}{name:<22}" + "".join(
                f"{100 * a[:, j, 0].mean():>9.1f} ± {100 * a[:, j, 0].std():4.1f} {100 * a[:, j, 1].mean():3.0f}%" for j in range(len(COLUMNS))), flush=True)


if __name__ == "__main__":
    main()

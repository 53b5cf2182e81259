#!/usr/bin/env python3
"""Diagnostics behind the ``finetune`` recipe's linear probe, on one EmoBox RAVDESS fold.

    python benchmarks/finetune_probe.py layers            # probe UA by pooled layers: inner split and test actors
    python benchmarks/finetune_probe.py masks             # a probe's loss on training crops, with and without masks
    python benchmarks/finetune_probe.py layers --fold 2   # another fold

``layers``: a standardised logistic regression (C = 1, the default model's head) on each whole
clean clip's pooled mean and std of the chosen Whisper-base layers, trained on the fold's training
actors less the recipe's validation actors (15 %, seed 0), and scored on those validation actors
(what a choice may look at) and, separately, on the fold's test actors (what it may not).

``masks``: the probe ``finetune`` starts from (layers 4-6, the tuned states only), fitted as the
recipe fits it, then its mean cross-entropy on 160 training clips' 3 s crops (the recipe's
clean-or-noisy draws), with no masks, with the recipe's two zeroed time and channel bands, and with
the bands filled with the clip's mean instead. Features come from the training cache
(``~/.cache/emomon/features``), computed when missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))
LAYER_SETS = ([2, 3, 4, 5, 6], [4, 5, 6], [4], [5], [6])


def fold_sides(fold_no: int, data: Path):
    from emomon.training.corpora.registry import load_corpus
    from emomon.training.loop import validation_split
    from emomon.training.protocols import emobox_folds

    fold = emobox_folds(load_corpus("ravdess", data))[fold_no - 1]
    tr, va = validation_split(fold.train, 0.15, "speakers", 0)
    return tr, va, list(fold.test)


def layers_report(fold_no: int, data: Path) -> None:
    from emomon.training.cache import FeatureCache
    from emomon.training.metrics import compute_metrics
    from emomon.training.recipes.base import TrainContext, fit_standardised_logreg, head_logits
    from emomon.training.recipes.layer_head import layer_pool

    ctx = TrainContext(cache=FeatureCache())
    tr, va, te = fold_sides(fold_no, data)
    x = {name: layer_pool(side, ctx) for name, side in (("train", tr), ("validation", va), ("test", te))}
    y = {name: ctx.label_indices(side) for name, side in (("train", tr), ("validation", va), ("test", te))}
    print(f"fold {fold_no}: {len(tr)} training clips, validation actors {sorted({u.speaker for u in va})}, "
          f"test actors {sorted({u.speaker for u in te})}")
    print(f"{'layers':<18}{'validation UA':>15}{'test UA':>10}")
    for layers in LAYER_SETS:
        pick = lambda a: a[:, layers].reshape(len(a), -1)  # noqa: E731
        head = fit_standardised_logreg(pick(x["train"]), y["train"], 8, 1.0)
        ua = {}
        for side in ("validation", "test"):
            pred = head_logits(head, pick(x[side])).argmax(1)
            ua[side] = compute_metrics(y[side], pred, [str(i) for i in range(8)]).ua
        print(f"{str(layers):<18}{100 * ua['validation']:>15.1f}{100 * ua['test']:>10.1f}", flush=True)


def masks_report(fold_no: int, data: Path) -> None:
    import torch

    from emomon.training.cache import FeatureCache
    from emomon.training.recipes import get_recipe
    from emomon.training.recipes.base import TrainContext
    from emomon.training.recipes.finetune import MASK_CHANNELS, MASK_FRAMES, _CropBatches

    torch.set_num_threads(1)
    ctx = TrainContext(cache=FeatureCache(), options={"layers": [4, 5, 6]})
    recipe = get_recipe("finetune")
    model = recipe.template(ctx).eval()
    tr, _, _ = fold_sides(fold_no, data)
    variants = recipe._variants(tr, model, ctx)
    y = ctx.label_indices(tr)
    recipe._probe(model, variants, y, ctx)
    idx = np.random.default_rng(0).permutation(len(tr))[:160]
    frames = int(round(3.0 * model.backbone.frame_rate))

    def mean_fill(self, h: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mu = h.mean(axis=0, keepdims=True)
        for _ in range(self.masks):
            w = int(rng.integers(0, min(MASK_FRAMES, len(h) // 4) + 1))
            t0 = int(rng.integers(0, len(h) - w + 1))
            h[t0 : t0 + w] = mu
            c = int(rng.integers(0, min(MASK_CHANNELS, h.shape[1] // 8) + 1))
            c0 = int(rng.integers(0, h.shape[1] - c + 1))
            h[:, c0 : c0 + c] = mu[:, c0 : c0 + c]
        return h

    for label, masks, fill in (("no masks", 0, None), ("2 zeroed bands (the recipe's masks)", 2, None),
                               ("2 bands filled with the clip's mean", 2, mean_fill)):
        batches = _CropBatches(variants, y, frames, masks, 0, torch.device("cpu"))
        if fill is not None:
            batches._mask = fill.__get__(batches)  # type: ignore[method-assign]
        with torch.no_grad():
            loss = sum(float(batches.loss_sum(model, idx[s : s + 16])) for s in range(0, len(idx), 16)) / len(idx)
        print(f"fold {fold_no}, {label}: mean training-crop loss {loss:.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("layers", "masks"))
    ap.add_argument("--fold", type=int, default=1, help="EmoBox fold, 1-6 (default 1)")
    ap.add_argument("--data", type=Path, default=SHARED / "ravdess-speech", help="RAVDESS speech directory")
    args = ap.parse_args()
    if not args.data.is_dir():
        sys.exit(f"finetune_probe: {args.data}: no RAVDESS directory (--data)")
    (layers_report if args.what == "layers" else masks_report)(args.fold, args.data)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Speaker adaptation on sessions that hold one emotion, or mostly one (issue 26).

    python benchmarks/adapt_skew.py --protocol emobox        # RAVDESS's six folds (in-corpus voices)
    python benchmarks/adapt_skew.py --protocol loco          # each corpus held out (new voices)

Each fold is fitted by the default recipe with the shipped options (``SHIPPED_OPTIONS``:
``adapt=true``, ``calib_split=both``, rows balanced over corpora and classes, noisy and perturbed
copies), then its held-out clips are answered as sessions of three kinds:

* ``mixed``: one session per speaker holding all its clips (every emotion in the corpus's shares);
* ``80%``: per speaker and emotion, that emotion's clips and a quarter as many of the speaker's
  others (drawn at random, seeded): 80 % one emotion;
* ``1-emo``: per speaker and emotion, that emotion's clips alone (a person who stays angry).

Within a session the clips come in a seeded random order and each clip is classified with the
statistics of the session's clips before it (the before-only online mode: what ``listen`` does),
by each adaptation variant:

* ``strict``: no adaptation (the model's prior statistics; the strict figure);
* ``adapt``: the shipped adaptation (the adapted head's share grows as ``n / (N0 + n)``);
* ``cap 0.5``: that share capped at one half (the plain head keeps at least half of the answer);
* ``gate``: the shipped adaptation, except while the session's plain answers so far look like one
  real emotion (one class > 70 % of at least 5 clips with a mean margin >= 0.3, the thresholds of
  the confidence floor in emomon/defaults.py, fixed before measuring): then the plain answer.

Cells: UA % over the session kind's clips (every session's clips count). Labelled mode for all but
``strict``: the test speakers' own audio (unlabelled) adapts the answers.
``--dump DIR`` saves the probabilities for ``benchmarks/collapse_watch.py``.
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

from emomon.training.recipes.layer_head import SHIPPED_OPTIONS as SHIPPED  # noqa: E402
VARIANTS = ("strict", "adapt", "cap 0.5", "gate")
KINDS = ("mixed", "80%", "1-emo")
GATE_MIN = 5


def skewed(test: list, seed: int, share: float = 0.8) -> list:
    """Sessions ``80%``: per speaker and emotion, its clips plus ``(1 - share) / share`` as many of
    the speaker's others, each copy's speaker renamed ``speaker/emotion``."""
    rng = np.random.default_rng(seed)
    out = []
    by_speaker: dict[str, list] = {}
    for u in test:
        by_speaker.setdefault(u.speaker, []).append(u)
    for spk, utts in sorted(by_speaker.items()):
        for emo in sorted({u.emotion for u in utts}):
            mine = [u for u in utts if u.emotion == emo]
            others = [u for u in utts if u.emotion != emo]
            k = min(len(others), int(round(len(mine) * (1 - share) / share)))
            pick = [others[i] for i in rng.choice(len(others), size=k, replace=False)] if k else []
            out += [dataclasses.replace(u, speaker=f"{spk}/{emo}") for u in mine + pick]
    return out


def answer(recipe, model, utts, ctx, variant: str) -> np.ndarray:
    """``(n, labels)``: each clip of ``utts`` answered within its session (module docstring)."""
    from emomon.models.adapt import FeatureStats
    from emomon.stream.familiarity import margin
    from emomon.training.adaptation import stream_order
    from emomon.training.recipes.layer_head import STREAM_HOP

    x = recipe._select(recipe.features(utts, ctx), model.layers)
    if variant == "strict":
        return recipe._head_proba(model, x)
    stats = [FeatureStats.of(r, len(r) * STREAM_HOP) if len(r) else FeatureStats.empty(x.shape[1])
             for r in recipe._heard_rows(utts, model.layers, ctx)]
    adapter = model.new_adapter()
    plain = recipe._head_proba(model, x)
    pos = stream_order([u.speaker for u in utts], ctx.seed)
    out = np.zeros_like(plain)
    for spk in sorted({u.speaker for u in utts}):
        idx = [i for i in np.argsort(pos, kind="stable") if utts[i].speaker == spk]
        heard = FeatureStats.empty(x.shape[1])
        for p, i in enumerate(idx):
            state = adapter.state(heard)
            if variant == "cap 0.5":
                state = dataclasses.replace(state, weight=min(state.weight, 0.5))
            out[i] = recipe._head_proba(model, x[i : i + 1], state)[0]
            if variant == "gate" and p >= GATE_MIN:
                past = plain[idx[:p]]
                tops = past.argmax(axis=1)
                top = np.bincount(tops).argmax()
                mine = tops == top
                if mine.mean() > 0.7 and np.mean([margin(r) for r in past[mine]]) >= 0.3:
                    out[i] = plain[i]
            heard = heard + stats[i]
    return out


def measure(recipe, fold, ctx, labels, dump: Path | None) -> dict[tuple[str, str], float]:
    from emomon.training.metrics import compute_metrics

    model = recipe.fit(list(fold.train), ctx)
    test = list(fold.test)
    sessions = {"mixed": test, "80%": skewed(test, ctx.seed),
                "1-emo": [dataclasses.replace(u, speaker=f"{u.speaker}/{u.emotion}") for u in test]}
    cells, saved = {}, {}
    for kind, utts in sessions.items():
        y = ctx.label_indices(utts)
        for v in VARIANTS:
            probs = answer(recipe, model, utts, ctx, v)
            cells[kind, v] = compute_metrics(y, probs.argmax(axis=1), list(labels)).ua
            saved[f"{kind}|{v}"] = probs
        saved[f"{kind}|y"] = y
        saved[f"{kind}|speaker"] = np.asarray([u.speaker for u in utts])
    if dump is not None:
        np.savez(dump, labels=np.asarray(list(labels)), prior=np.asarray(model.config.class_prior), **saved)
    return cells


def main() -> None:
    from collapse_eval import dump_path, fold_options, selected_folds  # this folder

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    fold_options(ap, "emobox")
    ap.add_argument("--dump", type=Path, help="a folder for each fold's probabilities (adapt-PROTOCOL-FOLD.npz)")
    args = ap.parse_args()

    from emomon.training.cache import FeatureCache
    from emomon.training.recipes import get_recipe
    from emomon.training.recipes.base import TrainContext

    everyone, labels, folds = selected_folds(args)
    recipe = get_recipe("default")
    cols = [("mixed", "strict"), ("80%", "strict")] + [(k, v) for k in KINDS for v in VARIANTS if v != "strict"]
    print(f"protocol {args.protocol}; UA % per session kind and adaptation variant")
    print(f"{'fold':<12}" + "".join(f"{k + ' ' + v:>15}" for k, v in cols), flush=True)
    rows = []
    for fold in folds:
        t0 = time.perf_counter()
        ctx = TrainContext(cache=FeatureCache(), all_utterances=everyone, labels=labels, options=dict(SHIPPED), seed=args.seed)
        cells = measure(recipe, fold, ctx, labels, dump_path(args.dump, f"adapt-{args.protocol}-{fold.id}"))
        rows.append([cells[c] for c in cols])
        print(f"{fold.id:<12}" + "".join(f"{100 * cells[c]:>15.1f}" for c in cols) + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    if len(rows) > 1:
        a = 100 * np.array(rows)
        print(f"{'mean':<12}" + "".join(f"{m:>15.1f}" for m in a.mean(axis=0)))
        print(f"{'std':<12}" + "".join(f"{s:>15.1f}" for s in a.std(axis=0)))


if __name__ == "__main__":
    main()

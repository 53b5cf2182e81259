#!/usr/bin/env python3
"""How the confidence floor (stream/familiarity.CollapseWatch) and a balance gated by it behave,
on the clip probabilities that ``session_balance.py --dump DIR`` saves.

    python benchmarks/session_balance.py --dump runs/probs                      # loco (new voices)
    python benchmarks/session_balance.py --protocol emobox --variants shipped --dump runs/probs
    python benchmarks/collapse_watch.py runs/probs/*.npz

Each held-out speaker is one session, its clips in the seeded stream order (``mixed``); and each
speaker in one emotion (``1-emotion``: a person who stays angry). Every clip is one answer lasting
``--clip-s`` seconds of stream time (the corpora's clips last about 3.5 s), so the watch's span of
60 s is about 17 clips and its 30 windows (15 s at a 0.5 s hop) about 5 clips. Per margin threshold:

* ``flag%``: the clips answered while the session counts as collapsed ("uncertain: unfamiliar voice");
* ``UA ok``/``UA flag``: UA of the clips not flagged / flagged (a useful floor flags the wrong ones);
* ``top%``: the largest class's share of the unflagged answers;
* ``gated``: UA when the answers of a flagged session are balanced (models/priors.AnswerBalance,
  10 clips, shrink 10) and the others left as the model gave them.

``strict`` rows use the plain model's probabilities (no adaptation); ``adapted`` the speaker-adapted
ones (``single``: adapted on the one-emotion sessions). Labels are used only to score.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emomon import defaults  # noqa: E402
from emomon.models.priors import AnswerBalance  # noqa: E402
from emomon.stream.familiarity import CollapseOptions, CollapseWatch  # noqa: E402

MARGINS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4)


def ua(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Unweighted average recall over the classes present in ``y``; NaN when ``y`` is empty."""
    recalls = [np.mean(pred[y == c] == c) for c in range(k) if np.any(y == c)]
    return float(np.mean(recalls)) if recalls else float("nan")


def sessions(keys: np.ndarray, order: np.ndarray) -> list[np.ndarray]:
    """Indices of each session's clips, in stream order."""
    out = []
    for key in sorted(set(keys.tolist())):
        idx = np.flatnonzero(keys == key)
        out.append(idx[np.argsort(order[idx], kind="stable")])
    return out


def run(probs: np.ndarray, groups: list[np.ndarray], opts: CollapseOptions, clip_s: float, prior: np.ndarray):
    """``(flagged (n,), gated answers (n, K))`` of every clip, each session watched on its own."""
    flagged = np.zeros(len(probs), dtype=bool)
    gated = probs.astype(np.float64).copy()
    for idx in groups:
        watch, bal = CollapseWatch(opts), AnswerBalance(prior, 10, 10.0)
        for j, i in enumerate(idx):
            balanced = bal.answer(probs[i])
            flagged[i] = watch.observe((j + 1) * clip_s, probs[i])
            if flagged[i]:
                gated[i] = balanced
    return flagged, gated


def report(name: str, probs: np.ndarray, y: np.ndarray, groups, args, prior: np.ndarray) -> None:
    k = probs.shape[1]
    pred = probs.argmax(axis=1)
    top = np.bincount(pred, minlength=k).max() / len(pred)
    print(f"{name:<34} plain UA {100 * ua(y, pred, k):5.1f}  top {100 * top:3.0f}%")
    if args.classes:
        for c, lab in enumerate(args.labels):
            print(f"{'':<36}{lab:<10} true {100 * np.mean(y == c):4.1f}%  answered {100 * np.mean(pred == c):4.1f}%"
                  f"  mean p {100 * probs[:, c].mean():4.1f}%  precision {100 * np.mean(y[pred == c] == c) if np.any(pred == c) else float('nan'):5.1f}%")
    for m in MARGINS:
        opts = CollapseOptions(span_s=defaults.COLLAPSE_SPAN_S, share=defaults.COLLAPSE_SHARE, margin=m,
                               min_windows=args.min_clips)
        flagged, gated = run(probs, groups, opts, args.clip_s, prior)
        keep = ~flagged
        top_ok = np.bincount(pred[keep], minlength=k).max() / max(keep.sum(), 1)
        print(f"{'':<34} margin {m:4.2f}: flag {100 * flagged.mean():5.1f}%  UA ok {100 * ua(y[keep], pred[keep], k):5.1f}"
              f"  UA flag {100 * ua(y[flagged], pred[flagged], k):5.1f}  top {100 * top_ok:3.0f}%"
              f"  gated UA {100 * ua(y, gated.argmax(axis=1), k):5.1f}")


def adapt_dump(d, args) -> None:
    """The rows of an ``adapt_skew.py --dump`` file: each session kind, strict and adapted."""
    from emomon.training.adaptation import stream_order

    prior = d["prior"]
    for kind in ("mixed", "80%", "1-emo"):
        y, spk = d[f"{kind}|y"], d[f"{kind}|speaker"]
        groups = sessions(spk, stream_order(spk.tolist(), args.seed))
        for variant in ("strict", "adapt", "gate"):
            key = f"{kind}|{variant}"
            if key not in d and variant == "strict" and kind == "1-emo":
                key = "mixed|strict"  # the same clips in the same order, only the sessions differ
            if key in d:
                report(f"{variant}, {kind} sessions", d[key], y, groups, args, prior)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dumps", nargs="+", type=Path)
    ap.add_argument("--clip-s", type=float, default=3.5, help="stream seconds one clip stands for")
    ap.add_argument("--min-clips", type=int, default=5, help="the watch's min_windows, in clips")
    ap.add_argument("--seed", type=int, default=0, help="the seed the dump's stream order used")
    ap.add_argument("--classes", action="store_true", help="also each class's true and answered share, mean probability "
                    "(its calibration in the large) and precision")
    args = ap.parse_args()
    for path in args.dumps:
        d = np.load(path)
        args.labels = [str(lab) for lab in d["labels"]]
        if "mixed|y" in d:
            print(f"== {path.stem}")
            adapt_dump(d, args)
            continue
        y, spk, order, prior = d["y"], d["speaker"], d["order"], d["prior"]
        labels = d["labels"]
        single = np.array([f"{s}/{labels[c]}" for s, c in zip(spk, y)])
        print(f"== {path.stem}")
        report("strict, mixed sessions", d["strict"], y, sessions(spk, order), args, prior)
        report("strict, 1-emotion sessions", d["strict"], y, sessions(single, order), args, prior)
        report("adapted, mixed sessions", d["adapted"], y, sessions(spk, order), args, prior)
        report("adapted, 1-emotion sessions", d["single"], y, sessions(single, order), args, prior)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""CPU cost of one stream window, per model, measured in one run (prints figures; asserts nothing).

    python benchmarks/window_cost.py                                  # the shipped default
    python benchmarks/window_cost.py default /tmp/old-default         # two models, ratio to the first
    python benchmarks/window_cost.py default --threads 1 --rounds 7 --windows 20

Each model classifies the same 3 s windows (RAVDESS clips from ../shared when present, else
synthesized harmonic "speech"), one window per call, on the CPU with ``--threads`` torch threads,
exactly as the live monitor does: an adaptive model goes through ``predict_proba_adapted`` with a
speaker adapter (standardise with what was heard, then learn the window), any other model through
``predict_proba``. The models take turns, round by round, so that a change in the machine's load
falls on all of them alike; the figure per model is the median over rounds of its mean ms per
window, and the ratio is taken to the first model's figure in the same round (median of ratios).

To compare with an earlier shipped model, extract its directory from git first, e.g.
``mkdir -p /tmp/old && git show REV:emomon/pretrained/default/config.json > /tmp/old/config.json &&
git show REV:emomon/pretrained/default/model.safetensors > /tmp/old/model.safetensors``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

RAVDESS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ravdess-speech"
RATE = 16000


def windows(n: int, seconds: float) -> list[np.ndarray]:
    """``n`` windows ``(samples,)`` of ``seconds`` at 16 kHz: RAVDESS clips' starts, or synthesized."""
    size = int(round(seconds * RATE))
    clips = sorted(RAVDESS.glob("Actor_*/*.flac"))[:: max(1, 1440 // max(n, 1))][:n] if RAVDESS.is_dir() else []
    if clips:
        from emomon.audio import decode_audio

        out = [decode_audio(c, RATE) for c in clips]
        return [np.pad(x[:size], (0, max(0, size - len(x)))).astype(np.float32) for x in out]
    rng = np.random.default_rng(0)
    t = np.arange(size) / RATE
    return [(0.2 * np.sin(2 * np.pi * (110 + 40 * rng.random()) * t * (1 + 0.1 * np.sin(3 * t)))
             * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2)).astype(np.float32) for _ in range(n)]


def one_round(model, wins: list[np.ndarray]) -> float:
    """Mean ms per window over ``wins``, the way the stream worker calls the model."""
    adapter = model.new_adapter() if hasattr(model, "new_adapter") else None
    times = []
    for w in wins:
        x = w[None, :]
        t0 = time.perf_counter()
        if adapter is not None:
            model.predict_proba_adapted(x, [adapter], [0.5])
        else:
            model.predict_proba(x)
        times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.mean(times))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", default=["default"], help="shipped names or model directories")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--windows", type=int, default=20, help="windows per round")
    ap.add_argument("--seconds", type=float, default=3.0, help="window length")
    args = ap.parse_args(argv)

    import torch

    from emomon.models import load_model

    torch.set_num_threads(args.threads)
    print("command:", " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]))
    print(f"machine: nproc {os.cpu_count()}, torch {torch.__version__}, {args.threads} thread(s), load {os.getloadavg()}")
    models = {name: load_model(name, device="cpu").eval() for name in args.models}
    for name, m in models.items():
        print(f"{name}: {type(m).__name__}, adaptive: {bool(getattr(m, 'adaptive', False))}, corpora: {m.config.meta.get('corpora')}")
    wins = windows(args.windows, args.seconds)
    for m in models.values():  # warm-up
        one_round(m, wins[:2])
    per: dict[str, list[float]] = {n: [] for n in models}
    for _ in range(args.rounds):
        for name, m in models.items():
            per[name].append(one_round(m, wins))
    first = args.models[0]
    for name in models:
        ms = statistics.median(per[name])
        ratio = statistics.median(a / b for a, b in zip(per[name], per[first]))
        print(f"{name:40s} {ms:7.1f} ms per {args.seconds:g} s window (median of {args.rounds} rounds × {len(wins)}; "
              f"min {min(per[name]):.1f}, max {max(per[name]):.1f}); ratio to {first}: {ratio:.3f}")
    print(f"load at the end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

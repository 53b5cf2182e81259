#!/usr/bin/env python3
"""A Whisper encoder in bf16 two ways: under ``torch.autocast`` against on a bf16 copy of its weights
(what ``--precision bf16``/``auto`` runs since 2026-12-07), with fp32 beside (prints figures,
asserts nothing).

    python benchmarks/bf16_copy.py                 # the default's encoder
    python benchmarks/bf16_copy.py --model fast --seconds 2

For batch 1 and 16 of 3 s windows (random noise: the cost does not depend on the sound), the
encoder's windows/s on the mel frames (the log-mel front end, fp32 in every variant, is computed
outside the timing), the three variants taking turns (``--rounds`` rounds, median); then each bf16
variant's relative error against fp32 for each pooled layer's states, ``||h - h32|| / ||h32||``.
On a CPU without native bf16 (no AMX / AVX512-BF16) both bf16 variants are emulated and slow.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch


def rate(fn, batch: int, seconds: float) -> float:
    """Windows per second of ``fn`` over about ``seconds``."""
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n * batch / (time.perf_counter() - t0)


def variants(model) -> dict:
    """name → function of mel frames ``(batch, frames, mels)`` → fp32 states up to the model's last layer."""
    from emomon.models.precision import bf16_copy

    enc32 = model.backbone.encoder
    enc16 = bf16_copy(model.backbone).encoder
    upto = max(model.layers)

    def autocast(mel):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return [s.float() for s in enc32(mel, upto)]

    return {"fp32": lambda mel: enc32(mel, upto), "autocast": autocast,
            "bf16 copy": lambda mel: [s.float() for s in enc16(mel.to(torch.bfloat16), upto)]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--seconds", type=float, default=2.0, help="timed seconds per variant and round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    from emomon.features.mel import log_mel
    from emomon.models import load_model

    print(f"machine: nproc {os.cpu_count()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), load {os.getloadavg()}")
    model = load_model(args.model, device="cpu").eval()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((16, 48000)).astype(np.float32) * 0.1)
    mel = log_mel(x, model.backbone.front)[:, :300]
    fns = variants(model)
    with torch.inference_mode():
        for batch in (1, 16):
            m = mel[:batch]
            for fn in fns.values():
                fn(m)
            rates: dict[str, list[float]] = {k: [] for k in fns}
            for _ in range(args.rounds):
                for k, fn in fns.items():
                    rates[k].append(rate(lambda fn=fn: fn(m), batch, args.seconds))
            med = {k: float(np.median(v)) for k, v in rates.items()}
            print(f"{args.model} batch {batch:2d}: " + ", ".join(f"{k} {v:.1f} windows/s" for k, v in med.items())
                  + f"; bf16 copy / autocast {med['bf16 copy'] / med['autocast']:.2f}x")
        ref = fns["fp32"](mel)
        for k in ("autocast", "bf16 copy"):
            got = fns[k](mel)
            errs = [float((got[i] - ref[i]).norm() / ref[i].norm()) for i in model.layers]
            print(f"{k:9s} relative error by layer {list(model.layers)}: " + " ".join(f"{e:.4f}" for e in errs))
    print(f"load at the end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

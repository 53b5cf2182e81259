#!/usr/bin/env python3
"""How many real-time streams one inference worker keeps up with (prints figures; asserts nothing).

    python benchmarks/streams_bench.py                          # N = 1, 4, 8, 12, 16, 24; 30 s each
    python benchmarks/streams_bench.py --streams 8,16 --max-wait 0,0.05
    python benchmarks/streams_bench.py --backend onnx --json out.json

Each stream is a 30 s file (RAVDESS clips of different actors, ../shared; synthesized speech-like
audio without it) read *paced*, in real time, as ``emomon file f1 ... fN --stream --no-ui``
does: N streams through the one model, the worker batching their windows. Per N (and per
``--max-wait``): capture-to-result latency p50/p95/max over every classified window, windows
per second, mean batch size, and audio dropped (a stream that falls more than ``max_lag``
behind drops its oldest audio: ``dropped_s``). The goal of issue 13: p95 <= 250 ms and nothing
dropped at 24 streams.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RAVDESS = REPO.parent / "shared" / "data" / "ravdess-speech"
SR = 16000
sys.path.insert(0, str(REPO))


def stream_files(n: int, seconds: float, out: Path) -> list[Path]:
    """``n`` WAV files of ``seconds`` each: RAVDESS clips, actor ``i % 24 + 1`` for file ``i``."""
    import soundfile as sf

    from emomon.audio import decode_audio

    files = []
    for i in range(n):
        path = out / f"stream{i:02d}.wav"
        if not path.exists():
            clips = sorted((RAVDESS / f"Actor_{i % 24 + 1:02d}").glob("*.flac")) if RAVDESS.is_dir() else []
            if clips:
                parts, total = [], 0
                for c in clips[(i // 24) * 7:] + clips:
                    x = decode_audio(c, SR)
                    parts.append(x)
                    total += len(x)
                    if total >= seconds * SR:
                        break
                x = np.concatenate(parts)[: int(seconds * SR)]
            else:
                rng = np.random.default_rng(i)
                t = np.arange(int(seconds * SR)) / SR
                x = (0.2 * np.sin(2 * np.pi * (140 + 40 * rng.random()) * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
            sf.write(path, x, SR)
        files.append(path)
    return files


def run(model, files: list[Path], max_wait: float) -> dict:
    from emomon.stream.api import file_monitor
    from emomon.stream.monitor import MonitorConfig

    monitor = file_monitor([str(f) for f in files], model, fast=False, config=MonitorConfig(max_wait=max_wait))
    lat, dropped, n = [], 0.0, 0
    t0 = time.perf_counter()
    for rec in monitor.records():
        n += 1
        dropped += rec.dropped_s
        if rec.latency_ms is not None and rec.scores is not None:
            lat.append(rec.latency_ms)
    wall = time.perf_counter() - t0
    w = monitor.worker
    q = np.percentile(lat, [50, 95]) if lat else [float("nan")] * 2
    return {"streams": len(files), "max_wait": max_wait, "windows": n, "classified": len(lat),
            "p50_ms": round(float(q[0]), 1), "p95_ms": round(float(q[1]), 1), "max_ms": round(max(lat), 1) if lat else None,
            "windows_per_s": round(n / wall, 1), "mean_batch": round(w.windows / max(1, w.batches), 2),
            "dropped_s": round(dropped, 2), "wall_s": round(wall, 1)}


def machine() -> dict:
    import torch

    flags = ""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"cpu": cpu, "cores": os.cpu_count(), "avx512": "avx512f" in flags, "amx": "amx_bf16" in flags,
            "torch_threads": torch.get_num_threads(), "load": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="default")
    p.add_argument("--streams", default="1,4,8,12,16,24", help="comma list of stream counts")
    p.add_argument("--seconds", type=float, default=30.0, help="length of each stream's file")
    p.add_argument("--max-wait", default="0", help="comma list of the worker's max_wait in seconds")
    p.add_argument("--precision", default="auto", help="the encoder's precision (torch backend)")
    p.add_argument("--backend", default="torch", help="torch or onnx")
    p.add_argument("--json", default=None, help="also write the results as JSON")
    args = p.parse_args(argv)
    from emomon.stream.api import open_model

    model = open_model(args.model, "auto", args.precision, args.backend)
    facts = machine()
    print(f"machine: {facts}")
    print(f"model {args.model}, backend {args.backend}, precision {getattr(model, 'precision', 'n/a')}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        counts = [int(x) for x in args.streams.split(",")]
        files = stream_files(max(counts), args.seconds, Path(tmp))
        print(f"{'streams':>7} {'wait':>5} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'win/s':>6} {'batch':>5} {'dropped s':>9}")
        for n in counts:
            for wait in (float(x) for x in args.max_wait.split(",")):
                r = run(model, files[:n], wait)
                rows.append(r)
                print(f"{n:7d} {wait:5.2f} {r['p50_ms']:7.0f} {r['p95_ms']:7.0f} {r['max_ms'] or 0:7.0f} {r['windows_per_s']:6.1f} "
                      f"{r['mean_batch']:5.1f} {r['dropped_s']:9.1f}", flush=True)
    ok = [r["streams"] for r in rows if r["p95_ms"] <= 250 and r["dropped_s"] == 0]
    print(f"most streams with p95 <= 250 ms and nothing dropped: {max(ok) if ok else 0}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": facts, "args": vars(args), "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

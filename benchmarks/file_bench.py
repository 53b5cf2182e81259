#!/usr/bin/env python3
"""Figures for long files, start-up and voice activity (prints them; asserts nothing).

    python benchmarks/file_bench.py                      # everything: --help, VAD, 10-minute and 2-hour files
    python benchmarks/file_bench.py --what help,vad      # the quick parts
    python benchmarks/file_bench.py --hours 2 --json out.json

* ``help``: wall time of ``emomon --help`` (and of ``file --help``, ``listen --help``) in a fresh
  interpreter, median of ``--repeat`` runs.
* ``vad``: the voice activity detector's cost per stream window (one hop of new audio pushed, as
  the live monitor does), next to the model's cost per window measured in the same run.
* ``file``: ``emomon file MIX --format json`` on a 10-minute mix of RAVDESS emotion blocks and on
  the same mix tiled to ``--hours`` hours: wall time, peak RSS (``/usr/bin/time -v``), segments;
  and, for comparison, whole-clip ``Model.predict`` on the 10-minute file (what ``file`` did before).

Inputs come from ../shared/data/ravdess-speech; without it the 'file' part is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import time_v  # noqa: E402
from mixes import RAVDESS, emotion_mix, tiled  # noqa: E402

RATE = 16000


def machine() -> dict:
    return {"nproc": os.cpu_count(), "load": os.getloadavg(), "python": sys.version.split()[0]}


def emomon_argv() -> list[str]:
    return [sys.executable, "-m", "emomon"]


def bench_help(repeat: int) -> dict:
    out = {}
    for args in (["--help"], ["file", "--help"], ["listen", "--help"], ["train", "--help"]):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run([*emomon_argv(), *args], capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        out[" ".join(args)] = round(statistics.median(times), 3)
        print(f"emomon {' '.join(args):14s} {statistics.median(times) * 1000:6.0f} ms (median of {repeat}, min {min(times) * 1000:.0f})")
    return out


def bench_vad(seconds: float) -> dict:
    import torch

    from emomon.audio import decode_audio
    from emomon.features.vad import VadOptions, VoiceActivity
    from emomon.models import load_model

    clips = sorted(RAVDESS.glob("Actor_0[1-4]/*.flac"))[:40] if RAVDESS.is_dir() else []
    x = np.concatenate([decode_audio(c, RATE) for c in clips]) if clips else \
        (0.1 * np.random.default_rng(0).standard_normal(int(seconds * RATE))).astype(np.float32)
    x = tiled(x, RATE, seconds)
    hop = RATE // 2
    res = {}
    for method in ("silero", "energy"):
        va = VoiceActivity(VadOptions(method=method), RATE)
        t0 = time.perf_counter()
        for start in range(0, len(x), hop):
            va.push(x[start : start + hop])
        dt = time.perf_counter() - t0
        per_hop = dt / (len(x) / hop) * 1000
        res[method] = {"ms_per_window": round(per_hop, 3), "ms_per_audio_second": round(dt / seconds * 1000, 3)}
        print(f"VAD {method:6s}: {per_hop:.2f} ms per window (0.5 s hop of new audio), {dt / seconds * 1000:.2f} ms per second of audio")
    model = load_model("default", device="cpu")
    wins = np.stack([x[i : i + 3 * RATE] for i in range(0, 16 * hop, hop)])
    model.predict_proba(wins[:2])
    t0 = time.perf_counter()
    model.predict_proba(wins)
    model_ms = (time.perf_counter() - t0) / len(wins) * 1000
    res["model_ms_per_window"] = round(model_ms, 2)
    res["threads"] = torch.get_num_threads()
    print(f"model (default, batch of 16 × 3 s, {torch.get_num_threads()} threads): {model_ms:.1f} ms per window; "
          f"Silero VAD = {res['silero']['ms_per_window'] / model_ms * 100:.1f} % of it")
    return res


def timed(argv: list[str]) -> dict:
    """Run ``argv`` under /usr/bin/time -v: wall seconds, peak RSS (MB), stdout."""
    p, seconds, rss_mb = time_v(argv)
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{p.stderr[-2000:]}")
    return {"wall_s": round(seconds, 1), "peak_rss_mb": round(rss_mb), "stdout": p.stdout}


def bench_file(hours: float, workdir: Path) -> dict:
    import soundfile as sf

    if not RAVDESS.is_dir():
        print("file: skipped (no ../shared/data/ravdess-speech)")
        return {}
    mix, blocks = emotion_mix(RAVDESS, ["angry", "sad", "happy", "neutral"], block_seconds=150)
    ten = workdir / "mix-10min.flac"
    sf.write(ten, mix, RATE)
    long = workdir / f"mix-{hours:g}h.flac"
    with sf.SoundFile(long, "w", RATE, 1) as f:  # written in pieces: the benchmark holds no 2 h array
        left = int(hours * 3600 * RATE)
        while left > 0:
            f.write(mix[:left])
            left -= len(mix[:left])
    out = {"blocks": [(b.emotion, round(b.start, 1), round(b.end, 1)) for b in blocks]}
    for name, path in (("10min", ten), (f"{hours:g}h", long)):
        info = sf.info(path)
        r = timed([*emomon_argv(), "file", str(path), "--format", "json", "--compute", "cpu"])
        res = json.loads(r["stdout"])
        minutes = info.duration / 60
        out[name] = {"audio_min": round(minutes, 1), "wall_s": r["wall_s"], "peak_rss_mb": r["peak_rss_mb"],
                     "s_per_audio_min": round(r["wall_s"] / minutes, 2), "segments": len(res["segments"]),
                     "speech_min": round(res["speech"] / 60, 1), "label": res["label"]}
        print(f"emomon file {name:5s} ({minutes:6.1f} min of audio): {r['wall_s']:7.1f} s wall "
              f"({r['wall_s'] / minutes:.2f} s per audio minute), peak RSS {r['peak_rss_mb']} MB, "
              f"{len(res['segments'])} segments, {res['speech'] / 60:.1f} min of speech, label {res['label']}")
    code = (f"import emomon; m = emomon.load_model('default', device='cpu'); p = m.predict({str(ten)!r}); "
            "print(p.label, round(p.scores[p.label], 3))")
    r = timed([sys.executable, "-c", code])
    out["whole_clip_10min"] = {"wall_s": r["wall_s"], "peak_rss_mb": r["peak_rss_mb"], "answer": r["stdout"].strip()}
    print(f"whole-clip Model.predict on the 10-minute file (before segments): {r['wall_s']:.1f} s, peak RSS "
          f"{r['peak_rss_mb']} MB, answer: {r['stdout'].strip()}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--what", default="help,vad,file")
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--vad-seconds", type=float, default=600.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    what = set(args.what.split(","))
    print("$ " + " ".join(["python", *sys.argv]))
    print("machine:", machine())
    res: dict = {"command": sys.argv, "machine_start": machine()}
    if "help" in what:
        res["help"] = bench_help(args.repeat)
    if "vad" in what:
        res["vad"] = bench_vad(args.vad_seconds)
    if "file" in what:
        with tempfile.TemporaryDirectory() as tmp:
            res["file"] = bench_file(args.hours, Path(tmp))
    res["machine_end"] = machine()
    print("load at the end:", res["machine_end"]["load"])
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

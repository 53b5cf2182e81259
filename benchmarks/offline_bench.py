#!/usr/bin/env python3
"""Offline throughput of ``emomon file`` (prints figures; asserts nothing).

    python benchmarks/offline_bench.py                                  # RAVDESS actors 01-04 (240 clips)
    python benchmarks/offline_bench.py --variants "fp32:--precision fp32" "onnx:--backend onnx"
    python benchmarks/offline_bench.py --baseline /tmp/old-checkout     # the same command from another checkout
    python benchmarks/offline_bench.py --json out.json

Each variant is one ``emomon file CLIPS... --format json`` in a fresh interpreter, model load
included (what a user waits for): wall clock, and peak RSS from ``/usr/bin/time``.
The real-time factor is the clips' audio seconds over that wall time. openSMILE's eGeMAPS
functionals over the same clips, in a fresh interpreter in the same run, give the reference
ratio the issue asks for. Labels of every variant are compared with the first one's
(agreement, %). Run it with the machine otherwise idle: variants run one after another.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RAVDESS = REPO.parent / "shared" / "data" / "ravdess-speech"

EGEMAPS = """
import sys, opensmile
smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals)
for p in sys.argv[1:]:
    smile.process_file(p)
"""


def clips(actors: int) -> list[Path]:
    return sorted(p for a in range(1, actors + 1) for p in (RAVDESS / f"Actor_{a:02d}").glob("*.flac"))


def audio_seconds(paths: list[Path]) -> float:
    import soundfile as sf

    return sum(sf.info(str(p)).duration for p in paths)


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """``(wall seconds, peak RSS MB, stdout)`` of one fresh process (``/usr/bin/time -f %M``)."""
    t0 = time.perf_counter()
    run = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", *argv], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if run.returncode not in (0, 1):
        raise SystemExit(f"{shlex.join(argv[:4])} ... failed ({run.returncode}): {run.stderr.strip().splitlines()[-2:]}")
    kb = [int(line.split("=", 1)[1]) for line in run.stderr.splitlines() if line.startswith("maxrss_kb=")]
    return wall, (kb[-1] / 1024 if kb else float("nan")), run.stdout


def labels_of(stdout: str) -> dict[str, str | None]:
    rows = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return {r["path"]: r["label"] for r in rows}


def machine() -> dict:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = next((line for line in info.splitlines() if line.startswith("flags")), "")
    cpu = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "avx512": "avx512f" in flags, "amx": "amx_bf16" in flags,
            "load": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--actors", type=int, default=4, help="RAVDESS actors 01..N (default 4: 240 clips)")
    ap.add_argument("--variants", nargs="*", default=["default:"],
                    help="NAME:EXTRA-ARGS for `emomon file` (default: one, with no extra arguments)")
    ap.add_argument("--baseline", default=None, help="another checkout: the same command run from it (its emomon package)")
    ap.add_argument("--no-egemaps", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    paths = clips(args.actors)
    if not paths:
        raise SystemExit(f"no RAVDESS clips under {RAVDESS}")
    seconds = audio_seconds(paths)
    facts = machine()
    print(f"machine: {facts}\n{len(paths)} clips, {seconds:.0f} s of audio")
    runs = [(name, shlex.split(extra), REPO) for name, _, extra in (v.partition(":") for v in args.variants)]
    if args.baseline:
        runs.append(("baseline", [], Path(args.baseline).resolve()))
    rows, first = [], None
    for name, extra, tree in runs:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        wall, rss, out = timed([sys.executable, "-m", "emomon", "file", *map(str, paths), "--format", "json", *extra], tree, env)
        got = labels_of(out)
        first = first or got
        agree = 100.0 * sum(got.get(p) == lab for p, lab in first.items()) / max(1, len(first))
        rows.append({"variant": name, "args": extra, "tree": str(tree), "wall_s": round(wall, 2), "rtf": round(seconds / wall, 1),
                     "peak_rss_mb": round(rss), "labels_agree_pct": round(agree, 1)})
        print(f"{name:>12}: {wall:6.1f} s = {seconds / wall:6.1f}x real time, peak RSS {rss:.0f} MB, labels agree {agree:.1f} %", flush=True)
    if not args.no_egemaps:
        wall, rss, _ = timed([sys.executable, "-c", EGEMAPS, *map(str, paths)], REPO, dict(os.environ))
        rows.append({"variant": "egemaps", "wall_s": round(wall, 2), "rtf": round(seconds / wall, 1), "peak_rss_mb": round(rss)})
        print(f"{'egemaps':>12}: {wall:6.1f} s = {seconds / wall:6.1f}x real time")
        for r in rows[:-1]:
            print(f"  {r['variant']} / egemaps: {r['rtf'] / rows[-1]['rtf']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": facts, "clips": len(paths), "audio_s": seconds, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

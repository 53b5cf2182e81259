#!/usr/bin/env python3
"""``emomon file`` on torch against onnxruntime (fp32, int8): start-up, peak RSS, throughput.

    python benchmarks/onnx_bench.py                          # 240 RAVDESS clips (actors 01-04), 3 runs each
    python benchmarks/onnx_bench.py --clips 48 --repeat 1    # quick
    python benchmarks/onnx_bench.py --exports DIR --json out.json

For each backend — ``torch`` (the shipped model as ``emomon file`` loads it), ``onnx-fp32`` and
``onnx-int8`` (the model exported with ``emomon export``, into ``--exports`` or a temporary
folder; an existing export there is reused) — it runs, in a fresh interpreter under
``/usr/bin/time -v``:

* start-up: ``emomon file ONE_CLIP --format json`` (imports, model load, one 3 s clip), wall
  seconds and peak RSS;
* throughput: ``emomon file CLIPS... --format json``: wall seconds, peak RSS, the real-time
  factor (seconds of audio per wall second) including start-up, and excluding it (wall minus
  the start-up run's);
* whether torch was imported (it must not be with onnx), and whether the labels agree with torch's.

Medians of ``--repeat`` runs. It prints the machine (CPU model, cores, the vector and matrix
units onnxruntime and oneDNN can use), the versions, the date and the load average before and
after: on a busy machine the timings mean little. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import time_v  # noqa: E402

REPO = HERE.parent
RAVDESS = REPO.parent / "shared" / "data" / "ravdess-speech"
WRAPPER = ("import sys; from emomon.cli import main; rc = main(sys.argv[1:]); "
           "print('TORCH_IMPORTED=' + str('torch' in sys.modules), file=sys.stderr); sys.exit(rc)")


def machine() -> dict:
    """The machine the figures come from."""
    cpu, flags = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    units = sorted(f for f in flags if f.startswith(("avx512", "amx")) or f in ("avx2", "avx_vnni", "fma"))
    versions = {}
    for mod in ("onnxruntime", "torch", "numpy"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = None
    return {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "units": units, "python": platform.python_version(),
            "versions": versions, "date": datetime.now().astimezone().isoformat(timespec="seconds"), "load": os.getloadavg()}


def pick_clips(n: int, actors: int) -> list[Path]:
    """``n`` clips of the first ``actors`` RAVDESS actors (sorted; all of them when ``n`` is 0)."""
    dirs = sorted(RAVDESS.glob("Actor_*"))[:actors]
    clips = [c for d in dirs for c in sorted(d.glob("*.flac"))]
    if not clips:
        sys.exit(f"no RAVDESS clips under {RAVDESS}")
    return clips[:n] if n else clips


def timed(argv: list[str]) -> dict:
    """Run ``argv`` under /usr/bin/time -v: wall seconds, peak RSS (MB), torch imported, stdout."""
    p, seconds, rss_mb = time_v(argv)
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(argv[:8])} ...\n{p.stderr[-2000:]}")
    return {"wall_s": seconds, "peak_rss_mb": rss_mb, "torch": "TORCH_IMPORTED=True" in p.stderr, "stdout": p.stdout}


def exported(root: Path, quantize: str | None, model: str) -> Path:
    """The export of ``model`` under ``root`` (made once with ``emomon export``)."""
    out = root / f"{model}-onnx-{quantize or 'fp32'}"
    if not (out / "model.onnx").is_file():
        argv = [sys.executable, "-m", "emomon", "export", model, "--out", str(out)] + (["--quantize", quantize] if quantize else [])
        t0 = time.perf_counter()
        subprocess.run(argv, check=True)
        print(f"exported {model} ({quantize or 'fp32'}) in {time.perf_counter() - t0:.0f} s: {out}")
    return out


def labels(stdout: str) -> list:
    return [json.loads(line).get("label") for line in stdout.splitlines() if line.strip()]


def bench(name: str, model_args: list[str], clips: list[Path], audio_s: float, repeat: int, threads: int | None) -> dict:
    """Start-up and throughput runs of one backend (medians of ``repeat``)."""
    env_argv = [sys.executable, "-c", WRAPPER, "file", "--format", "json", *model_args]
    starts = [timed([*env_argv, str(clips[0])]) for _ in range(repeat)]
    runs = [timed([*env_argv, *map(str, clips)]) for _ in range(repeat)]
    start = statistics.median(r["wall_s"] for r in starts)
    wall = statistics.median(r["wall_s"] for r in runs)
    res = {
        "backend": name, "startup_s": round(start, 2), "startup_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in starts)),
        "wall_s": round(wall, 2), "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in runs)),
        "rtf": round(audio_s / wall, 1),
        # the clips' own time: too close to the start-up run's to mean anything when under a second
        "rtf_after_startup": round(audio_s / (wall - start), 1) if wall - start >= 1.0 else None,
        "torch_imported": runs[0]["torch"], "labels": labels(runs[0]["stdout"]),
    }
    after = "n/a" if res["rtf_after_startup"] is None else f"{res['rtf_after_startup']:.1f}x"
    print(f"{name:10s} start-up {res['startup_s']:6.2f} s {res['startup_rss_mb']:5d} MB | {len(clips)} clips {res['wall_s']:7.2f} s "
          f"{res['peak_rss_mb']:5d} MB  {res['rtf']:6.1f}x real time ({after} after start-up) | torch imported: {res['torch_imported']}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default", help="shipped model name or model directory (default: default)")
    ap.add_argument("--clips", type=int, default=240, help="how many clips (0: all of --actors; default 240)")
    ap.add_argument("--actors", type=int, default=4, help="clips from the first N RAVDESS actors (default 4)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure, the median is shown (default 3)")
    ap.add_argument("--exports", type=Path, default=None, help="where the exports are made or reused (default: a temporary folder)")
    ap.add_argument("--backends", default="torch,onnx-fp32,onnx-int8", help="which to run (comma-separated)")
    ap.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the runs (default: unset)")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure and the machine as JSON")
    args = ap.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)

    import soundfile as sf

    facts = machine()
    print(f"machine: {facts['cpu']}, {facts['cores']} cores ({', '.join(facts['units']) or 'no AVX2/AVX-512/AMX'}); "
          f"{facts['host']}; python {facts['python']}; {', '.join(f'{k} {v}' for k, v in facts['versions'].items())}")
    print(f"date: {facts['date']}; load average {facts['load'][0]:.2f} {facts['load'][1]:.2f} {facts['load'][2]:.2f}")
    clips = pick_clips(args.clips, args.actors)
    audio_s = sum(sf.info(str(c)).duration for c in clips)
    print(f"{len(clips)} clips, {audio_s:.0f} s of audio; medians of {args.repeat} run(s)")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.exports or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        wanted = args.backends.split(",")
        models = {"torch": ["--model", args.model, "--backend", "torch"]}
        for q in ("fp32", "int8"):
            if f"onnx-{q}" in wanted:
                models[f"onnx-{q}"] = ["--model", str(exported(root, None if q == "fp32" else q, args.model)), "--backend", "onnx"]
        results = [bench(name, models[name], clips, audio_s, args.repeat, args.threads) for name in wanted]
    ref = next((r["labels"] for r in results if r["backend"] == "torch"), None)
    for r in results:
        if ref is not None and r["backend"] != "torch":
            same = sum(a == b for a, b in zip(r["labels"], ref))
            print(f"{r['backend']:10s} labels equal to torch's on {same}/{len(ref)} files")
    end_load = os.getloadavg()
    print(f"load average at the end {end_load[0]:.2f} {end_load[1]:.2f} {end_load[2]:.2f}")
    if args.json:
        for r in results:
            r.pop("labels")
        args.json.write_text(json.dumps({"machine": facts, "clips": len(clips), "audio_s": audio_s, "argv": sys.argv, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()

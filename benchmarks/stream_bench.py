"""Benchmarks for the streaming monitor: real-time factor (``rtf``) and capture-to-result latency
on a real audio device (``latency``). A script that prints figures, not a test::

    python benchmarks/stream_bench.py                         # both, default model, 30 s listen
    python benchmarks/stream_bench.py --what rtf --clips 4    # quick RTF run
    python benchmarks/stream_bench.py --seconds 30 --json out.json

``rtf``: the whole pipeline (``stream_file(..., fast=True)``, i.e. ``emomon file X --stream --fast``)
over a long input built from RAVDESS clips of different actors (``../shared``) or, without them,
synthesized speech-like audio; plus the CLI end to end in a fresh interpreter.

``latency``: ``emomon listen --device pulse`` on a private PulseAudio virtual microphone
(``scripts/virtmic.sh``) fed in real time by a writer thread; figures from the JSON lines.
See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RAVDESS = SHARED / "data" / "ravdess-speech"
SR = 16000
# The clip the device test uses: a strong "angry" utterance (3.6 s).
DEFAULT_FEED_CLIP = RAVDESS / "Actor_02" / "03-01-05-02-02-01-02.flac"

sys.path.insert(0, str(REPO))  # run from a checkout without installing

from emomon.stream.virtmic import FifoWriter  # noqa: E402


# ----------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------
def synth_speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Speech-like audio ``(samples,)`` at 16 kHz: voiced harmonic "syllables" with a wandering
    pitch, separated by short pauses, plus a little noise."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    total = int(seconds * SR)
    n = 0
    while n < total:
        dur = rng.uniform(0.8, 2.5)
        t = np.arange(int(dur * SR)) / SR
        f0 = rng.uniform(110, 260) * (1 + 0.08 * np.sin(2 * math.pi * rng.uniform(0.5, 2) * t))
        phase = 2 * math.pi * np.cumsum(f0) / SR
        sig = sum((0.6**k) * np.sin((k + 1) * phase) for k in range(6))
        env = np.clip(np.sin(2 * math.pi * rng.uniform(2.5, 5) * t), 0, None) ** 0.5
        seg = rng.uniform(0.1, 0.4) * sig * env / 2.0
        pause = np.zeros(int(rng.uniform(0.15, 0.6) * SR))
        out += [seg, pause]
        n += len(seg) + len(pause)
    x = np.concatenate(out)[:total]
    return (x + 0.003 * rng.standard_normal(x.size)).astype(np.float32)


def ravdess_clips(n: int) -> list[Path]:
    """``n`` speech clips, one per actor in turn (Actor_01, Actor_02, ...), emotions varied."""
    if not RAVDESS.is_dir():
        return []
    actors = sorted(p for p in RAVDESS.glob("Actor_*") if p.is_dir())
    picked: list[Path] = []
    for i in range(n):
        if not actors:
            break
        files = sorted(actors[i % len(actors)].glob("*.flac"))
        if files:
            # walk through emotions: a different file of each actor
            picked.append(files[(i * 7) % len(files)])
    return picked


@dataclass
class BenchInput:
    audio: np.ndarray  # (samples,) float32 at 16 kHz
    description: str
    parts: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.audio) / SR


def rtf_input(clip: str | None, clips: int, synth_seconds: float) -> BenchInput:
    from emomon.audio import decode_audio

    if clip:
        return BenchInput(decode_audio(clip, SR), f"--clip {clip}", [clip])
    paths = ravdess_clips(clips)
    if paths:
        audio = np.concatenate([decode_audio(p, SR) for p in paths])
        return BenchInput(audio, f"{len(paths)} RAVDESS clips concatenated", [str(p.relative_to(RAVDESS)) for p in paths])
    return BenchInput(synth_speechlike(synth_seconds), f"{synth_seconds:.0f} s synthesized speech-like audio (no ../shared)")


def feed_input(clip: str | None) -> BenchInput:
    from emomon.audio import decode_audio

    if clip:
        return BenchInput(decode_audio(clip, SR), f"--clip {clip} (looped)", [clip])
    if DEFAULT_FEED_CLIP.is_file():
        return BenchInput(decode_audio(DEFAULT_FEED_CLIP, SR), "RAVDESS Actor_02 angry clip (looped)",
                          [str(DEFAULT_FEED_CLIP.relative_to(RAVDESS))])
    return BenchInput(synth_speechlike(8.0), "8 s synthesized speech-like audio (looped)")


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile ``q`` in [0, 100] of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100.0 * len(s)) - 1))
    return s[k]


def child_env(threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def machine_facts(model_device: str | None = None) -> dict[str, Any]:
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "device": model_device,
        "python": platform.python_version(),
        "loadavg_1_5_15": [round(x, 2) for x in load],
    }


# ----------------------------------------------------------------------------------------------
# rtf
# ----------------------------------------------------------------------------------------------
def bench_rtf(args: argparse.Namespace, facts: dict[str, Any]) -> dict[str, Any]:
    import soundfile as sf

    from emomon.stream import open_model

    inp = rtf_input(args.clip, args.clips, args.synth_seconds)
    print(f"\n== rtf: {inp.description}, {inp.seconds:.1f} s of audio", flush=True)

    t0 = time.perf_counter()
    model = open_model(args.model, args.compute)
    load_s = time.perf_counter() - t0
    facts["device"] = str(model.device)
    print(f"model {args.model!r} loaded in {load_s:.2f} s on {model.device} "
          f"(window {model.config.window} s, hop {model.config.hop} s)", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="emomon-bench-"))
    try:
        wav = tmp / "bench-input.wav"
        sf.write(wav, inp.audio, SR, subtype="PCM_16")
        res = _rtf_in_process(model, inp, wav, load_s)
        if not args.no_cli:
            res.update(_rtf_cli(args, inp, wav))
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _rtf_in_process(model: Any, inp: BenchInput, wav: Path, load_s: float) -> dict[str, Any]:
    """``stream_file``'s pipeline over ``wav`` in this process, as fast as the model goes (after
    one warm-up window): wall time, windows, batches, RTF."""
    from emomon.stream import MonitorConfig, file_monitor

    # warm-up: one window through the model (first-call allocations, lazy inits)
    t0 = time.perf_counter()
    model.predict_proba(inp.audio[None, : int(model.config.window * SR)])
    warm_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    mon = file_monitor(str(wav), model, fast=True, config=MonitorConfig())
    windows = sum(1 for _ in mon.records())
    wall = time.perf_counter() - t0
    stats = mon.stats()
    res: dict[str, Any] = {
        "input": inp.description,
        "input_parts": inp.parts,
        "audio_s": round(inp.seconds, 3),
        "model_load_s": round(load_s, 3),
        "warmup_window_s": round(warm_s, 3),
        "wall_s": round(wall, 3),
        "windows": windows,
        "batches": stats.batches,
        "mean_batch": round(windows / stats.batches, 2) if stats.batches else None,
        "ms_per_window": round(1000 * wall / windows, 1) if windows else None,
        "rtf": round(wall / inp.seconds, 4),
        "speed_x": round(inp.seconds / wall, 2),
    }
    print(f"stream (in process, fast): {inp.seconds:.1f} s audio in {wall:.2f} s wall, {windows} windows "
          f"in {stats.batches} batches, {res['ms_per_window']} ms/window, RTF {res['rtf']:.3f} "
          f"(speed {res['speed_x']:.1f}x)", flush=True)
    return res


def _rtf_cli(args: argparse.Namespace, inp: BenchInput, wav: Path) -> dict[str, Any]:
    """``emomon file WAV --stream --fast --no-ui`` end to end in a fresh interpreter (import,
    model load, stream): the ``cli_*`` figures."""
    cmd = [sys.executable, "-m", "emomon", "file", str(wav), "--stream", "--fast", "--no-ui",
           "--model", args.model, "--compute", args.compute]
    print(f"CLI: {shlex.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(args.threads), timeout=args.timeout)
    cli_wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    res: dict[str, Any] = dict(cli_wall_s=round(cli_wall, 3), cli_returncode=proc.returncode, cli_windows=len(lines),
                               cli_rtf=round(cli_wall / inp.seconds, 4), cli_speed_x=round(inp.seconds / cli_wall, 2))
    if proc.returncode != 0:
        res["cli_error"] = proc.stderr.strip().splitlines()[-1:] if proc.stderr.strip() else []
        print(f"CLI FAILED (exit {proc.returncode}): {proc.stderr.strip()[-500:]}", flush=True)
    else:
        print(f"CLI end to end (import + model load + stream): {cli_wall:.2f} s wall, {len(lines)} windows, "
              f"RTF {res['cli_rtf']:.3f} (speed {res['cli_speed_x']:.1f}x)", flush=True)
    return res


# ----------------------------------------------------------------------------------------------
# latency
# ----------------------------------------------------------------------------------------------
def _virtmic(action: str, runtime: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "scripts" / "virtmic.sh"), action, str(runtime)],
                          capture_output=True, text=True, timeout=60)


@dataclass
class ListenRun:
    """One ``emomon listen`` session: its exit status, window records and when each arrived
    (monotonic), the process's wall seconds, its stderr and the writer that fed the microphone."""

    returncode: int
    records: list[dict[str, Any]]
    arrivals: list[float]
    wall_s: float
    stderr: str
    writer: FifoWriter


def bench_latency(args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n== latency: emomon listen on a PulseAudio virtual microphone, {args.seconds:g} s", flush=True)
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        print("SKIPPED: pulseaudio is not installed (apt-get install pulseaudio libportaudio2 libasound2-plugins)")
        return {"skipped": "pulseaudio is not installed"}
    inp = feed_input(args.clip)
    print(f"feed: {inp.description}, {inp.seconds:.2f} s per loop", flush=True)
    run = _listen_on_virtmic(args, inp)
    return run if isinstance(run, dict) else _latency_figures(args, inp, run)


def _listen_on_virtmic(args: argparse.Namespace, inp: BenchInput) -> ListenRun | dict[str, Any]:
    """``emomon listen --device pulse`` on a private PulseAudio whose virtual microphone a writer
    thread feeds ``inp`` in real time; ``{"skipped": why}`` when the microphone does not start."""
    tmp = Path(tempfile.mkdtemp(prefix="emomon-bench-xdg-"))
    runtime = tmp / "xdg"
    writer: FifoWriter | None = None
    try:
        out = _virtmic("start", runtime)
        if out.returncode != 0:
            print(f"SKIPPED: virtual microphone failed to start: {out.stderr.strip()}")
            return {"skipped": f"virtmic failed: {out.stderr.strip()}"}
        env = child_env(args.threads)
        env["XDG_RUNTIME_DIR"] = str(runtime)
        writer = FifoWriter(runtime / "virtmic", inp.audio)
        writer.start()

        cmd = [sys.executable, "-m", "emomon", "listen", "--device", "pulse", "--duration", str(args.seconds),
               "--no-ui", "--model", args.model, "--compute", args.compute, *shlex.split(args.listen_args)]
        print(f"listen: XDG_RUNTIME_DIR={runtime} {shlex.join(cmd)}", flush=True)
        return _listen(cmd, env, args.timeout, writer)
    finally:
        if writer is not None:
            writer.stop_event.set()
        stop = _virtmic("stop", runtime)
        if writer is not None:
            writer.join(5)
        if stop.returncode != 0:
            print(f"warning: stopping pulseaudio failed: {stop.stderr.strip()}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def _listen(cmd: list[str], env: dict[str, str], timeout: float, writer: FifoWriter) -> ListenRun:
    """Run ``cmd`` (under ``/usr/bin/time`` when there is one: the session's peak RSS), taking
    each JSON line of its stdout as it arrives; killed after ``timeout`` seconds."""
    timer = ["/usr/bin/time", "-f", "maxrss_kb=%M"] if Path("/usr/bin/time").exists() else []  # the session's peak RSS
    t_start = time.monotonic()
    proc = subprocess.Popen([*timer, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stderr_buf: list[str] = []
    err_thread = threading.Thread(target=lambda: stderr_buf.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    err_thread.start()
    recs: list[dict[str, Any]] = []
    arrivals: list[float] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip():
            arrivals.append(time.monotonic())
            recs.append(json.loads(line))
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    err_thread.join(5)
    return ListenRun(rc, recs, arrivals, time.monotonic() - t_start, "".join(stderr_buf).strip(), writer)


def _latency_figures(args: argparse.Namespace, inp: BenchInput, run: ListenRun) -> dict[str, Any]:
    """The latency figures of a listen session's records (printed too)."""
    rc, recs, arrivals, stderr, writer = run.returncode, run.records, run.arrivals, run.stderr, run.writer
    res: dict[str, Any] = {"feed": inp.description, "seconds": args.seconds, "returncode": rc,
                           "process_wall_s": round(run.wall_s, 2)}
    if rc != 0 or not recs:
        res["error"] = stderr.splitlines()[-1] if stderr else "no window records"
        print(f"listen FAILED (exit {rc}): {stderr[-800:]}", flush=True)
        return res
    rss_kb = [int(ln.split("=", 1)[1]) for ln in stderr.splitlines() if ln.startswith("maxrss_kb=")]
    res["peak_rss_mb"] = round(rss_kb[-1] / 1024) if rss_kb else None
    lat = [float(r["latency_ms"]) for r in recs]
    hop = float(recs[0]["t"]) if len(recs) < 2 else float(recs[1]["t"]) - float(recs[0]["t"])
    # results should arrive at the audio's pace: how far the last arrival strays from that pace
    drift_ms = ((arrivals[-1] - arrivals[0]) - (float(recs[-1]["t"]) - float(recs[0]["t"]))) * 1000.0
    dropped = float(recs[-1]["dropped_s"])  # every window record carries the audio dropped so far
    summary = [ln for ln in stderr.splitlines() if ln.startswith("emomon:") and "windows" in ln]
    res.update(
        windows=len(recs),
        expected_windows=int(round(args.seconds / hop)) if hop > 0 else None,
        hop_s=round(hop, 3),
        no_speech_windows=sum(1 for r in recs if r["label"] is None),
        latency_median_ms=round(statistics.median(lat), 1),
        latency_p95_ms=round(pct(lat, 95), 1),
        latency_max_ms=round(max(lat), 1),
        latency_min_ms=round(min(lat), 1),
        latency_first_ms=round(lat[0], 1),
        latency_median_after_first_ms=round(statistics.median(lat[1:]), 1) if len(lat) > 1 else None,
        arrival_drift_ms=round(drift_ms, 1),
        dropped_s=dropped,
        writer_unread_s=round(writer.unread_s, 2) if writer else None,
        writer_stall_s=round(writer.stall_s, 3) if writer else None,
        labels={lab: sum(1 for r in recs if r.get("label") == lab) for lab in sorted({r["label"] for r in recs if r.get("label")})},
        cli_summary=summary[-1] if summary else None,
    )
    if writer is not None and writer.error is not None:
        res["writer_error"] = str(writer.error)
    print(f"{res['windows']} windows (expected {res['expected_windows']}, hop {hop:g} s, {res['no_speech_windows']} without speech); "
          f"latency median {res['latency_median_ms']:.0f} ms, p95 {res['latency_p95_ms']:.0f} ms, "
          f"max {res['latency_max_ms']:.0f} ms (first window {res['latency_first_ms']:.0f} ms); "
          f"dropped {dropped if dropped is not None else '?'} s; arrival drift {drift_ms:+.0f} ms; "
          f"peak RSS {res['peak_rss_mb']} MB", flush=True)
    if res["cli_summary"]:
        print(f"listen says: {res['cli_summary']}", flush=True)
    return res


# ----------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------
def summary_rows(results: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    r = results.get("rtf")
    if r:
        rows += [
            ("rtf: audio", f"{r['audio_s']:.1f} s"),
            ("rtf: model load", f"{r['model_load_s']:.2f} s"),
            ("rtf: stream wall", f"{r['wall_s']:.2f} s"),
            ("rtf: windows", f"{r['windows']} ({r['batches']} batches, mean {r['mean_batch']})"),
            ("rtf: ms per window", f"{r['ms_per_window']}"),
            ("rtf: RTF (wall/audio)", f"{r['rtf']:.3f}"),
            ("rtf: speed (audio/wall)", f"{r['speed_x']:.1f}x"),
        ]
        if "cli_wall_s" in r:
            rows += [("rtf: CLI end to end", f"{r['cli_wall_s']:.2f} s (RTF {r['cli_rtf']:.3f}, {r['cli_windows']} windows"
                      + (", FAILED)" if r.get("cli_returncode") else ")"))]
    r = results.get("latency")
    if r:
        if "skipped" in r:
            rows.append(("latency", f"skipped: {r['skipped']}"))
        elif "error" in r:
            rows.append(("latency", f"FAILED: {r['error']}"))
        else:
            rows += [
                ("latency: windows", f"{r['windows']} (expected {r['expected_windows']})"),
                ("latency: median", f"{r['latency_median_ms']:.0f} ms"),
                ("latency: p95", f"{r['latency_p95_ms']:.0f} ms"),
                ("latency: max", f"{r['latency_max_ms']:.0f} ms"),
                ("latency: dropped audio", f"{r['dropped_s']} s" if r["dropped_s"] is not None else "not reported"),
                ("latency: arrival drift", f"{r['arrival_drift_ms']:+.0f} ms"),
            ]
    return rows


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Benchmark the emomon streaming monitor (RTF and device latency).")
    p.add_argument("--model", default="default", help="shipped model name or model directory (default: default)")
    p.add_argument("--clip", default=None, help="audio file: the RTF input (as is) and the looped latency feed")
    p.add_argument("--clips", type=int, default=12, help="RAVDESS clips (different actors) concatenated for RTF (default 12)")
    p.add_argument("--synth-seconds", type=float, default=45.0, help="synthesized RTF input length without ../shared")
    p.add_argument("--seconds", type=float, default=30.0, help="listen duration for the latency run (default 30)")
    p.add_argument("--what", default="latency,rtf", help="comma list of: rtf, latency (default both)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (here, and OMP_NUM_THREADS for the CLI runs)")
    p.add_argument("--compute", default="auto", choices=["auto", "cpu", "cuda"], help="where the model runs")
    p.add_argument("--no-cli", action="store_true", help="rtf: skip the CLI end-to-end run")
    p.add_argument("--listen-args", default="", help="latency: more arguments for emomon listen (e.g. '--backend onnx')")
    p.add_argument("--timeout", type=float, default=900.0, help="limit for each subprocess in seconds")
    p.add_argument("--json", default=None, help="also write the results as JSON to this file")
    return p


def _report(results: dict[str, Any], args: argparse.Namespace, facts: dict[str, Any]) -> None:
    """The summary table, and the results as JSON to ``--json``."""
    rows = summary_rows(results)
    width = max((len(k) for k, _ in rows), default=10)
    print("\n== summary" + f" (model {args.model}, device {facts.get('device') or '?'}, {facts['nproc']} CPUs, "
          f"torch {facts['torch_version']} with {facts['torch_threads']} threads)")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    what = [w.strip() for w in args.what.split(",") if w.strip()]
    bad = [w for w in what if w not in ("rtf", "latency")]
    if bad:
        p.error(f"--what: unknown {', '.join(bad)} (choose from rtf, latency)")
    if args.json and Path(args.json).exists():
        print(f"note: overwriting {args.json}", file=sys.stderr)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    command = shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join([sys.executable, __file__, *argv])
    from emomon.models.registry import select_device

    from emomon.errors import EmomonError

    try:
        device = str(select_device(args.compute))
    except EmomonError as exc:
        p.error(f"--compute: {exc}")
    facts = machine_facts(device)
    print(f"command: {command}")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()), flush=True)

    results: dict[str, Any] = {"command": command, "machine": facts, "model": args.model,
                               "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    # rtf first: it loads the model in process (and fills in the device); latency runs in a child
    if "rtf" in what:
        results["rtf"] = bench_rtf(args, facts)
    if "latency" in what:
        results["latency"] = bench_latency(args)
    facts["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    _report(results, args, facts)
    failed = any(isinstance(results.get(k), dict) and ("error" in results[k] or results[k].get("cli_returncode"))
                 for k in ("rtf", "latency"))
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())

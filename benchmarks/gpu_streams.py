#!/usr/bin/env python3
"""How many paced real-time streams one lent GPU carries (issue 24, item 4; prints figures,
asserts nothing).

Prepare here, then make one device call (the GPU machine has torch, no network, no ../shared):

    .venv/bin/python scripts/prepare_gpu_inputs.py                    # runs/gpu_inputs (git-ignored), ~49 MiB
    run(carry=["runs/gpu_inputs"], timeout_s=540, command="python3 benchmarks/gpu_streams.py")

and the CPU fallback, to know it runs (tiny settings, figures meaningless):

    .venv/bin/python benchmarks/gpu_streams.py --device cpu --max-streams 4 --batches 1,2 --trial-seconds 2 --max-batch 4

What it does, within ``--time-budget`` seconds (default 450; a trial that would not fit is
skipped, and an alarm at the budget writes what was measured and exits 3):

1. loads the default model from the prepared folder (``_common.load_prepared_model``) on
   ``--device`` (``auto``: CUDA when there is one);
2. parity: each of ``--precisions`` (CUDA: ``bf16`` through the model's own precision switch,
   as ``--precision auto`` runs on CUDA, and ``fp16`` through ``torch.autocast`` around the
   model's calls) against fp32 on 8 windows: the largest probability difference, labels agreeing;
3. the device's matmul rate in the first precision (an 8192^3 product, and the encoder's fc1 at
   the largest batch), for the share of the limit;
4. windows/s of ``predict_proba`` (front end, encoder, head, host-device copies) at each batch
   of ``--batches`` (1, 2, 4, ..., 256) of 3 s windows, with the achieved TFLOP/s
   (``ceiling.model_flops``);
5. paced streams: N streams (``--min-streams`` 16 doubling to ``--max-streams`` 1024), each a
   window every 0.5 s hop (all streams' hops together, as ``emomon file f1 .. fN --stream``
   starts them; ``--phase spread`` staggers them), through ``emomon.stream.worker.InferenceWorker``
   fed as the live monitor feeds it: at most ``max_batch`` windows in the worker, the rest
   waiting, a window older than ``--max-lag`` s dropped (the monitor drops such audio), each
   stream with its speaker adapter unless ``--adapt off``. Per N: latency p50/p95/max (capture of
   the window's last sample to its result), windows/s, mean batch, dropped; for each
   (``--max-batch``, ``--adapt``) the largest N with p95 <= ``--p95-ms`` (250) and nothing
   dropped or left unfinished; the doubling stops at the first N that fails.

Results: a table on stdout and ``--json`` (default ``$OUT/gpu_streams.json``, else
``runs/gpu_streams.json``), rewritten after every step.
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _common import GPU_INPUTS, REPO, SR, WINDOWS_NAME, load_prepared_model, sustained_rate  # noqa: E402
from ceiling import Shape, encoder_frames, model_flops, torch_matmul  # noqa: E402

log = logging.getLogger("gpu_streams")


class Clock:
    """Seconds left of a time budget started at construction."""

    def __init__(self, budget: float) -> None:
        self.end = time.monotonic() + budget

    def left(self) -> float:
        return self.end - time.monotonic()


class Autocast:
    """A model's predict calls under ``torch.autocast(dtype)`` (fp16: the model's precision switch
    knows fp32 and bf16 only); what the worker calls, the rest delegated."""

    def __init__(self, model: Any, dtype: Any) -> None:
        self.model, self.dtype = model, dtype

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """``(batch, samples)`` → ``(batch, labels)``."""
        import torch

        with torch.autocast(self.model.device.type, dtype=self.dtype):
            return self.model.predict_proba(x)

    def predict_proba_adapted(self, x: np.ndarray, adapters: list, seconds: list | None = None) -> np.ndarray:
        import torch

        with torch.autocast(self.model.device.type, dtype=self.dtype):
            return self.model.predict_proba_adapted(x, adapters, seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def runner(model: Any, precision: str) -> Any:
    """What to call for ``precision`` (``fp32``, ``bf16``: the model itself, switched; ``fp16``:
    :class:`Autocast` over the model in fp32)."""
    import torch

    if precision == "fp16":
        model.set_precision("fp32")
        return Autocast(model, torch.float16)
    model.set_precision(precision)
    return model


def sync_of(device: str) -> Any:
    """``torch.cuda.synchronize`` for a CUDA device, else ``None`` (nothing to wait for)."""
    import torch

    return torch.cuda.synchronize if device.startswith("cuda") else None


def parity(model: Any, pool: np.ndarray, precisions: list[str]) -> dict[str, Any]:
    """Each precision's probabilities on 8 windows ``(8, samples)`` against fp32's."""
    x = pool[:8]
    ref = runner(model, "fp32").predict_proba(x)
    out = {}
    for p in precisions:
        got = runner(model, p).predict_proba(x)
        out[p] = {"max_abs_prob_diff": float(np.abs(got - ref).max()), "labels_agree": f"{int((got.argmax(1) == ref.argmax(1)).sum())}/{len(x)}"}
    return out


def device_peak(device: str, precision: str, positions: int, dims: Any, batch: int, seconds: float) -> dict[str, float]:
    """TFLOP/s of a square product (8192 on CUDA, 1024 on the CPU) and of the encoder's fc1 at
    ``batch`` windows, in ``precision``."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    n = 8192 if device.startswith("cuda") else 1024
    out = {}
    for shape in (Shape(f"square {n}", 1, n, n, n), Shape(f"fc1 x{batch}", 1, batch * positions, dims.d_model, dims.d_ff)):
        with torch.inference_mode():
            out[shape.name] = sustained_rate(torch_matmul(shape, dtype, device), shape.flops, seconds, sync_of(device))["median"] / 1e12
    return out


def batch_sweep(model: Any, pool: np.ndarray, precision: str, batches: list[int], seconds: float, flops: int,
                clock: Clock, reserve: float) -> list[dict[str, Any]]:
    """windows/s of ``predict_proba`` on ``(b, samples)`` for each ``b`` (windows from ``pool``
    repeated), stopping while ``reserve`` seconds of the budget must stay for the streams."""
    run = runner(model, precision)
    rows = []
    for b in batches:
        if clock.left() < reserve:
            log.warning("batch sweep stopped before batch %d: time budget", b)
            break
        x = np.ascontiguousarray(pool[np.arange(b) % len(pool)])
        rate = sustained_rate(lambda: run.predict_proba(x), b, seconds)["median"]
        rows.append({"precision": precision, "batch": b, "windows_per_s": rate, "ms_per_batch": 1000 * b / rate,
                     "tflops": rate * flops / 1e12})
        log.info("%s batch %d: %.0f windows/s", precision, b, rate)
    return rows


@dataclass(frozen=True)
class TrialOptions:
    """One paced-streams trial: ``seconds`` of stream time, then up to ``drain_s`` for the rest."""

    max_batch: int
    adapt: bool
    seconds: float = 8.0
    hop: float = 0.5
    max_wait: float = 0.0
    max_lag: float = 2.0
    drain_s: float = 3.0
    p95_ms: float = 250.0
    phase: str = "aligned"


def _job(pool: np.ndarray, s: int, k: int, due: float, hop: float, adapter: Any) -> Any:
    """The worker job for stream ``s``'s window ``k`` captured at ``due`` (monotonic)."""
    from emomon.features.windows import Window
    from emomon.stream.worker import Job

    samples = pool[(s + k) % len(pool)]
    win = Window(stream=f"s{s}", index=k, samples=samples, valid=len(samples), t_end=(k + 1) * hop, capture_time=due, sample_rate=SR)
    return Job(win, speech=1.0, classify=True, adapter=adapter, seconds=hop)


def _drain(worker: Any, latencies: list[float]) -> None:
    """Move the worker's results into ``latencies`` (ms); a worker failure is raised."""
    import queue

    from emomon.stream.worker import WorkerFailure

    while True:
        try:
            item = worker.results.get_nowait()
        except queue.Empty:
            return
        if isinstance(item, WorkerFailure):
            raise RuntimeError(f"inference failed: {item.error}")
        latencies.append(item.latency_ms)


def paced_loop(run: Any, pool: np.ndarray, n: int, opt: TrialOptions) -> dict[str, Any]:
    """``n`` paced streams through one :class:`InferenceWorker` as the live monitor feeds it:
    ``{"latencies": [ms], "dropped": windows, "unfinished": windows, "mean_batch", "wall_s"}``."""
    from emomon.stream.worker import InferenceWorker

    worker = InferenceWorker(run, opt.max_batch, opt.max_wait).start()
    adapters = [run.new_adapter() if opt.adapt else None for _ in range(n)]
    t0 = time.monotonic() + 0.05
    end = t0 + opt.seconds
    due = [(t0 + (0.0 if opt.phase == "aligned" else s * opt.hop / n) + opt.hop, s, 0) for s in range(n)]
    heapq.heapify(due)
    backlog: deque = deque()
    latencies: list[float] = []
    dropped = 0
    try:
        while True:
            now = time.monotonic()
            while due and due[0][0] <= now:
                when, s, k = heapq.heappop(due)
                backlog.append((when, s, k))
                if when + opt.hop <= end:
                    heapq.heappush(due, (when + opt.hop, s, k + 1))
            while backlog and now - backlog[0][0] > opt.max_lag:  # the monitor drops audio this far behind
                backlog.popleft()
                dropped += 1
            while backlog and worker.pending < opt.max_batch:  # a live monitor holds one batch in the worker
                when, s, k = backlog.popleft()
                worker.submit(_job(pool, s, k, when, opt.hop, adapters[s]))
            _drain(worker, latencies)
            if not due and not backlog and (worker.pending == 0 or now > end + opt.drain_s):
                break
            time.sleep(max(0.0, min(0.002, due[0][0] - now)) if due else 0.002)
        unfinished = worker.pending
    finally:
        worker.stop()
    return {"latencies": latencies, "dropped": dropped, "unfinished": unfinished,
            "mean_batch": worker.windows / max(1, worker.batches), "wall_s": time.monotonic() - t0}


def trial(run: Any, pool: np.ndarray, n: int, opt: TrialOptions) -> dict[str, Any]:
    """One trial's figures (latency percentiles, windows/s, dropped) and whether it passes."""
    r = paced_loop(run, pool, n, opt)
    lat = r.pop("latencies")
    q = np.percentile(lat, [50, 95]) if lat else [float("nan")] * 2
    row = {"streams": n, **asdict(opt), "classified": len(lat), "p50_ms": float(q[0]), "p95_ms": float(q[1]),
           "max_ms": float(max(lat)) if lat else None, "windows_per_s": len(lat) / r["wall_s"], **r}
    row["ok"] = bool(lat) and row["dropped"] == 0 and row["unfinished"] == 0 and row["p95_ms"] <= opt.p95_ms
    return row


def stream_counts(lo: int, hi: int) -> list[int]:
    """``lo`` doubling up to ``hi`` (just ``hi`` when it is below ``lo``)."""
    n, out = min(lo, hi), []
    while n <= hi:
        out.append(n)
        n *= 2
    return out


def stream_search(run: Any, pool: np.ndarray, counts: list[int], opt: TrialOptions, clock: Clock, rows: list[dict[str, Any]],
                  save: Callable[[], None]) -> None:
    """Trials at each of ``counts`` into ``rows`` (``save()`` after each) until one fails or the
    budget would be overrun."""
    for n in counts:
        if clock.left() < opt.seconds + opt.drain_s + 5:
            log.warning("streams %d (max_batch %d, adapt %s) skipped: time budget", n, opt.max_batch, opt.adapt)
            break
        rows.append(trial(run, pool, n, opt))
        r = rows[-1]
        print(f"{n:7d} {opt.max_batch:5d} {str(opt.adapt):>5s} {r['p50_ms']:7.0f} {r['p95_ms']:7.0f} {r['max_ms'] or 0:7.0f} "
              f"{r['windows_per_s']:7.0f} {r['mean_batch']:6.1f} {r['dropped']:7d} {r['unfinished']:5d}  {'ok' if r['ok'] else 'FAIL'}", flush=True)
        save()
        if not r["ok"]:
            break


def facts(device: str) -> dict[str, Any]:
    """The machine: ``onnx_bench.machine()`` and the GPU's name, memory and the CUDA version."""
    import torch
    from onnx_bench import machine

    out = {**machine(), "torch": torch.__version__, "device": device, "torch_threads": torch.get_num_threads()}
    if device.startswith("cuda"):
        p = torch.cuda.get_device_properties(0)
        out.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1), cuda=torch.version.cuda, sms=p.multi_processor_count)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (module docstring); ``json`` resolved."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=Path, default=GPU_INPUTS, help="the folder scripts/prepare_gpu_inputs.py wrote")
    ap.add_argument("--device", default="auto", help="auto (CUDA when there is one), cuda, cpu")
    ap.add_argument("--precisions", default=None,
                    help="comma list of bf16, fp16, fp32 (default: bf16,fp16 on CUDA, fp32 on the CPU); the first runs the streams")
    ap.add_argument("--batches", default=",".join(str(2**i) for i in range(9)), help="batch sizes of the sweep")
    ap.add_argument("--batch-seconds", type=float, default=1.0, help="seconds per batch size")
    ap.add_argument("--min-streams", type=int, default=16)
    ap.add_argument("--max-streams", type=int, default=1024)
    ap.add_argument("--max-batch", default="256,16", help="comma list of the worker's max_batch (16: emomon's default)")
    ap.add_argument("--adapt", default="on,off", help="comma list: on (speaker adapters, as the monitor runs the default model), off")
    ap.add_argument("--phase", default="aligned", choices=("aligned", "spread"), help="streams' hops together, or staggered")
    ap.add_argument("--trial-seconds", type=float, default=8.0, help="seconds of stream time per trial")
    ap.add_argument("--max-lag", type=float, default=2.0, help="a window waiting longer than this is dropped (the monitor's max_lag)")
    ap.add_argument("--p95-ms", type=float, default=250.0)
    ap.add_argument("--time-budget", type=float, default=450.0, help="seconds for the whole run (the device call's limit is 600)")
    ap.add_argument("--json", type=Path, default=None, help="default $OUT/gpu_streams.json, else runs/gpu_streams.json")
    args = ap.parse_args(argv)
    args.json = args.json or (Path(os.environ["OUT"]) if os.environ.get("OUT") else REPO / "runs") / "gpu_streams.json"
    return args


def resolve_device(requested: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; anything else as given."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def summary(res: dict[str, Any]) -> str:
    """The closing table: the batch sweep and the largest N per stream configuration."""
    lines = [f"{'precision':>9s} {'batch':>5s} {'win/s':>8s} {'ms/batch':>9s} {'TFLOP/s':>8s} {'of peak':>7s}"]
    peak = max(res.get("peak_tflops", {}).values(), default=None)
    for r in res.get("sweep", []):
        share = f"{100 * r['tflops'] / peak:6.1f}%" if peak else "      -"
        lines.append(f"{r['precision']:>9s} {r['batch']:5d} {r['windows_per_s']:8.1f} {r['ms_per_batch']:9.1f} {r['tflops']:8.2f} {share}")
    for key, rows in res.get("streams", {}).items():
        ok = [r["streams"] for r in rows if r["ok"]]
        lines.append(f"streams {key}: largest N with p95 <= {res['p95_ms']:g} ms and nothing dropped: "
                     f"{max(ok) if ok else 0} (tried {', '.join(str(r['streams']) for r in rows) or 'none'})")
    return "\n".join(lines)


def run_streams(model: Any, pool: np.ndarray, args: argparse.Namespace, precision: str, clock: Clock, res: dict[str, Any],
                save: Callable[[], None]) -> None:
    """Every (max_batch, adapt) configuration's search, into ``res["streams"]``."""
    run = runner(model, precision)
    counts = stream_counts(args.min_streams, args.max_streams)
    heads = ("streams", 7), ("maxb", 5), ("adapt", 5), ("p50 ms", 7), ("p95 ms", 7), ("max ms", 7), ("win/s", 7), ("batch", 6), ("dropped", 7), ("left", 5)
    print(" ".join(f"{h:>{w}s}" for h, w in heads))
    res["streams"] = {}
    for mb in (int(x) for x in args.max_batch.split(",")):
        for adapt in (a == "on" for a in args.adapt.split(",")):
            opt = TrialOptions(max_batch=mb, adapt=adapt and bool(getattr(model, "adaptive", False)), seconds=args.trial_seconds,
                               max_lag=args.max_lag, p95_ms=args.p95_ms, phase=args.phase)
            key = f"{precision} max_batch {mb} adapt {'on' if opt.adapt else 'off'}"
            stream_search(run, pool, counts, opt, clock, res["streams"].setdefault(key, []), save)


def main(argv: list[str] | None = None) -> int:
    """Load, parity, device peak, batch sweep, paced streams; JSON after every step."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    clock = Clock(args.time_budget)
    import torch

    device = resolve_device(args.device)
    precisions = (args.precisions or ("bf16,fp16" if device.startswith("cuda") else "fp32")).split(",")
    res: dict[str, Any] = {"argv": sys.argv if argv is None else argv, "facts": facts(device), "p95_ms": args.p95_ms}
    args.json.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        args.json.write_text(json.dumps(res, indent=2, default=str) + "\n")

    def on_alarm(signum: int, frame: Any) -> None:
        res["stopped"] = "time budget"
        save()
        print(summary(res), flush=True)
        os._exit(3)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.time_budget) + 1)
    print(f"device: {res['facts'].get('gpu', res['facts']['cpu'])}, torch {torch.__version__}, precisions {precisions}", flush=True)
    model = load_prepared_model(args.inputs, device)
    pool = np.load(args.inputs / WINDOWS_NAME)
    flops = model_flops(model, pool.shape[1]).total
    res.update(windows=list(pool.shape), gflop_per_window=flops / 1e9, parity=parity(model, pool, precisions))
    print(f"{flops / 1e9:.3f} GFLOP per window; parity against fp32: {res['parity']}", flush=True)
    batches = [int(b) for b in args.batches.split(",")]
    dims, positions = model.backbone.encoder.dims, encoder_frames(pool.shape[1], model.backbone.front)[1] // 2
    res["peak_tflops"] = device_peak(device, precisions[0], positions, dims, max(batches), min(1.0, args.batch_seconds))
    save()
    reserve = 0.55 * args.time_budget
    res["sweep"] = [r for p in precisions for r in batch_sweep(model, pool, p, batches, args.batch_seconds, flops, clock, reserve)]
    save()
    run_streams(model, pool, args, precisions[0], clock, res, save)
    signal.alarm(0)
    save()
    print(summary(res))
    print(f"json: {args.json}; {args.time_budget - clock.left():.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

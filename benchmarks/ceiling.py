#!/usr/bin/env python3
"""The physical limit of this machine for the shipped model, and how close emomon runs to it
(issue 24, item 1; prints figures, asserts nothing).

    python benchmarks/ceiling.py                                   # everything, about 2-4 minutes
    python benchmarks/ceiling.py --seconds 0.1 --windows 16 --stream-seconds 4   # under a minute
    python benchmarks/ceiling.py --what matmul,flops               # the ceiling and the count only
    python benchmarks/ceiling.py --saturation 15 --goal-streams 24 --json out.json

Four parts (``--what``):

* ``matmul``: sustained GFLOP/s (median per-call time over ``--seconds`` per shape) of the matrix
  products the encoder runs, at its shapes for one 3 s window (150 frames) and for a batch of
  ``--batch`` windows (the four linear layers of a block, the attention scores and values as
  batched products) and at a 30 s window (1500 frames, the issue's (1500 x 512) @ (512 x 512)
  and @ (512 x 2048)); with torch's default threads (``--threads`` to change): torch fp32, torch
  bf16 where the CPU has it natively (AMX / AVX512-BF16), onnxruntime fp32 ``MatMul`` and int8
  ``MatMulInteger`` (what ``emomon export --quantize int8`` runs) and ``QLinearMatMul`` on tiny
  generated graphs. Two ceilings per backend: ``peak`` (the best shape) and ``mix`` (one block's
  products at the batch shapes run one after the other: their FLOPs over the sum of their
  times; for int8 the attention products at onnxruntime fp32's rate, as the quantized graph runs
  them). ``mix`` is the honest limit: the encoder cannot run its products faster than that.
* ``flops``: FLOPs per window of each shipped model (``--models``), counted analytically
  (:func:`window_flops`: mel filterbank, conv stem, per block QKV/out projections, the score and
  value products at the window's frame count, the MLP; the head) and measured with
  ``torch.utils.flop_counter.FlopCounterMode`` on the real module (attention through the math
  kernel, which the counter sees; the CPU's fused kernel it does not). FLOPs are 2 per
  multiply-add of matrix products and convolutions; the FFT, LayerNorm, GELU and softmax are not
  counted (well under 1 % of the work). The layer head runs every encoder block (it calls the
  backbone without ``upto``), whatever layers it pools.
* ``file``: ``emomon file``-like classification: ``--windows`` 3 s windows (RAVDESS clip starts
  from ../shared, else synthesized: ``window_cost.windows``) through ``predict_proba`` in batches
  of ``--batch`` (``emomon file``'s batch), fp32 and ``auto``; windows/s, achieved GFLOP/s, share
  of the ceilings of the precision ``auto`` resolved to.
* ``streams``: the streaming pipeline's saturation: ``--streams`` files of ``--stream-seconds``
  (``streams_bench.stream_files``) through one monitor in fast mode (``emomon file --stream
  --fast``: the worker batches up to 16 windows, flat out), classified windows/s and their share;
  ``--saturation W`` adds the share at a figure measured elsewhere (``streams_bench.py``, fp32).

``--goal-streams N`` prints what N streams at a 0.5 s hop need in GFLOP/s against the ceilings.
On a busy machine the figures mean little: the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _common import sustained_rate  # noqa: E402

if TYPE_CHECKING:
    import torch

    from emomon.features.mel import FrontEnd
    from emomon.models.whisper_encoder import WhisperDims

log = logging.getLogger("ceiling")
PARTS = ("front", "stem", "attn_proj", "attn_core", "mlp", "head")
BACKENDS = ("torch-fp32", "torch-bf16", "ort-fp32", "ort-int8-mmi", "ort-int8-qlmm")


# ----------------------------------------------------------------------------------------------
# FLOPs per window
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one forward pass by part: ``front`` (the mel filterbank product), ``stem`` (the
    two convolutions), ``attn_proj`` (QKV and output projections), ``attn_core`` (scores and
    values), ``mlp``, ``head`` (the linear head(s))."""

    front: int = 0
    stem: int = 0
    attn_proj: int = 0
    attn_core: int = 0
    mlp: int = 0
    head: int = 0

    @property
    def encoder(self) -> int:
        return self.stem + self.attn_proj + self.attn_core + self.mlp

    @property
    def total(self) -> int:
        return self.front + self.encoder + self.head

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "encoder": self.encoder, "total": self.total}


def encoder_frames(samples: int, front: "FrontEnd") -> tuple[int, int]:
    """``(mel frames the filterbank multiplies, frames the encoder gets)`` for ``samples``: the
    centred STFT gives ``1 + samples // hop`` frames, Whisper's log drops the last, the
    backbone trims to an even number."""
    frames = samples // front.hop_length + 1 - (1 if front.log == "whisper" else 0)
    return frames, max(frames - frames % 2, 2)


def chunk_flops(dims: "WhisperDims", frames: int, blocks: int) -> dict[str, int]:
    """Encoder FLOPs by part for one chunk of ``frames`` (even, at most ``2 * n_ctx``) mel frames
    through ``blocks`` blocks: ``T = frames / 2`` positions after the stride-2 convolution."""
    d, t, f = dims.d_model, frames // 2, dims.d_ff
    return {
        "stem": 2 * dims.n_mels * 3 * d * frames + 2 * d * 3 * d * t,
        "attn_proj": blocks * (2 * t * d * 3 * d + 2 * t * d * d),
        "attn_core": blocks * (2 * t * t * d + 2 * t * t * d),
        "mlp": blocks * (2 * t * d * f + 2 * t * f * d),
    }


def window_flops(dims: "WhisperDims", front: "FrontEnd", samples: int, blocks: int, n_feat: int, n_labels: int,
                 heads: int = 1) -> FlopCount:
    """Analytic FLOPs of one window of ``samples`` through the Whisper front end, ``blocks``
    encoder blocks (inputs over 30 s in 30 s chunks, as the backbone runs them) and ``heads``
    linear heads ``(n_feat -> n_labels)``."""
    mel_frames, frames = encoder_frames(samples, front)
    parts = dict.fromkeys(("stem", "attn_proj", "attn_core", "mlp"), 0)
    step = 2 * dims.n_ctx
    for start in range(0, frames, step):
        for k, v in chunk_flops(dims, min(step, frames - start), blocks).items():
            parts[k] += v
    return FlopCount(front=2 * front.n_mels * (front.n_fft // 2 + 1) * mel_frames, head=heads * 2 * n_feat * n_labels, **parts)


def model_flops(model: Any, samples: int) -> FlopCount:
    """Analytic FLOPs per window of ``samples`` for a layer-head model on a Whisper backbone (every
    block runs: the layer head calls the backbone without ``upto``); both heads of an adaptive
    model with an unadapted head (they are mixed while a voice is new)."""
    encoder = model.backbone.encoder
    heads = 2 if getattr(model, "adaptive", False) and getattr(model, "has_unadapted_head", False) else 1
    return window_flops(encoder.dims, model.backbone.front, samples, len(encoder.blocks), model.head.in_features,
                        model.head.out_features, heads)


_PART_KEYS = (("stem", re.compile(r"\.conv[12]$")), ("attn_proj", re.compile(r"\.attn\.(qkv|out)$")),
              ("attn", re.compile(r"\.attn$")), ("mlp", re.compile(r"\.ffn$")), ("head", re.compile(r"\.(base_)?head$")))


def measured_flops(model: Any, samples: int) -> FlopCount:
    """FLOPs of ``model(x)`` for one random window ``x (1, samples)`` counted by
    ``FlopCounterMode`` (attention through the math kernel so that its products are seen),
    split by module: whatever no encoder module or head claims is the front end."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    x = 0.1 * torch.randn(1, samples, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False, depth=None) as counter:
        model(x.to(next(model.parameters()).device))
    sums = dict.fromkeys(("stem", "attn_proj", "attn", "mlp", "head"), 0)
    for key, ops in counter.get_flop_counts().items():
        for part, pattern in _PART_KEYS:
            if pattern.search(key):
                sums[part] += int(sum(ops.values()))
    total = int(counter.get_total_flops())
    core = sums.pop("attn") - sums["attn_proj"]
    return FlopCount(front=total - sum(sums.values()) - core, attn_core=core, **sums)


# ----------------------------------------------------------------------------------------------
# matmul ceilings
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    """A product ``(batch, m, k) @ (k, n)`` (``batch`` 1: a linear layer's 2-D product; else a
    batched product, both operands 3-D); ``mix``: one of a block's products at the batch shapes."""

    name: str
    batch: int
    m: int
    k: int
    n: int
    mix: bool = False

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.m * self.k * self.n

    @property
    def linear(self) -> bool:
        return self.batch == 1


def encoder_shapes(dims: "WhisperDims", positions: int, windows: int) -> list[Shape]:
    """The products of one block for 1 and ``windows`` windows of ``positions`` encoder frames
    (150 for 3 s), and the issue's 30 s products ``(n_ctx, d) @ (d, d)`` and ``@ (d, d_ff)``."""
    d, f, h, t = dims.d_model, dims.d_ff, dims.n_heads, positions
    out: list[Shape] = []
    for w in sorted({1, windows}):
        mix = w == windows
        out += [Shape(f"qkv x{w}", 1, w * t, d, 3 * d, mix), Shape(f"out x{w}", 1, w * t, d, d, mix),
                Shape(f"fc1 x{w}", 1, w * t, d, f, mix), Shape(f"fc2 x{w}", 1, w * t, f, d, mix),
                Shape(f"scores x{w}", w * h, t, d // h, t, mix), Shape(f"values x{w}", w * h, t, t, d // h, mix)]
    return out + [Shape("30s out", 1, dims.n_ctx, d, d), Shape("30s fc1", 1, dims.n_ctx, d, f)]


def torch_matmul(shape: Shape, dtype: "torch.dtype", device: str = "cpu") -> Callable[[], Any]:
    """A call running ``shape``'s product in torch on ``device`` (``F.linear`` as ``nn.Linear``
    does, or ``bmm``), on random operands."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    if shape.linear:
        a = torch.randn(shape.m, shape.k, generator=g).to(device, dtype)
        w = torch.randn(shape.n, shape.k, generator=g).to(device, dtype)
        return lambda: F.linear(a, w)
    a = torch.randn(shape.batch, shape.m, shape.k, generator=g).to(device, dtype)
    b = torch.randn(shape.batch, shape.k, shape.n, generator=g).to(device, dtype)
    return lambda: torch.bmm(a, b)


def _ort_graph(shape: Shape, kind: str) -> tuple[Any, dict[str, np.ndarray]]:
    """An ONNX model of ``shape``'s product as ``kind`` (``fp32``: MatMul, ``mmi``: MatMulInteger
    uint8 x int8 -> int32, ``qlmm``: QLinearMatMul uint8 x int8 -> uint8), B a constant
    initializer for a linear shape, and the inputs to feed it."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    a_shape = [shape.m, shape.k] if shape.linear else [shape.batch, shape.m, shape.k]
    b_shape = [shape.k, shape.n] if shape.linear else [shape.batch, shape.k, shape.n]
    if kind == "fp32":
        a = rng.standard_normal(a_shape, dtype=np.float32)
        b = rng.standard_normal(b_shape, dtype=np.float32)
        inits, node = [numpy_helper.from_array(b, "B")], helper.make_node("MatMul", ["A", "B"], ["Y"])
        a_type = y_type = TensorProto.FLOAT
    else:
        a = rng.integers(0, 256, a_shape, dtype=np.uint8)
        b = rng.integers(-127, 128, b_shape, dtype=np.int8)
        zp_a, zp_b = numpy_helper.from_array(np.array(128, np.uint8), "za"), numpy_helper.from_array(np.array(0, np.int8), "zb")
        inits, a_type = [numpy_helper.from_array(b, "B"), zp_a, zp_b], TensorProto.UINT8
        if kind == "mmi":
            node, y_type = helper.make_node("MatMulInteger", ["A", "B", "za", "zb"], ["Y"]), TensorProto.INT32
        else:
            scales = [numpy_helper.from_array(np.array(s, np.float32), n) for n, s in (("sa", 0.02), ("sb", 0.01), ("sy", 0.5))]
            inits += scales + [numpy_helper.from_array(np.array(128, np.uint8), "zy")]
            node, y_type = helper.make_node("QLinearMatMul", ["A", "sa", "za", "B", "sb", "zb", "sy", "zy"], ["Y"]), TensorProto.UINT8
    graph = helper.make_graph([node], f"{kind}_matmul", [helper.make_tensor_value_info("A", a_type, a_shape)],
                              [helper.make_tensor_value_info("Y", y_type, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model, {"A": a}


def ort_matmul(shape: Shape, kind: str, threads: int | None = None) -> Callable[[], Any] | None:
    """A call running ``shape``'s product in onnxruntime as ``kind``; ``None`` where onnx or
    onnxruntime lacks it (int8 covers linear shapes only: the quantized graph keeps attention fp32)."""
    if kind != "fp32" and not shape.linear:
        return None
    try:
        import onnxruntime as ort

        model, feeds = _ort_graph(shape, kind)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = threads
        session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        session.run(None, feeds)
    except Exception as exc:  # noqa: BLE001 - an op or type this onnxruntime build lacks
        log.warning("onnxruntime %s %s: not available (%s)", kind, shape.name, str(exc).splitlines()[0][:120])
        return None
    return lambda: session.run(None, feeds)


def backend_call(backend: str, shape: Shape, threads: int | None) -> Callable[[], Any] | None:
    """The call timing ``shape`` on ``backend`` (one of :data:`BACKENDS`)."""
    import torch

    if backend == "torch-fp32":
        return torch_matmul(shape, torch.float32)
    if backend == "torch-bf16":
        return torch_matmul(shape, torch.bfloat16)
    return ort_matmul(shape, {"ort-fp32": "fp32", "ort-int8-mmi": "mmi", "ort-int8-qlmm": "qlmm"}[backend], threads)


def measure_matmuls(shapes: list[Shape], backends: list[str], seconds: float, threads: int | None) -> dict[str, dict[str, float | None]]:
    """``{backend: {shape name: sustained GFLOP/s or None}}``, each printed as it is measured."""
    import torch

    rates: dict[str, dict[str, float | None]] = {}
    with torch.inference_mode():
        for backend in backends:
            rates[backend] = {}
            for shape in shapes:
                call = backend_call(backend, shape, threads)
                rates[backend][shape.name] = None if call is None else sustained_rate(call, shape.flops, seconds)["median"] / 1e9
                log.info("%s %s: %s GFLOP/s", backend, shape.name, rates[backend][shape.name])
    return rates


def ceilings(shapes: list[Shape], rates: dict[str, dict[str, float | None]]) -> dict[str, dict[str, float | None]]:
    """Per backend: ``peak`` (best shape) and ``mix`` (the block's batch-shape products run in turn:
    total FLOPs over total time; a product the backend lacks at onnxruntime fp32's rate)."""
    out: dict[str, dict[str, float | None]] = {}
    fallback = rates.get("ort-fp32", {})
    for backend, per in rates.items():
        got = [r for r in per.values() if r]
        seconds, flops = 0.0, 0
        for s in (s for s in shapes if s.mix):
            rate = per.get(s.name) or fallback.get(s.name)
            if not rate:
                seconds = float("nan")
                break
            seconds += s.flops / (rate * 1e9)
            flops += s.flops
        out[backend] = {"peak": max(got) if got else None, "mix": flops / seconds / 1e9 if seconds == seconds and seconds > 0 else None}
    return out


# ----------------------------------------------------------------------------------------------
# achieved rates
# ----------------------------------------------------------------------------------------------
def file_like_rate(model: Any, wins: list[np.ndarray], batch: int, seconds: float) -> float:
    """Windows per second of ``predict_proba`` over ``wins`` (each ``(samples,)``) in batches of
    ``batch`` (``(batch, samples)``, as ``emomon file`` scores segments): the median pass over
    ``seconds``, after one warm-up batch."""
    batches = [np.stack(wins[i : i + batch]) for i in range(0, len(wins), batch)]
    model.predict_proba(batches[0])

    def one_pass() -> None:
        for b in batches:
            model.predict_proba(b)

    return sustained_rate(one_pass, len(wins), seconds, min_calls=1)["median"]


def stream_saturation(model: Any, streams: int, seconds: float) -> dict[str, float]:
    """Classified windows per second of ``streams`` files of ``seconds`` through one monitor in
    fast mode (``emomon file f1 .. fN --stream --fast``), and the worker's mean batch."""
    from streams_bench import stream_files

    from emomon.stream.api import file_monitor

    with tempfile.TemporaryDirectory() as tmp:
        files = stream_files(streams, seconds, Path(tmp))
        monitor = file_monitor([str(f) for f in files], model, fast=True)
        t0, classified, windows = time.perf_counter(), 0, 0
        for rec in monitor.records():
            windows += 1
            classified += rec.scores is not None
        wall = time.perf_counter() - t0
    w = monitor.worker
    return {"windows_per_s": classified / wall, "windows": windows, "classified": classified, "wall_s": wall,
            "mean_batch": w.windows / max(1, w.batches)}


def share_row(what: str, precision: str, wps: float, flops: int, ceil: dict[str, float | None]) -> dict[str, Any]:
    """An achieved-rate row: windows/s, GFLOP/s and the shares of ``ceil``'s ``mix`` and ``peak``."""
    gflops = wps * flops / 1e9
    return {"what": what, "precision": precision, "windows_per_s": wps, "gflops": gflops,
            "mix_gflops": ceil.get("mix"), "share_mix": gflops / ceil["mix"] if ceil.get("mix") else None,
            "peak_gflops": ceil.get("peak"), "share_peak": gflops / ceil["peak"] if ceil.get("peak") else None}


# ----------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------
def run_flops(names: list[str], samples: int) -> dict[str, Any]:
    """Analytic and measured FLOPs per window of ``samples`` of each model in ``names`` (models
    that are not a layer head on a Whisper backbone are listed as skipped)."""
    from emomon.models import load_model

    out: dict[str, Any] = {}
    for name in names:
        model = load_model(name, device="cpu").eval()
        if not hasattr(getattr(model, "backbone", None), "encoder"):
            out[name] = {"skipped": f"{type(model).__name__}: not a layer head on a Whisper backbone"}
            continue
        a, m = model_flops(model, samples), measured_flops(model, samples)
        out[name] = {"analytic": a.as_dict(), "measured": m.as_dict(), "relative_difference": (a.total - m.total) / m.total,
                     "encoder_blocks": len(model.backbone.encoder.blocks), "layers_used": model.layers}
    return out


def run_achieved(model: Any, flops: int, ceil: dict[str, dict[str, float | None]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The ``file`` and ``streams`` rows for fp32 and ``auto``, against the ceilings of the
    precision each resolved to (bf16 → torch-bf16, else torch-fp32)."""
    from window_cost import windows

    rows = []
    wins = windows(args.windows, model.config.window or 3.0)
    for requested in ("fp32", "auto"):
        precision = model.set_precision(requested)
        target = ceil.get("torch-bf16" if precision == "bf16" else "torch-fp32", {})
        label = f"{requested} ({precision})"
        if "file" in args.what:
            rows.append(share_row(f"file, batch {args.batch}", label, file_like_rate(model, wins, args.batch, args.seconds_file), flops, target))
        if "streams" in args.what:
            sat = stream_saturation(model, args.streams, args.stream_seconds)
            rows.append({**share_row(f"streams x{args.streams}, fast", label, sat["windows_per_s"], flops, target), "detail": sat})
        for row in rows[-2:]:
            log.info("%s %s: %.1f windows/s", row["what"], row["precision"], row["windows_per_s"])
    model.set_precision("fp32")
    if args.saturation:
        rows.append(share_row("given saturation", "fp32", args.saturation, flops, ceil.get("torch-fp32", {})))
    return rows


def _fmt(v: float | None, spec: str = "8.1f") -> str:
    return format(v, spec) if isinstance(v, (int, float)) and v == v else format("-", f">{spec.split('.')[0]}")


def report(res: dict[str, Any]) -> str:
    """The plain-text table of a run's results (``res`` as :func:`main` collects it)."""
    lines = []
    if "rates" in res:
        backends = list(res["rates"])
        lines.append(f"{'shape':14s} {'batch':>5} {'M':>6} {'K':>5} {'N':>5} " + " ".join(f"{b:>13s}" for b in backends) + "   (GFLOP/s)")
        for s in res["shapes"]:
            lines.append(f"{s['name']:14s} {s['batch']:5d} {s['m']:6d} {s['k']:5d} {s['n']:5d} "
                         + " ".join(_fmt(res["rates"][b].get(s["name"]), "13.1f") for b in backends))
        for kind in ("peak", "mix"):
            lines.append(f"{'ceiling ' + kind:38s}" + " ".join(_fmt(res["ceilings"][b][kind], "13.1f") for b in backends))
    for name, f in res.get("flops", {}).items():
        if "skipped" in f:
            lines.append(f"FLOPs {name}: skipped ({f['skipped']})")
            continue
        lines.append(f"FLOPs per {res['window_s']:g} s window, {name} ({f['encoder_blocks']} blocks run, layers {f['layers_used']} pooled):")
        for src in ("analytic", "measured"):
            lines.append(f"  {src:9s} total {f[src]['total'] / 1e9:7.3f} GFLOP = " + ", ".join(f"{p} {f[src][p] / 1e6:.1f}M" for p in PARTS))
        lines.append(f"  difference {100 * f['relative_difference']:+.3f} %")
    if res.get("achieved"):
        lines.append(f"{'achieved':24s} {'precision':>12s} {'win/s':>8s} {'GFLOP/s':>8s} {'mix':>8s} {'share':>6s} {'peak':>8s} {'share':>6s}")
        for r in res["achieved"]:
            mix, peak = (_fmt(r[k] and 100 * r[k], "5.1f") for k in ("share_mix", "share_peak"))
            lines.append(f"{r['what']:24s} {r['precision']:>12s} {_fmt(r['windows_per_s'])} {_fmt(r['gflops'])} "
                         f"{_fmt(r['mix_gflops'])} {mix}% {_fmt(r['peak_gflops'])} {peak}%")
    if res.get("goal"):
        g = res["goal"]
        lines.append(f"goal: {g['streams']} streams at a {g['hop_s']:g} s hop = {g['windows_per_s']:g} windows/s = {g['gflops']:.0f} GFLOP/s")
        for b, c in g["mix"].items():
            lines.append(f"  {b:14s} mix ceiling {_fmt(c, '7.0f')} GFLOP/s: {_fmt(c and 100 * g['gflops'] / c, '5.0f')} % of it needed, "
                         f"{_fmt(g['streams_at_mix'][b], '5.1f')} streams at best")
    return "\n".join(lines)


def goal(streams: int, hop: float, flops: int, ceil: dict[str, dict[str, float | None]]) -> dict[str, Any]:
    """What ``streams`` streams at ``hop`` need (windows/s, GFLOP/s), and how many streams each
    backend's mix ceiling could carry at best."""
    wps = streams / hop
    mix = {b: c["mix"] for b, c in ceil.items()}
    return {"streams": streams, "hop_s": hop, "windows_per_s": wps, "gflops": wps * flops / 1e9, "mix": mix,
            "streams_at_mix": {b: (m * 1e9 / flops * hop if m else None) for b, m in mix.items()}}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (module docstring); ``what`` as a set, ``seconds_file`` resolved."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default", help="the model the shapes and the achieved rates are of (name or directory)")
    ap.add_argument("--models", default=None, help="comma list whose FLOPs are counted (default: every shipped model, and --model)")
    ap.add_argument("--what", default="matmul,flops,file,streams", help="comma list of parts")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="comma list of matmul backends")
    ap.add_argument("--seconds", type=float, default=1.0, help="seconds per matmul measurement (0.1 for a short run)")
    ap.add_argument("--seconds-file", type=float, default=None, help="seconds of file-like passes (default: 10 x --seconds)")
    ap.add_argument("--windows", type=int, default=48, help="windows of the file-like run")
    ap.add_argument("--batch", type=int, default=None, help="windows per forward pass (default: emomon's MAX_BATCH, 16)")
    ap.add_argument("--streams", type=int, default=4, help="streams of the saturation run")
    ap.add_argument("--stream-seconds", type=float, default=15.0, help="seconds of each stream's file")
    ap.add_argument("--saturation", type=float, default=None, help="a saturation windows/s measured elsewhere (fp32)")
    ap.add_argument("--goal-streams", type=int, default=24, help="streams whose need is set against the ceilings")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure as JSON")
    args = ap.parse_args(argv)
    args.what = set(args.what.split(","))
    args.seconds_file = args.seconds_file if args.seconds_file is not None else 10 * args.seconds
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the parts of ``--what``, print the table, write ``--json``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    import torch
    from onnx_bench import machine

    from emomon import defaults
    from emomon.models import load_model, shipped_models
    from emomon.models.precision import native_bf16

    if args.threads:
        torch.set_num_threads(args.threads)
    args.batch = args.batch or defaults.MAX_BATCH
    res: dict[str, Any] = {"argv": sys.argv if argv is None else argv, "machine": machine(), "torch_threads": torch.get_num_threads()}
    print(f"machine: {res['machine']['cpu']}, {res['machine']['cores']} cores ({', '.join(res['machine']['units'])}); "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; load {res['machine']['load']}")
    model = load_model(args.model, device="cpu").eval()
    window_s = float(model.config.window or 3.0)
    samples = int(round(window_s * model.sample_rate))
    res["window_s"] = window_s
    flops = model_flops(model, samples)
    backends = [b for b in args.backends.split(",") if b != "torch-bf16" or native_bf16(torch.device("cpu"))]
    dims = model.backbone.encoder.dims
    shapes = encoder_shapes(dims, encoder_frames(samples, model.backbone.front)[1] // 2, args.batch)
    res["shapes"] = [asdict(s) for s in shapes]
    if "matmul" in args.what:
        res["rates"] = measure_matmuls(shapes, backends, args.seconds, args.threads)
        res["ceilings"] = ceilings(shapes, res["rates"])
    ceil = res.get("ceilings", {})
    if "flops" in args.what:
        names = args.models.split(",") if args.models else list(dict.fromkeys([*shipped_models(), args.model]))
        res["flops"] = run_flops(names, samples)
    res["achieved"] = run_achieved(model, flops.total, ceil, args) if args.what & {"file", "streams"} else []
    if ceil:
        res["goal"] = goal(args.goal_streams, float(model.config.hop or 0.5), flops.total, ceil)
    res["load_end"] = os.getloadavg()
    print(report(res))
    print(f"load at the end: {res['load_end']}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Helpers shared by the benchmarks (``ceiling.py``, ``gpu_streams.py``, ``file_bench.py``,
``onnx_bench.py``, ...) and ``scripts/prepare_gpu_inputs.py`` (not a benchmark: nothing to run here).

* :func:`time_v`: a command's wall seconds and peak RSS, from ``/usr/bin/time -v``;
* :func:`sustained_rate`: the sustained rate of a repeated call (operations per second, median
  of per-call times over a few seconds), with a device synchronisation where one is needed;
* the layout of the folder ``scripts/prepare_gpu_inputs.py`` writes for a lent GPU (git-ignored,
  under ``runs/``) and :func:`load_prepared_model`, which rebuilds the shipped model from it
  without the offline Whisper packages (a lent GPU machine has torch but not emomon's
  dependencies).
"""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from emomon.models.layer_head import LayerHeadModel

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
SR = 16000
GPU_INPUTS = REPO / "runs" / "gpu_inputs"  # runs/ is git-ignored
WINDOWS_NAME = "windows.npy"  # (windows, samples) float32 at 16 kHz
ENCODER_NAME = "encoder.fp16.safetensors"  # the Whisper encoder's state dict in fp16, dims in its metadata
MODEL_DIR = "model"  # the shipped model's config.json and head weights (model.safetensors)
MANIFEST_NAME = "manifest.json"


def time_v(argv: list[str]) -> tuple["subprocess.CompletedProcess[str]", float, float]:
    """Run ``argv`` under ``/usr/bin/time -v``: ``(the finished process, wall seconds, peak RSS
    in MB)``; a process that failed (``returncode`` not 0) comes back with both figures ``nan``,
    for the caller to say so."""
    p = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True)
    if p.returncode != 0:
        return p, float("nan"), float("nan")
    rss = next(int(line.split(":")[1]) for line in p.stderr.splitlines() if "Maximum resident set size" in line)
    wall = next(line.split(": ", 1)[1] for line in p.stderr.splitlines() if "Elapsed (wall clock)" in line)
    seconds = sum(float(v) * 60 ** i for i, v in enumerate(reversed(wall.split(":"))))
    return p, seconds, rss / 1024


def sustained_rate(fn: Callable[[], Any], ops: float, seconds: float, sync: Callable[[], None] | None = None,
                   min_calls: int = 3) -> dict[str, float]:
    """``fn()`` repeated for about ``seconds`` after two warm-up calls (at least ``min_calls``
    timed): ``{"median": ops/s, "best": ops/s, "calls": n}`` from the per-call times, each call
    ended by ``sync()`` (e.g. ``torch.cuda.synchronize``) when given."""
    for _ in range(2):
        fn()
    if sync is not None:
        sync()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        if sync is not None:
            sync()
        times.append(time.perf_counter() - t0)
    return {"median": ops / statistics.median(times), "best": ops / min(times), "calls": float(len(times))}


def load_prepared_model(folder: Path, device: str = "cpu") -> "LayerHeadModel":
    """The model ``scripts/prepare_gpu_inputs.py`` wrote into ``folder``: its config and head from
    ``folder/model``, the Whisper encoder from ``folder/encoder.fp16.safetensors`` (upcast to
    fp32: the weights are the shipped ones rounded to fp16), in eval mode on ``device``."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    from emomon.features.mel import FrontEnd
    from emomon.models.backbones import WhisperBackbone
    from emomon.models.config import read_config
    from emomon.models.layer_head import LayerHeadModel
    from emomon.models.whisper_encoder import WhisperDims, WhisperEncoder

    with safe_open(str(folder / ENCODER_NAME), framework="pt") as f:
        dims = WhisperDims(**json.loads((f.metadata() or {})["dims"]))
    encoder = WhisperEncoder(dims)
    encoder.load_state_dict({k: v.float() for k, v in load_file(str(folder / ENCODER_NAME)).items()}, strict=True)
    config = read_config(folder / MODEL_DIR)
    backbone = WhisperBackbone(encoder.eval(), FrontEnd.from_dict(config.frontend or {}))
    for p in backbone.parameters():
        p.requires_grad_(False)
    model = LayerHeadModel(config, backbone=backbone)
    model.load_weights(folder / MODEL_DIR / "model.safetensors", config_path=folder / MODEL_DIR / "config.json")
    log.info("model from %s: %d encoder layers, d_model %d", folder, dims.n_layers, dims.d_model)
    return model.eval().to(torch.device(device))

#!/usr/bin/env python3
"""Write what ``benchmarks/gpu_streams.py`` needs on a lent GPU into one git-ignored folder, so
that the GPU needs a single call (it has torch, but neither emomon's audio dependencies, the
offline Whisper packages, ../shared nor a network).

    .venv/bin/python scripts/prepare_gpu_inputs.py                       # runs/gpu_inputs, about 50 MB
    .venv/bin/python scripts/prepare_gpu_inputs.py --windows 32 --out runs/gpu_inputs
    .venv/bin/python scripts/prepare_gpu_inputs.py --model DIR           # another layer-head model on Whisper

then, on the device: ``run(carry=["runs/gpu_inputs"], command="python3 benchmarks/gpu_streams.py")``.

The folder (layout in ``benchmarks/_common.py``) holds:

* ``windows.npy``: ``(windows, samples)`` float32 at 16 kHz, the model's window long: the starts
  of RAVDESS clips spread over the actors (../shared/data/ravdess-speech), else synthesized
  harmonic "speech" (``benchmarks/window_cost.windows``);
* ``encoder.fp16.safetensors``: the model's Whisper encoder in fp16, its sizes in the metadata:
  41 MB against 82 MB in fp32 (over the 64 MiB a device call carries); for the default model it
  is lossless, the weights (Systran/faster-whisper-base) being fp16 values already;
* ``model/``: the model's ``config.json`` and head weights ``model.safetensors``;
* ``manifest.json``: sources, sizes, the git revision, and how far the fp16-rounded encoder's
  probabilities are from the shipped model's on the first windows.

The total is checked against ``--budget-mib`` (default 56: the working tree travels as well).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))
from _common import ENCODER_NAME, GPU_INPUTS, MANIFEST_NAME, MODEL_DIR, WINDOWS_NAME, load_prepared_model  # noqa: E402

log = logging.getLogger("prepare_gpu_inputs")


def write_windows(out: Path, n: int, seconds: float) -> dict[str, Any]:
    """``out/windows.npy``: ``n`` windows ``(n, seconds * 16 kHz)`` float32; where they came from."""
    from window_cost import RAVDESS, windows

    x = np.stack(windows(n, seconds)).astype(np.float32)
    np.save(out / WINDOWS_NAME, x)
    return {"windows": int(x.shape[0]), "samples": int(x.shape[1]), "source": "ravdess" if RAVDESS.is_dir() else "synthesized",
            "bytes": (out / WINDOWS_NAME).stat().st_size}


def write_model(out: Path, name: str) -> tuple[Any, dict[str, Any]]:
    """``out/encoder.fp16.safetensors`` and ``out/model/`` of model ``name`` (a layer head on a
    Whisper backbone); the loaded model and the sizes written."""
    import torch
    from safetensors.torch import save_file

    from emomon.errors import ModelError
    from emomon.models import load_model
    from emomon.models.shipped import resolve_model_dir

    model = load_model(name, device="cpu").eval()
    encoder = getattr(getattr(model, "backbone", None), "encoder", None)
    if encoder is None or not hasattr(encoder, "dims"):
        raise ModelError(str(name), "not a layer head on a Whisper backbone: nothing to prepare")
    state = {k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous().clone()
             for k, v in encoder.state_dict().items()}
    save_file(state, str(out / ENCODER_NAME), metadata={"dims": json.dumps(encoder.dims.to_dict())})
    (out / MODEL_DIR).mkdir(exist_ok=True)
    src = resolve_model_dir(name)
    for f in ("config.json", "model.safetensors"):
        shutil.copyfile(src / f, out / MODEL_DIR / f)
    fp32_bytes = sum(v.numel() * 4 for v in encoder.state_dict().values())
    return model, {"model": str(name), "dims": encoder.dims.to_dict(), "encoder_bytes": (out / ENCODER_NAME).stat().st_size,
                   "encoder_fp32_bytes": fp32_bytes}


def check_round_trip(model: Any, out: Path, n: int = 4) -> dict[str, Any]:
    """Probabilities of the shipped model and of the one rebuilt from ``out`` (fp16-rounded encoder)
    on the first ``n`` windows: the largest difference and whether the labels agree."""
    x = np.load(out / WINDOWS_NAME)[:n]
    model.set_precision("fp32")
    a = model.predict_proba(x)
    b = load_prepared_model(out, "cpu").predict_proba(x)
    return {"windows": int(len(x)), "max_abs_prob_diff": float(np.abs(a - b).max()), "labels_agree": int((a.argmax(1) == b.argmax(1)).sum())}


def folder_bytes(out: Path) -> int:
    """Bytes of every file under ``out``."""
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


def git_ignored(path: Path) -> bool:
    """Whether git ignores ``path`` in this repository (so it is carried, never committed)."""
    r = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", str(path)], capture_output=True)
    return r.returncode == 0


def main(argv: list[str] | None = None) -> int:
    """Write the folder, check its round trip and size; 1 when over the budget."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=GPU_INPUTS, help=f"the folder (default {GPU_INPUTS.relative_to(REPO)})")
    ap.add_argument("--model", default="default", help="shipped model name or directory (a layer head on Whisper)")
    ap.add_argument("--windows", type=int, default=48, help="windows to write (192 KB each at 3 s)")
    ap.add_argument("--budget-mib", type=float, default=56.0, help="refuse a folder larger than this")
    ap.add_argument("--allow-tracked", action="store_true", help="write into a folder git does not ignore (tests)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    out = args.out.resolve()
    if not args.allow_tracked and not git_ignored(out):
        ap.error(f"{out} is not git-ignored: choose a folder under runs/")
    out.mkdir(parents=True, exist_ok=True)
    model, info = write_model(out, args.model)
    info["windows"] = write_windows(out, args.windows, float(model.config.window or 3.0))
    info["round_trip"] = check_round_trip(model, out)
    info["git_rev"] = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    (out / MANIFEST_NAME).write_text(json.dumps(info, indent=2) + "\n")
    total = folder_bytes(out)
    log.info("%s: %.1f MiB (encoder %.1f MiB in fp16, %.1f in fp32; %d %s windows %.1f MiB); fp16 round trip: max |dp| %.2g, labels %d/%d",
             out, total / 2**20, info["encoder_bytes"] / 2**20, info["encoder_fp32_bytes"] / 2**20, info["windows"]["windows"],
             info["windows"]["source"], info["windows"]["bytes"] / 2**20, info["round_trip"]["max_abs_prob_diff"],
             info["round_trip"]["labels_agree"], info["round_trip"]["windows"])
    if total > args.budget_mib * 2**20:
        log.error("%.1f MiB is over the budget of %.0f MiB: use fewer --windows", total / 2**20, args.budget_mib)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

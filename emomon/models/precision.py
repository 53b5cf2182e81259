"""The number format a model's backbone runs in: ``fp32``, or ``bf16`` where the hardware has it.

``auto`` (the default, :data:`emomon.defaults.PRECISION`) picks bf16 only where it is native and
therefore faster: a CUDA device that supports it, or a CPU with AMX or AVX512-BF16 (oneDNN then
runs bf16 matrix products on those units); everywhere else fp32. An explicit ``bf16`` runs bf16
anyway (a CPU without those units emulates it, several times slower: a warning says so), which
is how its effect on accuracy is measured on any machine.

Only the backbone runs in bf16: the log-mel front end, the pooling and the head stay fp32, so the
head sees the same kind of features it was trained on. A backbone that declares ``bf16_weights``
(Whisper's encoder) runs on a bf16 copy of its weights (:func:`bf16_copy`), its activations bf16
throughout: under ``torch.autocast`` every call would cast the fp32 weights again and move the
activations between fp32 and bf16 around each layer norm, which costs more than the matrix
products themselves on AMX (the copy's encoder is 1.21–1.50× faster at batch 16 and 1 on a 2-core
Xeon: ``benchmarks/bf16_copy.py``). Other backbones
run under ``torch.autocast`` (:func:`backbone_autocast`).
"""

from __future__ import annotations

import contextlib
import copy
import logging
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import torch

from ..defaults import PRECISIONS
from ..errors import EmomonError

log = logging.getLogger(__name__)

_NATIVE_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (``/proc/cpuinfo``; empty where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 matrix products natively (faster than fp32)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return any(f in cpu_flags() for f in _NATIVE_CPU_FLAGS)
    return False


def resolve_precision(requested: str, device: torch.device) -> str:
    """``auto`` → ``bf16`` where :func:`native_bf16`, else ``fp32``; ``fp32``/``bf16`` as given
    (an emulated bf16 is logged as a warning). Another name is an :class:`EmomonError`."""
    if requested not in PRECISIONS:
        raise EmomonError("precision", f"unknown {requested!r} (choose from {', '.join(PRECISIONS)})")
    if requested == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if requested == "bf16" and not native_bf16(device):
        log.warning("bf16 on %s without native support (no AMX/AVX512-BF16): emulated, slower than fp32", device.type)
    return requested


@contextlib.contextmanager
def backbone_autocast(precision: str, device: torch.device) -> Iterator[None]:
    """``torch.autocast`` to bf16 on ``device`` when ``precision`` is ``bf16``; nothing otherwise."""
    if precision != "bf16":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        yield


def bf16_copy(backbone: torch.nn.Module) -> torch.nn.Module | None:
    """A bf16 copy of ``backbone`` (weights and buffers; the original is left fp32) where it runs on
    one (its ``bf16_weights``), else ``None``: run it under :func:`backbone_autocast` instead."""
    if not getattr(backbone, "bf16_weights", False):
        return None
    return copy.deepcopy(backbone).to(torch.bfloat16).eval()


def full_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast switched off on ``device`` (the front end and the head inside a bf16 backbone call)."""
    return torch.autocast(device_type=device.type, enabled=False)

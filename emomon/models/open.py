"""Opening a model for a job: loaded on its backend and precision, checked against a window,
and the decision whether its streams adapt to their speaker.

Everything that runs a model (the streaming pipeline, file timelines, batch jobs, the command
line) opens it here, so the rules are the same everywhere. Errors name the option they are
about (``precision``, ``window``, ``profile``): the command line prints them as its flags.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import defaults
from ..errors import EmomonError

if TYPE_CHECKING:
    from .base import EmotionModel

log = logging.getLogger(__name__)


def open_model(model: "str | Path | EmotionModel" = "default", compute: str = "auto",
               precision: str = defaults.PRECISION, backend: str = "torch") -> "EmotionModel":
    """A loaded model: a model object as is, else a shipped name or directory loaded on
    ``compute`` (``auto``: CUDA when available, else CPU), its backbone in ``precision``
    (:mod:`emomon.models.precision`: ``auto`` is bf16 where the hardware has it, else fp32).

    ``backend``: ``torch``, or ``onnx`` (:mod:`emomon.models.backend`: onnxruntime, torch never
    imported; its graph runs as exported, fp32 or int8, so ``precision`` must be ``auto`` or ``fp32``)."""
    if not isinstance(model, (str, Path)):
        return model  # an EmotionModel or OnnxModel (checking the class would import torch)
    if backend == "onnx" and precision not in ("auto", "fp32"):
        raise EmomonError(f"precision={precision}", "applies to --backend torch (the onnx backend runs its graph as exported: "
                                                    "fp32, or int8 with emomon export --quantize int8)")
    from .backend import load_with_backend

    m = load_with_backend(model, backend, compute)
    if backend == "torch":
        m.set_precision(precision)  # type: ignore[union-attr]
    return m  # type: ignore[return-value]


def check_window_fits(model: "EmotionModel", window: float | None) -> None:
    """Refuse a ``window`` (seconds) shorter than ``model``'s input takes (its front end's STFT,
    or its backbone's shortest input), before any audio reaches it. ``None`` (the model's own
    window) passes: its config was checked against the same needs."""
    if window is None:
        return
    needs, rate = model.input_needs, model.sample_rate
    if round(window * rate) < needs.min_samples:
        raise EmomonError("window", f"{window:g} s is shorter than {needs.source} takes "
                                    f"({needs.min_samples} samples at {rate} Hz: at least {needs.min_samples / rate:.4g} s)")


@dataclass(frozen=True)
class Adaptation:
    """Whether a job adapts to its speaker (``adapt``), and a ``note`` for the user when what was
    asked for cannot be done (the command line prints it on stderr; ``None``: nothing to say)."""

    adapt: bool
    note: str | None = None


def decide_adaptation(model: "EmotionModel", adapt: bool | None = None, profile: str | None = None,
                      default: bool = defaults.ADAPT, name: str | None = None) -> Adaptation:
    """Whether to adapt to the speaker: ``adapt`` (``None``: ``default``, or on with a ``profile``) when ``model`` can.

    A model that cannot adapt is an :class:`~emomon.errors.EmomonError` with a ``profile`` (whose
    statistics it could not use), and a note when ``adapt`` was asked for. ``name``: the model as
    the user named it, for those messages."""
    if model.adaptive:  # a profile is what adaptation starts from: naming one turns it on
        return Adaptation((default or profile is not None) if adapt is None else bool(adapt))
    shown = name if name is not None else getattr(getattr(model, "config", None), "architecture", "this model")
    if profile is not None:
        raise EmomonError(f"profile={profile}", f"model {shown} cannot adapt to the speaker "
                                                "(it was not trained with speaker standardisation)")
    if adapt:
        return Adaptation(False, f"model {shown} cannot adapt to the speaker; running without adaptation")
    return Adaptation(False)

"""A layer-head model's head in numpy: standardise, adapt, mix, temperature (no torch).

:class:`NumpyHead` reads the head tensors a :class:`~emomon.models.layer_head.LayerHeadModel`
saves in ``model.safetensors`` (with ``safetensors.numpy``) and computes what its
``classify_features`` does: pooled features ``(batch, F)`` → logits ``(batch, labels)``
(log-probabilities when the unadapted and adapted heads are mixed). The onnxruntime backend
(:mod:`.onnx_model`) runs the backbone; this runs the rest. Arithmetic is float64 (torch's is
float32): the two agree to about 1e-6 in probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import ModelError
from .adapt import PriorAdaptive, SpeakerState
from .params import LayerHeadParams, ParamsInvalid


@dataclass(frozen=True)
class Linear:
    """One standardised, temperature-scaled linear head: ``mean``/``scale`` ``(F,)``,
    ``weight (labels, F)``, ``bias (labels,)``, ``temperature`` (scalar)."""

    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    temperature: float

    def logits(self, z: np.ndarray) -> np.ndarray:
        """Standardised rows ``(batch, F)`` → ``(batch, labels)`` (before the temperature)."""
        return z @ self.weight.T + self.bias


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(batch, labels)``."""
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class NumpyHead(PriorAdaptive):
    """The head of a layer-head model (see :class:`~emomon.models.layer_head.LayerHeadModel`).

    ``params``: the config's params (:class:`~.params.LayerHeadParams`, or their JSON form:
    ``speaker_norm``, ``shift``); ``tensors``: the saved head (``feat_mean``, ``head.weight``, ...;
    ``adapt_*`` and ``base_*`` for adaptive models).
    """

    def __init__(self, params: LayerHeadParams | Mapping[str, Any], tensors: Mapping[str, np.ndarray], where: str = "model.safetensors") -> None:
        t = {k: np.asarray(v, dtype=np.float64) for k, v in tensors.items()}
        self.head = _linear(t, "feat_mean", "feat_scale", "head.weight", "head.bias", "temperature", where)
        if not isinstance(params, LayerHeadParams):
            try:
                params = LayerHeadParams.from_dict(params)
            except ParamsInvalid as bad:
                raise ModelError(where, f"params.{bad.key}: {bad.why}") from None
        norm = params.speaker_norm
        self.prior_weight: float | None = norm.prior_weight if norm is not None else None
        self.shift: tuple[float, float] | None = (params.shift.d0, params.shift.b) if params.shift is not None else None
        self.base: Linear | None = None
        if norm is not None:
            self.adapt_mean, self.adapt_var = _need(t, "adapt_mean", where), _need(t, "adapt_var", where)
            if norm.unadapted_head:
                self.base = _linear(t, "base_mean", "base_scale", "base_head.weight", "base_head.bias", "base_temperature", where)

    @classmethod
    def load(cls, params: LayerHeadParams | Mapping[str, Any], path: str | Path) -> "NumpyHead":
        """The head saved in ``path`` (``model.safetensors``); a :class:`ModelError` when unreadable."""
        from safetensors.numpy import load_file

        try:
            tensors = load_file(str(path))
        except Exception as exc:  # noqa: BLE001 - a missing, truncated or foreign file
            raise ModelError(str(path), f"cannot read weights ({exc})") from None
        return cls(params, tensors, str(path))

    @property
    def num_features(self) -> int:
        return int(self.head.weight.shape[1])

    @property
    def num_labels(self) -> int:
        return int(self.head.weight.shape[0])

    def training_prior(self) -> tuple[np.ndarray, np.ndarray]:
        return self.adapt_mean, self.adapt_var

    def logits(self, feats: np.ndarray, speaker: SpeakerState | tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Pooled features ``(batch, F)`` → logits ``(batch, labels)`` (log-probabilities when two
        heads are mixed), as ``LayerHeadModel.classify_features``; ``speaker`` defaults to the prior."""
        f = np.asarray(feats, dtype=np.float64)
        if not self.adaptive:
            z = (f - self.head.mean) / self.head.scale
            return self.head.logits(z) / (self.head.temperature * self._shift_scale(z))
        state = self.speaker_state(speaker)
        plain_z = (f - self.base.mean) / self.base.scale if self.base is not None else None
        scale = self._shift_scale(plain_z) if plain_z is not None else 1.0
        z = ((f - np.asarray(state.mean)) / np.asarray(state.std) - self.head.mean) / self.head.scale
        adapted = self.head.logits(z) / (self.head.temperature * scale)
        if self.base is None or plain_z is None or state.weight >= 1.0:
            return adapted
        base = self.base.logits(plain_z) / (self.base.temperature * scale)
        w = float(state.weight)
        mixed = (1.0 - w) * softmax(base) + w * softmax(adapted)
        return np.log(np.maximum(mixed, 1e-30))

    def proba(self, feats: np.ndarray, speaker: SpeakerState | tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Probabilities ``(batch, labels)`` float32 of pooled features ``(batch, F)``."""
        return softmax(self.logits(feats, speaker)).astype(np.float32)

    def _shift_scale(self, plain_z: np.ndarray) -> np.ndarray | float:
        """``(batch, 1)``: ``max(1, d / d0) ** b``, ``d`` the mean square of each row (1.0 without ``shift``)."""
        if self.shift is None:
            return 1.0
        d0, b = self.shift
        d = np.square(plain_z).mean(axis=-1, keepdims=True)
        return np.maximum(d / d0, 1.0) ** b


def _need(t: Mapping[str, np.ndarray], key: str, where: str) -> np.ndarray:
    if key not in t:
        raise ModelError(where, f"weights do not fit layer-head: {key} is missing")
    return t[key]


def _linear(t: Mapping[str, np.ndarray], mean: str, scale: str, weight: str, bias: str, temperature: str, where: str) -> Linear:
    """The :class:`Linear` head under these names in ``t``, its shapes checked."""
    w, b = _need(t, weight, where), _need(t, bias, where)
    m, s = _need(t, mean, where), _need(t, scale, where)
    if w.ndim != 2 or b.shape != (w.shape[0],) or m.shape != (w.shape[1],) or s.shape != (w.shape[1],):
        raise ModelError(where, f"weights do not fit layer-head ({weight} {w.shape}, {bias} {b.shape}, {mean} {m.shape})")
    return Linear(m, s, w, b, float(_need(t, temperature, where).reshape(-1)[0]))

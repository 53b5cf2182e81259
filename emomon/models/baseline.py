"""The seed's baseline: logistic regression on two clip statistics.

Predictors (the study's EDA): clip length in seconds and amplitude variation (population std
of the samples), standardised; a multinomial logistic regression (trained with scikit-learn)
maps them to the 8 emotions. Its coefficients are stored as torch tensors, so ``forward`` is
pure torch on waveforms. :class:`LinearFeatureModel` is the shared "features → standardise →
linear" part (also used by :mod:`emomon.models.egemaps`).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from .base import EmotionModel, ModelConfig
from .registry import register_architecture


class LinearFeatureModel(EmotionModel):
    """Fixed feature vector ``(batch, n_features)`` → standardise → linear → logits.

    ``config.params["n_features"]`` sets the width. Buffers ``feat_mean``/``feat_std``
    ``(n_features,)``; parameters ``coef (labels, n_features)``, ``intercept (labels,)``
    (not trained by torch: they come from scikit-learn).
    """

    label_outputs = {"coef": 0, "intercept": 0}

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        n = getattr(config.hparams, "n_features", None)  # BaselineParams, EgemapsParams
        d = int(config.params.get("n_features", 2) if n is None else n)
        n = len(config.labels)
        self.coef = torch.nn.Parameter(torch.zeros(n, d), requires_grad=False)
        self.intercept = torch.nn.Parameter(torch.zeros(n), requires_grad=False)
        self.register_buffer("feat_mean", torch.zeros(d))
        self.register_buffer("feat_std", torch.ones(d))

    def set_linear(self, head: Mapping[str, np.ndarray]) -> None:
        """Copy ``{"mean", "std", "coef", "intercept"}`` (numpy) into the model."""
        with torch.no_grad():
            self.feat_mean.copy_(torch.as_tensor(head["mean"], dtype=torch.float32))
            self.feat_std.copy_(torch.as_tensor(head["std"], dtype=torch.float32))
            self.coef.copy_(torch.as_tensor(head["coef"], dtype=torch.float32))
            self.intercept.copy_(torch.as_tensor(head["intercept"], dtype=torch.float32))

    def classify_features(self, feats: torch.Tensor) -> torch.Tensor:
        """``(batch, n_features)`` → logits ``(batch, labels)``."""
        z = (feats.to(self.feat_mean.dtype) - self.feat_mean) / self.feat_std
        return z @ self.coef.T + self.intercept

    def proba_from_features(self, feats: np.ndarray) -> np.ndarray:
        """Probabilities ``(batch, labels)`` of precomputed features ``(batch, n_features)``."""
        with torch.inference_mode():
            x = torch.as_tensor(np.asarray(feats, dtype=np.float32), device=self.coef.device)
            return torch.softmax(self.classify_features(x), dim=-1).cpu().numpy()

    def features(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.classify_features(self.features(waveforms, lengths))


@register_architecture("baseline")
class BaselineModel(LinearFeatureModel):
    """Seed baseline: ``[duration_s, std(samples)]`` → logistic regression."""

    def __init__(self, config: ModelConfig) -> None:
        params = dict(config.params)
        params["n_features"] = 2
        config.params = params
        super().__init__(config)

    @staticmethod
    def clip_stats(samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """``[duration in seconds, population std of the samples]`` of one clip ``(samples,)``."""
        x = np.asarray(samples, dtype=np.float64)
        return np.array([len(x) / float(sample_rate), float(x.std()) if len(x) else 0.0], dtype=np.float32)

    def features(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch, samples)`` (+ valid ``lengths``) → ``(batch, 2)``: duration, std."""
        x = waveforms.to(torch.float64)
        b, t = x.shape
        if lengths is None:
            lengths = torch.full((b,), t, device=x.device)
        lengths = lengths.to(x.device)
        mask = (torch.arange(t, device=x.device)[None, :] < lengths[:, None]).to(x.dtype)
        n = lengths.to(x.dtype).clamp(min=1)
        mean = (x * mask).sum(1) / n
        var = (((x - mean[:, None]) ** 2) * mask).sum(1) / n
        duration = lengths.to(x.dtype) / float(self.sample_rate)
        return torch.stack([duration, var.sqrt()], dim=1).to(torch.float32)

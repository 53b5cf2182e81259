"""eGeMAPS functionals + standardised logistic regression.

Features: openSMILE's eGeMAPSv02 functionals (88 values per clip; the ``opensmile`` package,
optional extra ``egemaps``; openSMILE is free for research and education only — see its
licence). ``forward`` runs openSMILE on each waveform (CPU, numpy) and then the linear head
in torch.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ..errors import ModelError
from .base import ModelConfig
from .baseline import LinearFeatureModel
from .registry import register_architecture

N_FEATURES = 88


@lru_cache(maxsize=2)
def smile(feature_set: str = "eGeMAPSv02"):
    """The openSMILE extractor of ``feature_set`` functionals (created once)."""
    try:
        import opensmile
    except ImportError:
        raise ModelError("egemaps", "needs the opensmile package (pip install 'emomon[egemaps]')") from None
    return opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set), feature_level=opensmile.FeatureLevel.Functionals)


def egemaps_functionals(samples: np.ndarray, sample_rate: int, feature_set: str = "eGeMAPSv02") -> np.ndarray:
    """``(samples,)`` float32 → ``(88,)`` float32 eGeMAPS functionals."""
    x = np.asarray(samples, dtype=np.float32)
    min_len = int(0.25 * sample_rate)  # openSMILE needs a few frames; pad very short clips
    if len(x) < min_len:
        x = np.pad(x, (0, min_len - len(x)))
    values = smile(feature_set).process_signal(x, sample_rate).to_numpy(dtype=np.float32).reshape(-1)
    return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)


@register_architecture("egemaps")
class EgemapsModel(LinearFeatureModel):
    """eGeMAPSv02 functionals (openSMILE) → standardise → logistic regression."""

    def __init__(self, config: ModelConfig) -> None:
        params = dict(config.params)
        params.setdefault("n_features", N_FEATURES)
        params.setdefault("feature_set", "eGeMAPSv02")
        config.params = params
        super().__init__(config)

    def features(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch, samples)`` → ``(batch, 88)`` (openSMILE on CPU, one clip at a time)."""
        x = waveforms.detach().float().cpu().numpy()
        rows = []
        for i in range(x.shape[0]):
            n = x.shape[1] if lengths is None else int(lengths[i])
            rows.append(egemaps_functionals(x[i, :n], self.sample_rate, self.config.params["feature_set"]))
        return torch.from_numpy(np.stack(rows)).to(self.coef.device)

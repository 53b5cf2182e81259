"""Poolers over time and over layers, for heads trained on a backbone's hidden states.

:class:`StatsPool` turns frames ``(batch, time, d)`` into ``(batch, 2 * d)``: a weighted mean and
standard deviation over time, the weights learnt (attentive statistics pooling, Okabe et al.
2018) or uniform. :class:`LayerWeighting` mixes several layers' states ``[(batch, time, d)]``
with learnt softmax weights, as s3prl's featurizer does.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class StatsPool(nn.Module):
    """``(batch, time, d)`` → ``(batch, 2 * d)``: mean and std over time.

    With ``attention > 0`` each frame's weight is ``softmax_t(v · tanh(W h_t + b))`` (a small
    learnt scorer of ``attention`` units); with 0 every frame counts the same.
    """

    def __init__(self, d: int, attention: int = 128) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(d, attention), nn.Tanh(), nn.Linear(attention, 1)) if attention > 0 else None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.score is None:
            return torch.cat([h.mean(dim=1), h.std(dim=1, unbiased=False)], dim=-1)
        w = torch.softmax(self.score(h).squeeze(-1).float(), dim=1).to(h.dtype).unsqueeze(-1)  # (batch, time, 1)
        mean = (w * h).sum(dim=1)
        var = (w * h * h).sum(dim=1) - mean * mean
        return torch.cat([mean, var.clamp_min(1e-6).sqrt()], dim=-1)


class LayerWeighting(nn.Module):
    """``n`` states ``[(batch, time, d)] * n`` → their softmax-weighted sum ``(batch, time, d)``."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(n))

    def forward(self, states: Sequence[torch.Tensor]) -> torch.Tensor:
        w = torch.softmax(self.logits, dim=0)
        return sum(wi * s for wi, s in zip(w, states))  # type: ignore[return-value]

    @property
    def weights(self) -> list[float]:
        return [float(v) for v in torch.softmax(self.logits.detach(), dim=0)]

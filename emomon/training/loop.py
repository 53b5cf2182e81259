"""The epoch loop the neural recipes share: shuffled mini-batches, early stopping on a
validation loss (the best epoch's weights kept), data-parallel under ``torchrun``.

Every rank draws the same shuffled order; each global batch of ``batch_size`` clips is split
between the ranks and each rank's summed loss is scaled by ``world / batch`` so that DDP's
average of the ranks' gradients is the gradient of the whole batch's mean loss: two processes
take the very steps one process takes (up to float rounding and per-rank random draws such as
dropout).
"""

from __future__ import annotations

import copy
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..records import Utterance
from . import distributed
from .results import EpochRecord
from .recipes.base import TrainContext, progress

log = logging.getLogger(__name__)

LossSum = Callable[[nn.Module, np.ndarray], torch.Tensor]
"""``(model, clip indices (n,))`` → the summed loss over those clips (a 0-dim tensor)."""


@dataclass(frozen=True)
class LoopOptions:
    """``epochs`` at most; ``patience`` epochs without a lower validation loss stop it early."""

    epochs: int
    batch_size: int
    patience: int
    seed: int = 0
    name: str = "train"
    validate_start: bool = False  # validate before the first step too (epoch 0), so a good start can win


@dataclass
class LoopResult:
    """Per-epoch ``history`` (:class:`~emomon.training.results.EpochRecord`),
    the ``best_epoch`` whose weights the model ends with (the last one without validation) and the
    number of ``processes`` that trained it (``torchrun``'s world size)."""

    history: list[EpochRecord]
    best_epoch: int
    processes: int = 1

    def meta(self) -> dict[str, Any]:
        """What a model's ``config.meta`` records of its training (read back by :func:`history_of`)."""
        return {"best_epoch": self.best_epoch, "history": [e.to_dict() for e in self.history], "processes": self.processes}


def history_of(meta: dict[str, Any]) -> list[EpochRecord]:
    """The training curve a model's ``config.meta`` holds (empty for models trained without the loop)."""
    return [EpochRecord.parse(e) for e in meta.get("history") or () if isinstance(e, dict)]


def validation_split(utts: Sequence[Utterance], fraction: float, by: str = "speakers", seed: int = 0) -> tuple[list[Utterance], list[Utterance]]:
    """(train, validation) for early stopping, from a fold's *training* side: ``fraction`` of its
    speakers (``by="speakers"``), or a stratified ``fraction`` of its clips (``"clips"``: for the
    speaker-dependent ``random`` protocol). ``fraction`` 0: no validation."""
    return (_validation_clips if by == "clips" else _validation_speakers)(utts, fraction, seed)


def _validation_clips(utts: Sequence[Utterance], fraction: float, seed: int) -> tuple[list[Utterance], list[Utterance]]:
    """(train, validation): ``fraction`` of each emotion's clips held out (speaker-dependent)."""
    if fraction <= 0:
        return list(utts), []
    rng = random.Random(seed)
    held: set[int] = set()
    for emotion in sorted({u.emotion for u in utts}):
        members = [i for i, u in enumerate(utts) if u.emotion == emotion]
        held.update(rng.sample(members, int(round(fraction * len(members)))))
    return [u for i, u in enumerate(utts) if i not in held], [u for i, u in enumerate(utts) if i in held]


def _validation_speakers(utts: Sequence[Utterance], fraction: float, seed: int) -> tuple[list[Utterance], list[Utterance]]:
    """(train, validation): ``fraction`` of the speakers (at least one) held out, if >= 3 speakers."""
    speakers = sorted({u.speaker for u in utts})
    if fraction <= 0 or len(speakers) < 3:
        return list(utts), []
    n_val = max(1, int(round(fraction * len(speakers))))
    val = set(random.Random(seed).sample(speakers, n_val))
    return [u for u in utts if u.speaker not in val], [u for u in utts if u.speaker in val]


class _Step(nn.Module):
    """``loss_sum(model, idx)`` as a forward pass, so that DDP sees, and averages, the model's gradients."""

    def __init__(self, model: nn.Module, loss_sum: LossSum) -> None:
        super().__init__()
        self.model = model
        self.loss_sum = loss_sum

    def forward(self, idx: np.ndarray) -> torch.Tensor:
        return self.loss_sum(self.model, idx)


def train_epochs(model: nn.Module, loss_sum: LossSum, n: int, opt: torch.optim.Optimizer, opts: LoopOptions, ctx: TrainContext,
                 evaluate: Callable[[nn.Module], tuple[float, float]] | None = None) -> LoopResult:
    """Train ``model`` on ``n`` clips; ``evaluate(model)`` → (validation loss, UA) after each epoch."""
    r = distributed.ranks()
    step = distributed.wrap(_Step(model, loss_sum))
    rng = np.random.default_rng(opts.seed)
    best: tuple[float, dict[str, torch.Tensor] | None, int] = (float("inf"), None, -1)
    history: list[EpochRecord] = []
    if evaluate is not None and opts.validate_start:
        t0 = time.perf_counter()
        start = EpochRecord(0, None)
        start.val_loss, start.val_ua = evaluate(model)
        start.seconds = round(time.perf_counter() - t0, 4)
        best = (start.val_loss, copy.deepcopy(model.state_dict()), 0)
        history.append(start)
        log.info("%s start %s", opts.name, start.to_dict())
    bar = progress(range(opts.epochs), ctx, f"{opts.name}: epochs")
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        total = 0.0
        order = rng.permutation(n)
        for s in range(0, n, opts.batch_size):
            idx = order[s : s + opts.batch_size]
            mine, weight = distributed.local_part(idx, r), r.world / len(idx)
            if len(mine) == 0:  # fewer clips than ranks: this rank joins the step with a zero loss
                mine, weight = idx[:1], 0.0
            loss_local = step(mine)
            opt.zero_grad()
            (loss_local * weight).backward()
            opt.step()
            total += float(loss_local.detach()) if weight else 0.0
        row = EpochRecord(epoch + 1, distributed.all_sum(total) / n)
        if evaluate is not None:
            row.val_loss, row.val_ua = evaluate(model)
            if row.val_loss < best[0]:
                best = (row.val_loss, copy.deepcopy(model.state_dict()), epoch + 1)
        row.seconds = round(time.perf_counter() - t0, 4)
        history.append(row)
        log.info("%s epoch %s", opts.name, {k: round(v, 4) if isinstance(v, float) else v for k, v in row.to_dict().items()})
        if hasattr(bar, "set_postfix"):
            bar.set_postfix({k: round(v, 3) for k, v in row.to_dict().items() if k not in ("epoch", "seconds")})
        if evaluate is not None and epoch + 1 - best[2] >= opts.patience:
            break
    if best[1] is not None:
        model.load_state_dict(best[1])
    return LoopResult(history, best[2] if best[1] is not None else len(history), r.world)

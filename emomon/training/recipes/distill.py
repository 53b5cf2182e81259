"""Recipe ``distill``: the default recipe on a cheap student backbone whose heads learn a teacher's
probabilities as well as the labels.

In each fold the *teacher* is the default recipe's head on the teacher backbone (Whisper-base,
layers 2-6, by default), fitted on that fold's training rows only: its clips, their stream windows
with speech and their noisy and perturbed copies (``augment``), weighted as ``balance`` says. Its
probabilities on those same rows, softened by ``distill_temperature``, are mixed with the one-hot
labels (``distill_weight`` of the teacher, the rest labels) and every head of the *student* (the
default recipe on the student backbone, Whisper-tiny.en layers 1-4 by default: its plain head, its
adapted head and the heads its temperature is calibrated with) is fitted to these soft targets
(:func:`~.base.fit_soft_logreg`). The test speakers are never seen by either.

The saved model is an ordinary ``layer-head`` model on the student backbone: it runs, and costs,
exactly what the default recipe's model on that backbone does. The teacher's features come from the
feature cache the default recipe fills (same keys), so a fold costs the student's features plus
one teacher head.

Options besides the default recipe's (``--set``): ``teacher_backbone`` (registry name, default
``whisper-base``), ``teacher_source`` (path or hub id), ``teacher_layers`` (``[2,3,4,5,6]``),
``distill_weight`` (0.5: the teacher's share of each row's target; 0 gives hard labels),
``distill_temperature`` (2.0: the teacher's logits are divided by it before the softmax).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Sequence

import numpy as np

from ...errors import DataError
from ...models.base import EmotionModel
from ...records import Utterance
from . import register_recipe
from ..calibration import softmax
from .base import TrainContext, fit_soft_logreg, head_logits
from .layer_head import DEFAULT_LAYERS, LayerHeadRecipe
from .options import Option

log = logging.getLogger(__name__)

STUDENT_BACKBONE = "whisper-tiny.en"
STUDENT_LAYERS = [1, 2, 3, 4]
TEACHER_BACKBONE = "whisper-base"
DEFAULT_WEIGHT = 0.5
DEFAULT_TEMPERATURE = 2.0


def _student_defaults(options: Sequence[Option]) -> tuple[Option, ...]:
    """The default recipe's options with the student's backbone and layers as defaults."""
    new = {"backbone": STUDENT_BACKBONE, "layers": STUDENT_LAYERS}
    return tuple(dataclasses.replace(o, default=new[o.name]) if o.name in new else o for o in options)


def soft_targets(logits: np.ndarray, labels: np.ndarray, weight: float, temperature: float) -> np.ndarray:
    """``(rows, classes)`` targets: ``weight`` of ``softmax(logits (rows, classes) / temperature)``
    plus ``1 - weight`` of the one-hot ``labels (rows,)``; each row sums to 1."""
    return weight * softmax(logits, temperature) + (1.0 - weight) * np.eye(logits.shape[1])[labels]


@register_recipe("distill")
class DistillRecipe(LayerHeadRecipe):
    """The default recipe on a student backbone, its heads fitted to a per-fold teacher's soft targets."""

    options = (
        *_student_defaults(LayerHeadRecipe.options),
        Option("teacher_backbone", "str", TEACHER_BACKBONE, "the teacher's backbone (registry name)"),
        Option("teacher_source", "path", None, "the teacher backbone's weights (path or hub id; default: the registry's)"),
        Option("teacher_layers", "ints", DEFAULT_LAYERS, "the teacher's layers"),
        Option("distill_weight", "float", DEFAULT_WEIGHT, "the teacher's share of each row's target (0: labels only)", minimum=0.0),
        Option("distill_temperature", "float", DEFAULT_TEMPERATURE, "the teacher's logits are divided by this before the softmax",
               minimum=1e-3),
    )

    def __init__(self) -> None:
        super().__init__()
        self._targets: np.ndarray | None = None
        self._target_labels: np.ndarray | None = None
        self._teacher_fit: list[float] = []

    def check_options(self, ctx: TrainContext) -> None:
        super().check_options(ctx)
        if float(ctx.option("distill_weight", DEFAULT_WEIGHT)) > 1.0:
            raise DataError("--set distill_weight", "must be between 0 and 1 (the teacher's share of each target)")

    def _teacher_context(self, ctx: TrainContext) -> TrainContext:
        """``ctx`` with the teacher's backbone in place of the student's (the same rows otherwise)."""
        options = {**ctx.options, "backbone": ctx.option("teacher_backbone", TEACHER_BACKBONE),
                   "backbone_source": ctx.option("teacher_source")}
        return dataclasses.replace(ctx, options=options)

    def teacher_targets(self, train: Sequence[Utterance], ctx: TrainContext) -> tuple[np.ndarray, np.ndarray]:
        """``(targets (rows, classes), labels (rows,))``: the soft targets of the training rows (the
        order of :meth:`training_rows`), from a teacher head fitted on the same rows of the teacher's
        features, and the rows' labels (the student's rows must carry the same ones)."""
        tctx = self._teacher_context(ctx)
        layers = [int(i) for i in ctx.option("teacher_layers", DEFAULT_LAYERS)]
        x, y, speakers = self.training_rows(train, layers, tctx)
        head = super()._logreg(x, y, speakers, tctx, float(ctx.option("C", 1.0)))
        logits = head_logits(head, x)
        self._teacher_fit.append(float((logits.argmax(axis=1) == y).mean()))
        log.info("distill: teacher %s fitted on %d rows (training accuracy %.3f)", tctx.option("backbone"), len(y), self._teacher_fit[-1])
        targets = soft_targets(logits, y, float(ctx.option("distill_weight", DEFAULT_WEIGHT)),
                               float(ctx.option("distill_temperature", DEFAULT_TEMPERATURE)))
        return targets, y

    def fit(self, train: Sequence[Utterance], ctx: TrainContext) -> EmotionModel:
        self._targets, self._target_labels = self.teacher_targets(train, ctx)
        try:
            return super().fit(train, ctx)
        finally:
            self._targets = self._target_labels = None

    def _logreg(self, x: np.ndarray, y: np.ndarray, speakers: np.ndarray, ctx: TrainContext, c: float,
                rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """A student head: fitted to the teacher's soft targets of these rows (labels alone outside :meth:`fit`)."""
        if self._targets is None or self._target_labels is None:
            return super()._logreg(x, y, speakers, ctx, c, rows)
        labels = self._target_labels if rows is None else self._target_labels[rows]
        if len(labels) != len(y) or not np.array_equal(labels, y):
            raise DataError("distill", f"the teacher's training rows ({len(self._target_labels)}) are not the student's")
        targets = self._targets if rows is None else self._targets[rows]
        return fit_soft_logreg(x, targets, c=c, max_iter=500, sample_weight=self._weights(y, speakers, ctx))

    def _distill_facts(self, ctx: TrainContext) -> dict[str, Any]:
        return {"teacher_backbone": str(ctx.option("teacher_backbone", TEACHER_BACKBONE)), "teacher_source": ctx.option("teacher_source"),
                "teacher_layers": [int(i) for i in ctx.option("teacher_layers", DEFAULT_LAYERS)],
                "weight": float(ctx.option("distill_weight", DEFAULT_WEIGHT)),
                "temperature": float(ctx.option("distill_temperature", DEFAULT_TEMPERATURE))}

    def head_meta(self, ctx: TrainContext) -> dict[str, Any]:
        return {**super().head_meta(ctx), "type": "logistic-regression (distilled)", "distill": self._distill_facts(ctx)}

    def extra(self, ctx: TrainContext) -> dict[str, Any]:
        return {**super().extra(ctx), "distill": {**self._distill_facts(ctx),
                                                  "teacher_train_accuracy": [round(a, 4) for a in self._teacher_fit]}}

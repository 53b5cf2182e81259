"""Classification metrics (plain numpy) and their aggregation over folds.

* UA — unweighted accuracy = balanced accuracy = mean recall over the classes present in the
  true labels;
* WA — weighted accuracy = plain accuracy;
* F1 — macro F1 over the classes present in the true or the predicted labels;
* per-class recall and the confusion matrix (rows = true label, columns = predicted);
* collapse — how much the answers pile onto one class, whatever the truth: the share of the most
  often predicted class among the answered clips, and the entropy (bits) of the histogram of
  predicted labels beside its ceiling, ``log2`` of the number of classes the test set has (a
  model that answers one label for everything has entropy 0 and share 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np


@dataclass
class MeanStd:
    """Mean and **population** standard deviation (``ddof=0``) of a metric over folds."""

    mean: float
    std: float

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std}


@dataclass(frozen=True)
class Collapse:
    """How far a set of answers piles onto one class (module docstring).

    ``label``/``share``: the most often predicted class and its share of the answered clips;
    ``entropy``: of the predicted-label histogram, in bits; ``entropy_max``: ``log2`` of the
    classes present in the true labels (what answers spread like the truth of a balanced set
    reach)."""

    label: str | None
    share: float
    entropy: float
    entropy_max: float

    @classmethod
    def of_confusion(cls, cm: np.ndarray, labels: Sequence[str]) -> "Collapse":
        """The collapse of a confusion matrix ``(labels, labels)`` (rows true, columns predicted)."""
        cm = np.asarray(cm, dtype=np.float64)
        predicted, support = cm.sum(axis=0), cm.sum(axis=1)
        total = predicted.sum()
        present = int((support > 0).sum())
        ceiling = float(np.log2(present)) if present > 1 else 0.0
        if total <= 0:
            return cls(None, float("nan"), float("nan"), ceiling)
        p = predicted[predicted > 0] / total
        top = int(predicted.argmax())
        return cls(str(labels[top]), float(predicted[top] / total), float(-(p * np.log2(p)).sum()) + 0.0, ceiling)


@dataclass
class FoldMetrics:
    """Metrics of one test set. Fractions in ``[0, 1]``; recall is ``nan`` for an absent class."""

    ua: float
    wa: float
    f1: float
    per_class_recall: dict[str, float]
    confusion: np.ndarray  # (labels, labels) int64, rows = true, cols = predicted
    n: int = 0
    unanswered: int = 0  # clips given no answer (counted wrong, not in the confusion matrix)
    collapse: Collapse | None = None


@dataclass
class Summary:
    """Metrics aggregated over folds."""

    ua: MeanStd
    wa: MeanStd
    f1: MeanStd
    per_class_recall: dict[str, MeanStd]
    confusion: np.ndarray
    folds: list[FoldMetrics] = field(default_factory=list)
    collapse: Collapse | None = None  # of the summed confusion: every fold's answers pooled


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_labels: int) -> np.ndarray:
    """``(n_labels, n_labels)`` counts, rows = true label index, columns = predicted."""
    cm = np.zeros((n_labels, n_labels), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return cm


def metrics_from_confusion(cm: np.ndarray, labels: Sequence[str], unanswered: np.ndarray | None = None) -> FoldMetrics:
    """UA, WA, macro-F1 and per-class recall of a confusion matrix; ``unanswered (labels,)`` counts
    the clips of each true label that got no answer (they lower recall and WA)."""
    cm = np.asarray(cm, dtype=np.int64)
    missed = np.zeros(len(cm), dtype=np.int64) if unanswered is None else np.asarray(unanswered, dtype=np.int64)
    support = cm.sum(axis=1) + missed
    predicted = cm.sum(axis=0)
    tp = np.diag(cm).astype(np.float64)
    total = int(cm.sum() + missed.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, tp / np.maximum(support, 1), np.nan)
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
        f1 = np.where(precision + np.nan_to_num(recall) > 0, 2 * precision * np.nan_to_num(recall) / (precision + np.nan_to_num(recall)), 0.0)
    present = (support > 0) | (predicted > 0)
    ua = float(np.nanmean(recall)) if np.any(support > 0) else float("nan")
    wa = float(tp.sum() / total) if total else float("nan")
    macro_f1 = float(f1[present].mean()) if np.any(present) else float("nan")
    return FoldMetrics(
        ua=ua,
        wa=wa,
        f1=macro_f1,
        per_class_recall={lab: float(r) for lab, r in zip(labels, recall)},
        confusion=cm,
        n=total,
        unanswered=int(missed.sum()),
        collapse=Collapse.of_confusion(cm, labels),
    )


def compute_metrics(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]) -> FoldMetrics:
    """Metrics of label indices ``y_true`` vs ``y_pred`` (indices into ``labels``); a negative
    prediction is no answer (e.g. no speech was found in the clip) and counts as wrong."""
    true = np.asarray(y_true, dtype=np.int64)
    pred = np.asarray(y_pred, dtype=np.int64)
    answered = pred >= 0
    missed = np.bincount(true[~answered], minlength=len(labels))
    return metrics_from_confusion(confusion_matrix(true[answered], pred[answered], len(labels)), labels, missed)


def mean_std(values: Sequence[float]) -> MeanStd:
    """Mean and population std (``ddof=0``) ignoring ``nan``; ``nan`` when all are ``nan``."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return MeanStd(float("nan"), float("nan"))
    return MeanStd(float(arr.mean()), float(arr.std(ddof=0)))


def aggregate(folds: Sequence[FoldMetrics], labels: Sequence[str]) -> Summary:
    """Mean ± population std of each metric over ``folds``; confusion summed over folds."""
    if not folds:
        raise ValueError("no folds to aggregate")
    confusion = np.sum([f.confusion for f in folds], axis=0)
    return Summary(
        ua=mean_std([f.ua for f in folds]),
        wa=mean_std([f.wa for f in folds]),
        f1=mean_std([f.f1 for f in folds]),
        per_class_recall={lab: mean_std([f.per_class_recall[lab] for f in folds]) for lab in labels},
        confusion=confusion,
        folds=list(folds),
        collapse=Collapse.of_confusion(confusion, labels),
    )

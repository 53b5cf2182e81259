"""UA / WA / macro-F1 / per-class recall / confusion, and their aggregation over folds."""

from __future__ import annotations

import numpy as np
import pytest

from emomon.training.metrics import aggregate, compute_metrics, confusion_matrix, mean_std

LABELS = ["a", "b", "c"]


def test_known_values():
    y_true = [0, 0, 0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 0, 2, 1]
    m = compute_metrics(y_true, y_pred, LABELS)
    assert m.wa == pytest.approx(5 / 8)
    assert m.per_class_recall == pytest.approx({"a": 0.75, "b": 0.5, "c": 0.5})
    assert m.ua == pytest.approx((0.75 + 0.5 + 0.5) / 3)
    assert m.confusion.tolist() == [[3, 1, 0], [1, 1, 0], [0, 1, 1]]
    # F1 per class: a: p=3/4 r=3/4 -> .75; b: p=1/3 r=1/2 -> .4; c: p=1 r=.5 -> 2/3
    assert m.f1 == pytest.approx((0.75 + 0.4 + 2 / 3) / 3)


def test_against_sklearn():
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 8, 300)
    y_pred = np.where(rng.random(300) < 0.5, y_true, rng.integers(0, 8, 300))
    m = compute_metrics(y_true, y_pred, [str(i) for i in range(8)])
    assert m.ua == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert m.wa == pytest.approx(accuracy_score(y_true, y_pred))
    assert m.f1 == pytest.approx(f1_score(y_true, y_pred, average="macro"))


def test_absent_class_excluded_from_ua():
    m = compute_metrics([0, 0, 1, 1], [0, 0, 1, 0], LABELS)
    assert np.isnan(m.per_class_recall["c"])
    assert m.ua == pytest.approx((1.0 + 0.5) / 2)


def test_confusion_rows_true_cols_pred():
    cm = confusion_matrix([2], [0], 3)
    assert cm[2, 0] == 1 and cm.sum() == 1


def test_aggregate_population_std():
    f1 = compute_metrics([0, 1], [0, 1], LABELS)  # UA 1.0
    f2 = compute_metrics([0, 1], [1, 0], LABELS)  # UA 0.0
    s = aggregate([f1, f2], LABELS)
    assert s.ua.mean == pytest.approx(0.5)
    assert s.ua.std == pytest.approx(0.5)  # population std (ddof=0); sample std would be 0.707
    assert s.confusion.tolist() == (f1.confusion + f2.confusion).tolist()
    assert np.isnan(s.per_class_recall["c"].mean)
    assert mean_std([1.0, float("nan"), 3.0]).mean == pytest.approx(2.0)


# -- collapse: how much the answers pile onto one class ------------------------------------------
LABELS4 = ["neutral", "happy", "sad", "angry"]


def test_collapse_of_answers_onto_one_class():
    # 40 clips, 10 per class; 28 answered "angry" whatever was said
    y_true = np.repeat(np.arange(4), 10)
    y_pred = np.array([3] * 28 + [0] * 4 + [1] * 4 + [2] * 4)
    c = compute_metrics(y_true, y_pred, LABELS4).collapse
    assert c.label == "angry" and c.share == pytest.approx(0.7)
    p = np.array([0.7, 0.1, 0.1, 0.1])
    assert c.entropy == pytest.approx(float(-(p * np.log2(p)).sum()))
    assert c.entropy_max == pytest.approx(2.0)


def test_collapse_of_perfect_and_single_label_answers():
    y_true = np.repeat(np.arange(4), 5)
    perfect = compute_metrics(y_true, y_true, LABELS4).collapse
    assert perfect.share == pytest.approx(0.25) and perfect.entropy == pytest.approx(2.0)
    one = compute_metrics(y_true, np.zeros(20, dtype=int), LABELS4).collapse
    assert one.label == "neutral" and one.share == 1.0 and one.entropy == 0.0


def test_collapse_ceiling_counts_the_classes_the_test_set_has_and_ignores_unanswered():
    # a test set of two classes (ceiling 1 bit); the unanswered clips (-1) are not answers
    m = compute_metrics([0, 0, 1, 1, 1], [1, -1, 1, 1, -1], LABELS4)
    assert m.collapse.entropy_max == pytest.approx(1.0)
    assert m.collapse.label == "happy" and m.collapse.share == 1.0


def test_aggregate_collapse_pools_the_folds():
    a = compute_metrics([0, 1, 2, 3], [0, 0, 0, 0], LABELS4)  # fold 1: all neutral
    b = compute_metrics([0, 1, 2, 3], [0, 1, 2, 3], LABELS4)  # fold 2: spread
    s = aggregate([a, b], LABELS4)
    assert s.collapse.label == "neutral" and s.collapse.share == pytest.approx(5 / 8)

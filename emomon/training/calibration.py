"""Probability calibration: temperature scaling and expected calibration error (ECE)."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row softmax of ``logits (n, labels) / temperature``."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray, grid: np.ndarray | None = None) -> float:
    """The temperature minimising the negative log-likelihood of ``y (n,)`` under ``logits (n, labels)``.

    A log-spaced grid search (0.05 .. 20) refined once around its best point: robust and
    dependency-free; NLL in the temperature is unimodal in practice.
    """
    y = np.asarray(y)

    def nll(t: float) -> float:
        p = softmax(logits, t)
        return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))

    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 61)) if grid is None else grid
    best = min(grid, key=nll)
    fine = best * np.exp(np.linspace(-0.1, 0.1, 21))
    return float(min(fine, key=nll))


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-label confidence: ``probs (n, labels)``, true indices ``y (n,)``, equal-width bins."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(y)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def ece_floor(probs: np.ndarray, bins: int = 15, draws: int = 100, seed: int = 0) -> float:
    """The ECE that a *perfectly calibrated* model with these confidences would show on this many
    clips: the mean ECE of ``probs (n, labels)`` against labels drawn from ``probs`` itself
    (``draws`` seeded draws). ECE's noise floor: on a few hundred clips it is several points."""
    probs = np.asarray(probs, dtype=np.float64)
    if len(probs) == 0:
        return float("nan")
    rng = np.random.default_rng(seed)
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    out = []
    for _ in range(draws):
        y = np.minimum((rng.random((len(probs), 1)) > cum).sum(axis=1), probs.shape[1] - 1)
        out.append(expected_calibration_error(probs, y, bins))
    return float(np.mean(out))


def mean_square_z(x: np.ndarray, mean: np.ndarray, std: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """``(n,)``: the mean over features of ``((x - mean) / std) ** 2`` for rows ``x (n, F)``, in
    chunks (float32): how far each row lies from the features a head was trained on (about 1 for
    rows like them)."""
    out = np.empty(len(x), dtype=np.float64)
    m, s = np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32)
    for i in range(0, len(x), chunk):
        z = (np.asarray(x[i : i + chunk], dtype=np.float32) - m) / s
        out[i : i + chunk] = np.mean(np.square(z), axis=1)
    return out


def shift_factor(distance: np.ndarray, d0: float, b: float) -> np.ndarray:
    """The shift-aware temperature's factor ``max(1, d / d0) ** b`` for distances ``d (n,)``: 1 for
    rows no further from the training features than ``d0`` (a typical training row), growing as a
    power of the distance beyond it."""
    return np.maximum(1.0, np.asarray(distance, dtype=np.float64) / d0) ** b


def fit_shift_exponent(logits: np.ndarray, y: np.ndarray, distance: np.ndarray, d0: float, temperature: float,
                       grid: np.ndarray | None = None) -> float:
    """The exponent ``b`` (0 .. 4) minimising the negative log-likelihood of ``y (n,)`` under
    ``logits (n, labels) / (temperature * shift_factor(distance, d0, b))``: fitted on rows from
    corpora the logits' head was not trained on, it makes the model less sure of inputs unlike its
    training data by as much as such inputs warrant."""
    y = np.asarray(y)

    def nll(b: float) -> float:
        p = softmax(logits / shift_factor(distance, d0, b)[:, None], temperature)
        return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))

    grid = np.linspace(0.0, 4.0, 81) if grid is None else grid
    return float(min(grid, key=nll))

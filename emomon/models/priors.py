"""Label shift without labels: the class priors of what a session hears, and answers re-weighted by them.

A classifier's posteriors carry the class priors of its training data. When a session's classes
come in other proportions (a call centre hears more anger than an acting studio), the priors can
be re-estimated from the session's own posteriors by expectation-maximisation (Saerens, Latinne &
Decaestecker 2002, "Adjusting the outputs of a classifier to new a priori probabilities", Neural
Computation 14(1)), labels never used:

* E step: each posterior re-weighted by ``prior / train_prior`` and renormalised;
* M step: the new prior is the mean of the re-weighted posteriors,

shrunk here towards the training prior by ``weight`` pseudo-clips (a short session moves little).
Numpy only: the torch and ONNX models share it.

EM assumes that only the priors changed (``p(x | class)`` is the training one). A voice unlike the
training voices breaks that: a model that calls everything *disgust* has high disgust posteriors
everywhere, and EM then raises disgust's prior further. :func:`balance_priors` is the other
correction measured beside it: the bias that spreads the session's mean posterior back towards
the training prior (the opposite assumption: the session's classes come as the training ones did).
"""

from __future__ import annotations

import numpy as np

EPS = 1e-12


def reweight(probs: np.ndarray, train_prior: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """``probs (n, K)`` of a model trained under ``train_prior (K,)`` as they would read under ``prior (K,)``."""
    ratio = np.asarray(prior, dtype=np.float64) / np.maximum(np.asarray(train_prior, dtype=np.float64), EPS)
    out = np.asarray(probs, dtype=np.float64) * ratio
    return out / np.maximum(out.sum(axis=1, keepdims=True), EPS)


def _shrunk(mean: np.ndarray, n: int, train_prior: np.ndarray, weight: float) -> np.ndarray:
    p = (n * mean + weight * train_prior) / (n + weight)
    return p / p.sum()


def em_priors(probs: np.ndarray, train_prior: np.ndarray, weight: float = 0.0, max_iter: int = 100, tol: float = 1e-6) -> np.ndarray:
    """Saerens' EM estimate ``(K,)`` of the class priors behind ``probs (n, K)`` (module docstring),
    shrunk towards ``train_prior (K,)`` by ``weight`` pseudo-clips; the training prior when ``n == 0``."""
    probs = np.asarray(probs, dtype=np.float64)
    train_prior = np.asarray(train_prior, dtype=np.float64) / np.sum(train_prior)
    prior = train_prior.copy()
    if len(probs) == 0:
        return prior
    for _ in range(max_iter):
        new = _shrunk(reweight(probs, train_prior, prior).mean(axis=0), len(probs), train_prior, weight)
        if np.abs(new - prior).max() < tol:
            return new
        prior = new
    return prior


def balance_priors(probs: np.ndarray, train_prior: np.ndarray, weight: float = 0.0, max_iter: int = 100, tol: float = 1e-6) -> np.ndarray:
    """The prior ``(K,)`` under which the mean of the re-weighted ``probs (n, K)`` is ``train_prior``
    (shrunk by ``weight`` pseudo-clips): a session whose answers pile onto one class is spread out
    again. Fixed-point iteration on ``prior <- prior * target / mean``; ``train_prior`` for ``n == 0``."""
    probs = np.asarray(probs, dtype=np.float64)
    train_prior = np.asarray(train_prior, dtype=np.float64) / np.sum(train_prior)
    if len(probs) == 0:
        return train_prior.copy()
    prior = train_prior.copy()
    for _ in range(max_iter):
        mean = reweight(probs, train_prior, prior).mean(axis=0)
        new = prior * train_prior / np.maximum(mean, EPS)
        new /= new.sum()
        if np.abs(new - prior).max() < tol:
            prior = new
            break
        prior = new
    # shrink the correction (the ratio to the training prior) towards none, as a prior of `weight` clips
    n = len(probs)
    ratio = (prior / np.maximum(train_prior, EPS)) ** (n / (n + weight)) if weight > 0 else prior / np.maximum(train_prior, EPS)
    out = train_prior * ratio
    return out / out.sum()


class AnswerBalance:
    """One session's answers kept from piling onto one class (:func:`balance_priors`, online).

    It remembers the model's posteriors ``(labels,)`` of the last ``history`` answers; each new
    answer is re-weighted (:func:`reweight`) by the prior that spreads that history's mean back to
    ``train_prior`` (the model's ``config.class_prior``), shrunk by ``weight`` pseudo-answers, so
    the first answers of a session are the model's own and the correction grows with what is heard.
    Labels are never used: this is an unsupervised adaptation to the session (its own labelled
    mode in every evaluation). Its cost is a person who really stays one emotion for the whole
    history: their answers are pulled towards the others (measured in ``benchmarks/collapse_eval.py``'s
    single-emotion sessions).
    """

    def __init__(self, train_prior: np.ndarray | list[float], history: int, weight: float) -> None:
        self.train_prior = np.asarray(train_prior, dtype=np.float64) / np.sum(train_prior)
        if history < 1 or not weight >= 0:
            raise ValueError(f"history must be >= 1 and weight >= 0 (got {history}, {weight})")
        self.history, self.weight = int(history), float(weight)
        self._heard: list[np.ndarray] = []

    @property
    def heard(self) -> int:
        """Answers in the history (at most ``history``)."""
        return len(self._heard)

    def prior(self) -> np.ndarray:
        """The session's prior ``(labels,)`` as of now (the training prior while nothing is heard)."""
        if not self._heard:
            return self.train_prior.copy()
        return balance_priors(np.stack(self._heard), self.train_prior, self.weight)

    def correct(self, probs: np.ndarray) -> np.ndarray:
        """``probs (labels,)`` or ``(n, labels)`` re-weighted by :meth:`prior`; nothing is remembered."""
        p = np.asarray(probs, dtype=np.float64)
        out = reweight(p.reshape(-1, len(self.train_prior)), self.train_prior, self.prior())
        return out.reshape(p.shape)

    def observe(self, probs: np.ndarray) -> None:
        """Remember the model's own posteriors ``(labels,)`` of one answer (the oldest one beyond ``history`` forgotten)."""
        self._heard.append(np.asarray(probs, dtype=np.float64).reshape(-1))
        if len(self._heard) > self.history:
            del self._heard[0]

    def answer(self, probs: np.ndarray) -> np.ndarray:
        """:meth:`correct` then :meth:`observe`: one answer of a live session."""
        out = self.correct(probs)
        self.observe(probs)
        return out

"""Row weights that balance the training data over corpora and classes.

Three corpora of 1,440, 454 and 480 clips, with neutral twice as frequent as the other classes in
one of them and calm and surprised missing from another, teach a head the class priors of the
largest corpus and the corpus each class mostly comes from. ``balanced_weights`` gives every
``(corpus, class)`` cell that has rows the same total weight within its corpus, and every corpus
the same total weight, so that no corpus and no class dominates the loss. The weights average 1.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

BALANCE_CHOICES = ("none", "class", "corpus", "corpus-class")
"""``none``: every row alike; ``class``: each class the same weight; ``corpus``: each corpus the same
weight; ``corpus-class``: each corpus the same weight, shared equally by the classes it has."""


def corpus_of(speakers: Sequence[str]) -> np.ndarray:
    """``(n,)`` corpus names of speaker ids ``corpus:speaker`` (the corpora's naming)."""
    return np.array([str(s).split(":", 1)[0] for s in speakers])


def balanced_weights(y: np.ndarray, corpora: np.ndarray, how: str = "corpus-class") -> np.ndarray:
    """``(n,)`` weights of rows with labels ``y (n,)`` from ``corpora (n,)`` (module docstring), mean 1."""
    if how not in BALANCE_CHOICES:
        raise ValueError(f"balance: {how!r} is not one of {', '.join(BALANCE_CHOICES)}")
    y, corpora = np.asarray(y), np.asarray(corpora)
    if how == "none" or len(y) == 0:
        return np.ones(len(y))
    groups = {"class": [np.zeros(len(y), dtype=int), y], "corpus": [corpora, np.zeros(len(y), dtype=int)],
              "corpus-class": [corpora, y]}[how]
    outer, inner = groups
    w = np.zeros(len(y))
    names = np.unique(outer) if how != "class" else np.array([0])
    for o in names:
        in_o = outer == o
        cells = np.unique(inner[in_o])
        for c in cells:
            cell = in_o & (inner == c)
            w[cell] = 1.0 / (len(names) * len(cells) * cell.sum())
    return w * len(y) / w.sum()

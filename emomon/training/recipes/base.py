"""The recipe interface: how a model is trained on some utterances and how it predicts.

A recipe is deliberately small::

    class Recipe:
        name: str                              # registry name (``emomon train --model NAME``)
        supports_speaker_norm: bool = False    # may run with --normalize speaker

        def fit(self, train: Sequence[Utterance], ctx: TrainContext) -> EmotionModel:
            '''Train a model on ``train`` (labels = ctx.labels) and return it.'''

        def predict_proba(self, model: EmotionModel, utts: Sequence[Utterance],
                          ctx: TrainContext) -> np.ndarray:
            '''Probabilities (len(utts), len(ctx.labels)), rows in ``utts`` order.'''

``predict_proba``'s default decodes each clip with :func:`~emomon.audio.decode_audio` at
``model.sample_rate`` and calls ``model.predict_proba`` on it, one clip at a time (no padding
between clips). Feature recipes override it to read their features from ``ctx.cache`` (and to
apply per-speaker normalisation in ``speaker-norm`` mode). :meth:`Recipe.extra` may add
recipe-specific facts to metrics.json ``"extra"``.

:class:`TrainContext` carries everything else a recipe may need. :func:`cached_features`
extracts one array per clip through the feature cache, with a progress bar, and
:func:`speaker_normalised` applies the ``speaker-norm`` mode to them.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

import numpy as np
import torch

from ...audio import decode_audio
from ...labels import EMOTIONS
from ...models.base import EmotionModel
from ...records import Utterance
from .options import Option, validate_options
from ..cache import ExtractorKey, FeatureCache
from ..normalize import normalize_by_speaker, speaker_stats

log = logging.getLogger(__name__)


@dataclass
class TrainContext:
    """What a recipe gets besides its training utterances.

    ``cache``: the feature cache; ``seed``: the random seed; ``device``: torch device for
    training; ``mode``: ``"strict"`` or ``"speaker-norm"``; ``all_utterances``: every utterance
    of the corpus (unlabelled use only: per-speaker statistics); ``epochs``: override of the
    recipe's epochs (``None``: its default); ``progress``: show progress bars (stderr);
    ``options``: ``--set key=value`` pairs (values parsed as JSON when they parse, else
    strings); ``labels``: the label set; ``scratch``: per-run memo (e.g. speaker statistics).
    """

    cache: FeatureCache
    seed: int = 0
    device: torch.device | str = "cpu"
    mode: str = "strict"
    all_utterances: Sequence[Utterance] = ()
    epochs: int | None = None
    progress: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    labels: tuple[str, ...] = EMOTIONS
    scratch: dict[str, Any] = field(default_factory=dict)

    def option(self, key: str, default: Any = None) -> Any:
        """The option's value (typed by :meth:`Recipe.validate`), or ``default`` when absent."""
        return self.options.get(key, default)

    def label_indices(self, utts: Sequence[Utterance]) -> np.ndarray:
        """``(n,)`` int64 indices of each utterance's emotion in ``labels``."""
        index = {lab: i for i, lab in enumerate(self.labels)}
        return np.array([index[u.emotion] for u in utts], dtype=np.int64)

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.device)

    @property
    def noise_dir(self) -> Path:
        """Where noisy copies of clips are written (beside the feature cache: ``~/.cache/emomon/noisy``)."""
        return self.cache.root.parent / "noisy"


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``["lr=0.001", "backbone=facebook/wav2vec2-base"]`` → ``{"lr": 0.001, "backbone": "..."}``."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {pair!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def progress(iterable, ctx: TrainContext, desc: str, total: int | None = None):
    """A tqdm bar on stderr when ``ctx.progress``, else the iterable itself."""
    if not ctx.progress:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False, dynamic_ncols=True)


class Recipe:
    """Base recipe (see the module docstring for the contract)."""

    name: ClassVar[str] = ""
    supports_speaker_norm: ClassVar[bool] = False
    options: ClassVar[tuple[Option, ...]] = ()
    """The recipe's ``--set`` options (:mod:`.options`); any other key is an error."""

    def validate(self, ctx: TrainContext) -> None:
        """Replace ``ctx.options`` by every declared option's typed value (defaults filled in) and
        run :meth:`check_options`; :class:`~emomon.errors.DataError` before any work otherwise."""
        ctx.options = validate_options(self.name, self.options, ctx.options)
        self.check_options(ctx)

    def check_options(self, ctx: TrainContext) -> None:
        """Raise :class:`~emomon.errors.DataError` for unusable combinations of valid options."""

    def fit(self, train: Sequence[Utterance], ctx: TrainContext) -> EmotionModel:  # pragma: no cover
        raise NotImplementedError

    def predict_proba(self, model: EmotionModel, utts: Sequence[Utterance], ctx: TrainContext) -> np.ndarray:
        rows = []
        for u in progress(utts, ctx, f"{self.name}: predict"):
            rows.append(model.predict_proba(decode_audio(u.path, model.sample_rate)[None, :])[0])
        return np.stack(rows) if rows else np.zeros((0, len(ctx.labels)), dtype=np.float32)

    def extra(self, ctx: TrainContext) -> dict[str, Any]:
        """Recipe-specific facts for metrics.json ``"extra"``."""
        return {}


def cached_features(
    utts: Sequence[Utterance],
    key: ExtractorKey,
    extract: Callable[[np.ndarray], np.ndarray],
    sample_rate: int,
    ctx: TrainContext,
) -> list[np.ndarray]:
    """``extract(decode_audio(path, sample_rate))`` for each clip, through ``ctx.cache``.

    Under ``torchrun`` (with the cache on) each process first computes its share of the missing
    clips, and all then read them from the cache: the work is split, not repeated.
    """
    from .. import distributed

    ranks = distributed.ranks()
    if ranks.world > 1 and ctx.cache.enabled:
        for u in distributed.local_part(list(utts), ranks):
            if not ctx.cache.path_for(u.path, key).is_file():  # a hit is read once, below, not twice
                ctx.cache.put(u.path, key, extract(decode_audio(u.path, sample_rate)))
        distributed.barrier()
    out = []
    for u in progress(utts, ctx, f"features {key.name}"):
        out.append(ctx.cache.get_or_compute(u.path, key, lambda u=u: extract(decode_audio(u.path, sample_rate))))
    return out


def speaker_statistics(
    utts: Sequence[Utterance],
    key: ExtractorKey,
    extract: Callable[[np.ndarray], np.ndarray],
    sample_rate: int,
    ctx: TrainContext,
) -> dict:
    """Per-speaker feature statistics covering every speaker of ``utts``.

    They come from *all* of a speaker's clips in ``ctx.all_utterances`` (labels unused; ``utts``
    when that is empty), memoised in ``ctx.scratch`` per extractor; speakers missing from it are
    added from their clips in ``utts``.
    """
    memo_key = f"speaker-stats:{key.digest}"
    stats = ctx.scratch.get(memo_key)
    if stats is None:
        pool = list(ctx.all_utterances) or list(utts)
        pool_feats = cached_features(pool, key, extract, sample_rate, ctx)
        stats = ctx.scratch[memo_key] = speaker_stats(pool_feats, [u.speaker for u in pool])
    missing = {u.speaker for u in utts} - set(stats)
    if missing:
        extra = [u for u in utts if u.speaker in missing]
        more = cached_features(extra, key, extract, sample_rate, ctx)
        stats.update(speaker_stats(more, [u.speaker for u in extra]))
    return stats


def speaker_normalised(
    feats: list[np.ndarray],
    utts: Sequence[Utterance],
    key: ExtractorKey,
    extract: Callable[[np.ndarray], np.ndarray],
    sample_rate: int,
    ctx: TrainContext,
) -> list[np.ndarray]:
    """In ``speaker-norm`` mode, ``feats`` standardised with each speaker's statistics
    (:func:`speaker_statistics`). In ``strict`` mode ``feats`` is returned unchanged."""
    if ctx.mode != "speaker-norm":
        return feats
    stats = speaker_statistics(utts, key, extract, sample_rate, ctx)
    return normalize_by_speaker(feats, [u.speaker for u in utts], stats)


def fit_standardised_logreg(
    x: np.ndarray, y: np.ndarray, n_labels: int, c: float = 1.0, seed: int = 0, max_iter: int = 2000,
    sample_weight: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Multinomial logistic regression on standardised ``x (n, d)``; ``sample_weight (n,)`` weighs
    each row's loss (e.g. :func:`~emomon.training.balance.balanced_weights`), ``None`` all alike.

    Returns ``{"mean": (d,), "std": (d,), "coef": (labels, d), "intercept": (labels,)}``; a
    label absent from ``y`` gets a zero coefficient and a very low intercept (never predicted).
    """
    from sklearn.linear_model import LogisticRegression

    mean, std, z = _standardise(x)
    present = np.unique(y)
    coef = np.zeros((n_labels, x.shape[1]))
    intercept = np.full(n_labels, -30.0)
    if len(present) == 1:
        intercept[present[0]] = 0.0
    else:
        clf = LogisticRegression(C=c, max_iter=max_iter, random_state=seed)
        clf.fit(z, y, sample_weight=sample_weight)
        if len(present) == 2:  # sklearn's binary form: one row for the positive class
            coef[present[1]], intercept[present[1]] = clf.coef_[0], clf.intercept_[0]
            intercept[present[0]] = 0.0
        else:
            coef[clf.classes_] = clf.coef_
            intercept[clf.classes_] = clf.intercept_
    return {"mean": mean, "std": std, "coef": coef, "intercept": intercept}


def head_logits(head: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """``(n, labels)`` logits of a head from :func:`fit_standardised_logreg` or
    :func:`fit_soft_logreg` on rows ``x (n, d)`` (standardised with the head's own statistics)."""
    return (x - head["mean"]) / head["std"] @ head["coef"].T + head["intercept"]


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x (n, d)`` → its column means ``(d,)``, standard deviations ``(d,)`` (at least 1e-8) and
    the standardised rows ``(n, d)``, in float64."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    std = np.maximum(x.std(axis=0), 1e-8)
    return mean, std, (x - mean) / std


def fit_soft_logreg(
    x: np.ndarray, targets: np.ndarray, c: float = 1.0, max_iter: int = 500, sample_weight: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Multinomial logistic regression on standardised ``x (n, d)`` against soft ``targets
    (n, labels)`` (each row a distribution: a teacher's probabilities, or one-hot labels).

    The objective is sklearn's: the ``sample_weight``-weighted mean cross-entropy plus
    ``||coef||^2 / (2 * c * sum(weights))``, so one-hot targets give the head
    :func:`fit_standardised_logreg` gives (to the optimiser's tolerance). Solved by full-batch
    L-BFGS in float32 with torch. Returns the same ``{"mean", "std", "coef", "intercept"}``.
    """
    mean, std, z = _standardise(x)
    q = torch.from_numpy(np.asarray(targets, dtype=np.float32))
    if q.shape[0] != len(z) or not torch.allclose(q.sum(dim=1), torch.ones(len(q)), atol=1e-3):
        raise ValueError(f"targets must be ({len(z)}, labels) rows of probabilities, got {tuple(q.shape)}")
    w = np.ones(len(z)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    total = float(w.sum())
    wt = torch.from_numpy((w / total).astype(np.float32))
    zt = torch.from_numpy(z.astype(np.float32))
    coef = torch.zeros(q.shape[1], z.shape[1], requires_grad=True)
    bias = torch.zeros(q.shape[1], requires_grad=True)
    penalty = 1.0 / (2.0 * c * total)
    opt = torch.optim.LBFGS([coef, bias], lr=1.0, max_iter=max_iter, tolerance_grad=1e-6, tolerance_change=1e-10,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logp = torch.log_softmax(zt @ coef.T + bias, dim=1)
        loss = -(wt * (q * logp).sum(dim=1)).sum() + penalty * (coef * coef).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return {"mean": mean, "std": std, "coef": coef.detach().double().numpy(), "intercept": bias.detach().double().numpy()}

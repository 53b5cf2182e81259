"""Recipe ``baseline``: the seed's logistic regression on clip length and amplitude variation.

Options (``--set``): ``C`` (inverse regularisation, default 1.0), ``sample_rate`` (16000).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ... import defaults
from ...models.base import EmotionModel, ModelConfig
from ...records import Utterance
from ..cache import ExtractorKey
from . import register_recipe
from .options import Option
from .base import Recipe, TrainContext, cached_features, fit_standardised_logreg, speaker_normalised


class LinearFeatureRecipe(Recipe):
    """Shared logic: one feature vector per clip (cached) → standardised logistic regression."""

    options = (
        Option("C", "float", 1.0, "inverse regularisation", minimum=1e-9),
        Option("sample_rate", "int", defaults.SAMPLE_RATE, "rate the features are computed at", minimum=1000),
    )

    supports_speaker_norm = True

    # -- subclasses provide these ----------------------------------------------------------------
    def sample_rate(self, ctx: TrainContext) -> int:
        return int(ctx.option("sample_rate", defaults.SAMPLE_RATE))

    def extractor_key(self, ctx: TrainContext) -> ExtractorKey:  # pragma: no cover
        raise NotImplementedError

    def extract(self, samples: np.ndarray, ctx: TrainContext) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def new_model(self, config: ModelConfig) -> EmotionModel:  # pragma: no cover
        raise NotImplementedError

    def model_params(self, ctx: TrainContext, n_features: int) -> dict[str, Any]:
        return {"n_features": n_features}

    # -- the recipe ------------------------------------------------------------------------------
    def features(self, utts: Sequence[Utterance], ctx: TrainContext) -> np.ndarray:
        """``(n, n_features)`` features of ``utts`` (speaker-normalised in that mode)."""
        key, sr = self.extractor_key(ctx), self.sample_rate(ctx)
        fn = lambda s: self.extract(s, ctx)  # noqa: E731
        feats = cached_features(utts, key, fn, sr, ctx)
        feats = speaker_normalised(feats, utts, key, fn, sr, ctx)
        return np.stack([np.asarray(f, dtype=np.float32).reshape(-1) for f in feats])

    def fit(self, train: Sequence[Utterance], ctx: TrainContext) -> EmotionModel:
        x = self.features(train, ctx)
        y = ctx.label_indices(train)
        head = fit_standardised_logreg(x, y, len(ctx.labels), c=float(ctx.option("C", 1.0)), seed=ctx.seed)
        config = ModelConfig(
            architecture=self.name,
            labels=list(ctx.labels),
            sample_rate=self.sample_rate(ctx),
            frontend=None,
            params=self.model_params(ctx, x.shape[1]),
            meta={"recipe": self.name, "mode": ctx.mode},
        )
        model = self.new_model(config)
        model.set_linear(head)  # type: ignore[attr-defined]
        return model.eval()

    def predict_proba(self, model: EmotionModel, utts: Sequence[Utterance], ctx: TrainContext) -> np.ndarray:
        return model.proba_from_features(self.features(utts, ctx))  # type: ignore[attr-defined]


@register_recipe("baseline")
class BaselineRecipe(LinearFeatureRecipe):
    """Seed baseline (random-split accuracy in the study: 37.8%)."""

    def extractor_key(self, ctx: TrainContext) -> ExtractorKey:
        return ExtractorKey("clip-stats", {"sample_rate": self.sample_rate(ctx)}, "1")

    def extract(self, samples: np.ndarray, ctx: TrainContext) -> np.ndarray:
        from ...models.baseline import BaselineModel

        return BaselineModel.clip_stats(samples, self.sample_rate(ctx))

    def new_model(self, config: ModelConfig) -> EmotionModel:
        from ...models.baseline import BaselineModel

        return BaselineModel(config)

    def extra(self, ctx: TrainContext) -> dict[str, Any]:
        return {"features": ["duration_s", "amplitude_std"], "classifier": "multinomial logistic regression (standardised)"}



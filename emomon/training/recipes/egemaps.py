"""Recipe ``egemaps``: openSMILE eGeMAPSv02 functionals + standardised logistic regression.

Features are cached per clip. Options (``--set``): ``C`` (1.0), ``sample_rate`` (16000).
Needs the optional ``opensmile`` package (research/education licence).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...models.base import EmotionModel, ModelConfig
from ..cache import ExtractorKey
from . import register_recipe
from .base import TrainContext
from .baseline import LinearFeatureRecipe


@register_recipe("egemaps")
class EgemapsRecipe(LinearFeatureRecipe):
    def extractor_key(self, ctx: TrainContext) -> ExtractorKey:
        import opensmile

        return ExtractorKey("egemaps", {"feature_set": "eGeMAPSv02", "level": "functionals", "sample_rate": self.sample_rate(ctx), "opensmile": opensmile.__version__}, "1")

    def extract(self, samples: np.ndarray, ctx: TrainContext) -> np.ndarray:
        from ...models.egemaps import egemaps_functionals

        return egemaps_functionals(samples, self.sample_rate(ctx))

    def new_model(self, config: ModelConfig) -> EmotionModel:
        from ...models.egemaps import EgemapsModel

        return EgemapsModel(config)

    def model_params(self, ctx: TrainContext, n_features: int) -> dict[str, Any]:
        return {"n_features": n_features, "feature_set": "eGeMAPSv02"}

    def extra(self, ctx: TrainContext) -> dict[str, Any]:
        return {"features": "openSMILE eGeMAPSv02 functionals (88)", "classifier": "multinomial logistic regression (standardised)", "license_note": "openSMILE: research/education use only"}

"""Recipe ``default``: frozen backbone layers (Whisper-base by default) + a linear head.

Per clip, every hidden layer of the backbone is pooled to mean and std over time and cached
(``(layers, 2 * hidden)`` per clip); folds reuse the cache. The head is a standardised
multinomial logistic regression on the chosen layers, its temperature fitted on out-of-fold
logits of a speaker-grouped inner split of the training speakers (never the test speakers).

Options (``--set``): ``backbone`` (registry name, default ``whisper-base``),
``backbone_source`` (path or hub id), ``layers`` (e.g. ``[2,3,4,5,6]``), ``C`` (inverse
regularisation, 1.0), ``calibrate`` (true), ``calib_folds`` (4).
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import torch

from ...models.backbones import load_backbone
from ...models.base import EmotionModel
from ...models.layer_head import LayerHeadModel, all_layer_features, pool_states
from ...records import Utterance
from ..cache import ExtractorKey
from ..calibration import fit_temperature
from . import register_recipe
from .base import Recipe, TrainContext, cached_features, fit_standardised_logreg, speaker_normalised

log = logging.getLogger(__name__)

DEFAULT_LAYERS = [2, 3, 4, 5, 6]
STREAM_WINDOW = 3.0
STREAM_HOP = 0.5


def clip_windows(samples: np.ndarray, sample_rate: int, window: float = STREAM_WINDOW, hop: float = STREAM_HOP) -> np.ndarray:
    """The windows the stream cuts from a clip played from its start: ``(windows, window_samples)``.

    Uses the stream's own :class:`~emomon.stream.windows.Windower` (front padding included),
    so training sees exactly what ``listen`` and ``file --stream`` feed the model.
    """
    from ...stream.windows import Windower

    w = Windower(window, hop, sample_rate, realtime=False)
    wins = w.push(samples, 0.0)
    last = w.flush(0.0)
    if last is not None:
        wins.append(last)
    return np.stack([x.samples for x in wins])


@register_recipe("default")
class LayerHeadRecipe(Recipe):
    """Whisper-encoder layers + a trained, calibrated linear head (emomon's default model)."""

    supports_speaker_norm = True

    def __init__(self) -> None:
        self._temperatures: list[float] = []

    # -- features ----------------------------------------------------------------------------
    def _backbone_spec(self, ctx: TrainContext) -> tuple[str, str | None]:
        return ctx.option("backbone", "whisper-base"), ctx.options.get("backbone_source")

    def _key(self, ctx: TrainContext) -> ExtractorKey:
        name, source = self._backbone_spec(ctx)
        return ExtractorKey("layer-pool", {"backbone": name, "source": source, "pooling": "meanstd"}, version="1")

    def _extract(self, ctx: TrainContext):
        name, source = self._backbone_spec(ctx)
        backbone = load_backbone(name, source)

        def extract(samples: np.ndarray) -> np.ndarray:
            return all_layer_features(backbone, torch.from_numpy(samples)).numpy().astype(np.float32)

        return backbone, extract

    def features(self, utts: Sequence[Utterance], ctx: TrainContext) -> np.ndarray:
        """``(n, layers_total, 2 * hidden)`` pooled features (speaker-normalised in that mode)."""
        backbone, extract = self._extract(ctx)
        key = self._key(ctx)
        feats = cached_features(utts, key, extract, backbone.sample_rate, ctx)
        feats = speaker_normalised(feats, utts, key, extract, backbone.sample_rate, ctx)
        return np.stack(feats)

    def _window_key(self, ctx: TrainContext) -> ExtractorKey:
        name, source = self._backbone_spec(ctx)
        return ExtractorKey(
            "layer-pool-windows",
            {"backbone": name, "source": source, "pooling": "meanstd", "window": STREAM_WINDOW, "hop": STREAM_HOP, "pad": "front"},
            version="1",
        )

    def window_features(self, utts: Sequence[Utterance], ctx: TrainContext) -> list[np.ndarray]:
        """Per clip ``(windows, layers_total, 2 * hidden)``: the stream's windows of the clip
        (:func:`clip_windows`), pooled like whole clips. Speaker-normalised in that mode."""
        backbone, extract_clip = self._extract(ctx)

        def extract(samples: np.ndarray) -> np.ndarray:
            wins = clip_windows(samples, backbone.sample_rate)
            with torch.inference_mode():
                states = backbone(torch.from_numpy(wins))
                pooled = torch.stack([pool_states(states, [i]) for i in range(len(states))], dim=1)
            return pooled.numpy().astype(np.float16)

        key = self._window_key(ctx)
        feats = [f.astype(np.float32) for f in cached_features(utts, key, extract, backbone.sample_rate, ctx)]
        if ctx.mode == "speaker-norm":
            clip_key = self._key(ctx)
            # statistics of each speaker's whole clips (memoised), applied window by window
            stats_src = speaker_normalised([np.zeros_like(feats[0][0])] * 0, [], clip_key, extract_clip, backbone.sample_rate, ctx)
            del stats_src
            from ..normalize import normalize_by_speaker

            stats = ctx.scratch[f"speaker-stats:{clip_key.digest}"]
            feats = [normalize_by_speaker([w for w in f], [u.speaker] * len(f), stats) for f, u in zip(feats, utts)]
            feats = [np.stack(f) for f in feats]
        return feats

    def _select(self, feats: np.ndarray, layers: Sequence[int]) -> np.ndarray:
        return feats[:, list(layers), :].reshape(len(feats), -1)

    # -- training ----------------------------------------------------------------------------
    def _calibration_temperature(self, x: np.ndarray, y: np.ndarray, speakers: np.ndarray, ctx: TrainContext, c: float) -> float:
        """Temperature fitted on out-of-fold logits of a speaker-grouped split of the training set."""
        groups = np.unique(speakers)
        k = min(int(ctx.option("calib_folds", 4)), len(groups))
        if k < 2:
            return 1.0
        rng = np.random.default_rng(ctx.seed)
        order = rng.permutation(groups)
        logits = np.zeros((len(y), len(ctx.labels)))
        for part in np.array_split(order, k):
            held = np.isin(speakers, part)
            head = fit_standardised_logreg(x[~held], y[~held], len(ctx.labels), c=c, seed=ctx.seed)
            z = (x[held] - head["mean"]) / head["std"]
            logits[held] = z @ head["coef"].T + head["intercept"]
        return fit_temperature(logits, y)

    def fit(self, train: Sequence[Utterance], ctx: TrainContext) -> EmotionModel:
        layers = [int(i) for i in ctx.option("layers", DEFAULT_LAYERS)]
        c = float(ctx.option("C", 1.0))
        name, source = self._backbone_spec(ctx)
        backbone = load_backbone(name, source)
        x = self._select(self.features(train, ctx), layers)
        y = ctx.label_indices(train)
        head = fit_standardised_logreg(x, y, len(ctx.labels), c=c, seed=ctx.seed)
        temperature = 1.0
        if ctx.option("calibrate", True):
            temperature = self._calibration_temperature(x, y, np.array([u.speaker for u in train]), ctx, c)
        self._temperatures.append(temperature)
        config = LayerHeadModel.make_config(
            ctx.labels, layers, backbone=name, backbone_source=source,
            head={"type": "logistic-regression", "C": c}, temperature=temperature, mode=ctx.mode,
        )
        model = LayerHeadModel(config, backbone=backbone)
        model.set_head(head["mean"], head["std"], head["coef"], head["intercept"], temperature)
        return model.eval()

    def predict_proba(self, model: EmotionModel, utts: Sequence[Utterance], ctx: TrainContext) -> np.ndarray:
        assert isinstance(model, LayerHeadModel)
        x = torch.from_numpy(self._select(self.features(utts, ctx), model.layers).astype(np.float32))
        with torch.inference_mode():
            return torch.softmax(model.classify_features(x), dim=-1).numpy()

    def extra(self, ctx: TrainContext) -> dict[str, Any]:
        name, source = self._backbone_spec(ctx)
        return {
            "backbone": name,
            "backbone_source": source,
            "layers": [int(i) for i in ctx.option("layers", DEFAULT_LAYERS)],
            "C": float(ctx.option("C", 1.0)),
            "temperatures": self._temperatures,
        }

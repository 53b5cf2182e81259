"""Recipe ``transformer``: the seed's custom transformer encoder on log-mel frames.

The model's input (front-padded dB log-mel, ``(495, 296)`` by default) is cached per clip
(float16). Training: Adam, cross-entropy, mini-batches, early stopping on the loss of a
speaker-disjoint validation split taken from the training speakers (the best epoch's weights
are kept). Options (``--set``): ``epochs`` (30; ``--epochs`` wins), ``batch_size`` (32),
``lr`` (1e-3), ``patience`` (5), ``val_fraction`` (0.1 of the training speakers, at least 1;
0 disables validation), ``val_split`` (``speakers``, or ``clips``: a stratified share of the
training clips, for the speaker-dependent ``random`` protocol as the study ran it), and any model parameter of
:data:`emomon.models.transformer.DEFAULT_PARAMS` plus the front end's ``sample_rate``,
``n_fft``, ``hop_length``, ``n_mels``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ...models.base import EmotionModel
from ...models.params import TransformerParams, doc_of
from ...models.transformer import DEFAULT_PARAMS, SEED_FRONTEND, SeedTransformer
from ...records import Utterance
from ..cache import ExtractorKey
from ..loop import validation_split
from . import register_recipe
from .options import Option
from .base import Recipe, TrainContext, cached_features, speaker_normalised

log = logging.getLogger(__name__)


@register_recipe("transformer")
class TransformerRecipe(Recipe):
    """The seed's transformer (study: 51.4% accuracy on a random, speaker-dependent split)."""

    supports_speaker_norm = True
    options = (
        *(Option(k, "int" if isinstance(v, int) else "float", v, f"architecture: {doc_of(TransformerParams, k)}", minimum=0)
          for k, v in DEFAULT_PARAMS.items()),
        Option("sample_rate", "int", SEED_FRONTEND.sample_rate, "front end rate", minimum=1000),
        Option("n_fft", "int", SEED_FRONTEND.n_fft, "front end FFT size", minimum=16),
        Option("hop_length", "int", SEED_FRONTEND.hop_length, "front end hop", minimum=1),
        Option("n_mels", "int", SEED_FRONTEND.n_mels, "mel bands", minimum=1),
        Option("val_fraction", "float", 0.1, "training speakers (or clips) held out for early stopping", minimum=0.0),
        Option("val_split", "str", "speakers", "what validation holds out: speakers, or clips (speaker-dependent)", choices=("speakers", "clips")),
        Option("epochs", "int", 30, "training epochs (--epochs wins)", minimum=1),
        Option("batch_size", "int", 32, "clips per step", minimum=1),
        Option("patience", "int", 5, "epochs without improvement before stopping", minimum=1),
        Option("lr", "float", 1e-3, "learning rate", minimum=0.0),
    )

    def template(self, ctx: TrainContext) -> SeedTransformer:
        params = {k: type(v)(ctx.option(k, v)) for k, v in DEFAULT_PARAMS.items()}
        front = replace(
            SEED_FRONTEND,
            sample_rate=int(ctx.option("sample_rate", SEED_FRONTEND.sample_rate)),
            n_fft=int(ctx.option("n_fft", SEED_FRONTEND.n_fft)),
            hop_length=int(ctx.option("hop_length", SEED_FRONTEND.hop_length)),
            n_mels=int(ctx.option("n_mels", SEED_FRONTEND.n_mels)),
        )
        return SeedTransformer.create(list(ctx.labels), params, front)

    def _key(self, model: SeedTransformer) -> ExtractorKey:
        return ExtractorKey("seed-mel", {"frontend": model.front.to_dict(), "num_frames": model.num_frames, "top_db": model.top_db}, "1")

    def features(self, model: SeedTransformer, utts: Sequence[Utterance], ctx: TrainContext) -> list[np.ndarray]:
        """Per clip ``(frames, mels)`` float16: raw dB log-mel (speaker-normalised in that mode)."""
        key = self._key(model)

        def extract(samples: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return model.mel(torch.from_numpy(samples)[None, :])[0].numpy().astype(np.float16)

        feats = cached_features(utts, key, extract, model.sample_rate, ctx)
        if ctx.mode == "speaker-norm":
            feats = [f.astype(np.float16) for f in speaker_normalised([f.astype(np.float32) for f in feats], utts, key, extract, model.sample_rate, ctx)]
        return feats

    def fit(self, train: Sequence[Utterance], ctx: TrainContext) -> EmotionModel:
        torch.manual_seed(ctx.seed)
        model = self.template(ctx)
        tr, va = validation_split(train, float(ctx.option("val_fraction", 0.1)), str(ctx.option("val_split", "speakers")), ctx.seed)
        x_tr = np.stack(self.features(model, tr, ctx))
        y_tr = ctx.label_indices(tr)
        x_va = np.stack(self.features(model, va, ctx)) if va else None
        y_va = ctx.label_indices(va) if va else None
        if ctx.mode == "strict":
            flat = x_tr.reshape(-1, x_tr.shape[-1]).astype(np.float64)
            with torch.no_grad():
                model.feat_mean.copy_(torch.from_numpy(flat.mean(0)).float())
                model.feat_std.copy_(torch.from_numpy(np.maximum(flat.std(0), 1e-5)).float())
            del flat
        from ..loop import LoopOptions, train_epochs

        epochs = ctx.epochs if ctx.epochs is not None else int(ctx.option("epochs", 30))
        bs = int(ctx.option("batch_size", 32))
        dev = ctx.torch_device
        model.to(dev)

        def loss_sum(m: SeedTransformer, idx: np.ndarray) -> torch.Tensor:
            xb = torch.from_numpy(x_tr[idx].astype(np.float32)).to(dev)
            return F.cross_entropy(m.classify_mel(xb), torch.from_numpy(y_tr[idx]).to(dev), reduction="sum")

        evaluate = (lambda m: self._evaluate(m, x_va, y_va, bs, dev, len(ctx.labels))) if x_va is not None else None
        opt = torch.optim.Adam(model.parameters(), lr=float(ctx.option("lr", 1e-3)))
        opts = LoopOptions(epochs, bs, int(ctx.option("patience", 5)), ctx.seed, "transformer")
        result = train_epochs(model, loss_sum, len(x_tr), opt, opts, ctx, evaluate)
        model.config.meta.update({"recipe": self.name, "mode": ctx.mode, **result.meta()})
        return model.eval()

    @staticmethod
    def _evaluate(model: SeedTransformer, x: np.ndarray, y: np.ndarray, bs: int, dev: torch.device, n_labels: int) -> tuple[float, float]:
        from ..metrics import compute_metrics

        model.eval()
        losses, preds = [], []
        with torch.inference_mode():
            for s in range(0, len(x), bs):
                logits = model.classify_mel(torch.from_numpy(x[s : s + bs].astype(np.float32)).to(dev))
                losses.append(float(F.cross_entropy(logits, torch.from_numpy(y[s : s + bs]).to(dev), reduction="sum")))
                preds.append(logits.argmax(-1).cpu().numpy())
        ua = compute_metrics(y, np.concatenate(preds), [str(i) for i in range(n_labels)]).ua
        return sum(losses) / len(x), float(ua)

    def predict_proba(self, model: EmotionModel, utts: Sequence[Utterance], ctx: TrainContext) -> np.ndarray:
        assert isinstance(model, SeedTransformer)
        x = np.stack(self.features(model, utts, ctx))
        model.eval()
        out = []
        with torch.inference_mode():
            for s in range(0, len(x), 32):
                logits = model.classify_mel(torch.from_numpy(x[s : s + 32].astype(np.float32)).to(model.device))
                out.append(torch.softmax(logits, -1).cpu().numpy())
        return np.concatenate(out)

    def extra(self, ctx: TrainContext) -> dict[str, Any]:
        return {"epochs": ctx.epochs if ctx.epochs is not None else int(ctx.option("epochs", 30)), "input": "front-padded dB log-mel (495 x 296 at 48 kHz by default)"}

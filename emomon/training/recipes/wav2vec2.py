"""Recipe ``wav2vec2``: fine-tune a pretrained wav2vec 2.0 with Hugging Face's ``Trainer``.

As in Hugging Face's audio-classification guide: ``AutoFeatureExtractor`` +
``AutoModelForAudioClassification.from_pretrained(backbone, num_labels, label2id, id2label)``
+ ``Trainer``. No evaluation inside a fold (the fold's test speakers are never seen).
Options (``--set``): ``backbone`` (hub id or local directory, default
``facebook/wav2vec2-base``), ``epochs`` (10, as in the study; ``--epochs`` wins), ``lr``
(3e-5), ``batch_size`` (8 clips per step, shared by the processes under ``torchrun``), ``grad_accum`` (4), ``max_seconds`` (6.0: clips are cut/padded
to this for training), ``warmup_ratio`` (0.1), ``freeze_feature_encoder`` (true).
The hub cannot be reached offline: give a local directory then.
"""

from __future__ import annotations

import logging
import tempfile
from typing import Any, Sequence

import numpy as np
import torch

from ...errors import ModelError
from ...models.base import EmotionModel
from ...records import Utterance
from .. import distributed
from ..cache import ExtractorKey
from . import register_recipe
from .options import Option
from .base import Recipe, TrainContext, cached_features

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "facebook/wav2vec2-base"


class _ClipDataset(torch.utils.data.Dataset):
    """Decoded clips → ``{"input_values", ["attention_mask"], "labels"}`` via the feature extractor."""

    def __init__(self, waves: list[np.ndarray], labels: np.ndarray, fe: Any, max_len: int) -> None:
        self.waves, self.labels, self.fe, self.max_len = waves, labels, fe, max_len

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, i: int) -> dict[str, Any]:
        enc = self.fe(self.waves[i], sampling_rate=self.fe.sampling_rate, max_length=self.max_len, truncation=True, padding="max_length", return_tensors="np")
        item = {k: torch.from_numpy(np.asarray(v[0])) for k, v in enc.items()}
        item["labels"] = int(self.labels[i])
        return item


def load_backbone(backbone: str, labels: Sequence[str]) -> tuple[Any, Any]:
    """(feature extractor, classification model) from a hub id or local directory."""
    try:
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification
    except ImportError:
        raise ModelError("wav2vec2", "needs the transformers package (pip install 'emomon[hf]')") from None
    label2id = {lab: i for i, lab in enumerate(labels)}
    id2label = {i: lab for i, lab in enumerate(labels)}
    try:
        fe = AutoFeatureExtractor.from_pretrained(backbone)
        net = AutoModelForAudioClassification.from_pretrained(backbone, num_labels=len(labels), label2id=label2id, id2label=id2label)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(backbone, f"cannot load the pretrained backbone (offline? pass --set backbone=DIR with a saved model): {first[:200]}") from None
    return fe, net


def _warmup_kwargs(args_cls: Any, ratio: float) -> dict[str, Any]:
    """transformers 4 takes ``warmup_ratio``; 5 takes a float ``warmup_steps`` < 1 as a ratio."""
    import inspect

    if "warmup_ratio" in inspect.signature(args_cls).parameters:
        return {"warmup_ratio": ratio}
    return {"warmup_steps": ratio}


@register_recipe("wav2vec2")
class Wav2Vec2Recipe(Recipe):
    """Fine-tuned wav2vec 2.0 (study: 62.5% on a random split, 95M parameters)."""

    options = (
        Option("backbone", "path", DEFAULT_BACKBONE, "hub id or local directory of the pretrained model"),
        Option("epochs", "int", 10, "training epochs (--epochs wins)", minimum=1),
        Option("lr", "float", 3e-5, "learning rate", minimum=0.0),
        Option("batch_size", "int", 8, "clips per step (shared by the processes under torchrun)", minimum=1),
        Option("grad_accum", "int", 4, "gradient accumulation steps", minimum=1),
        Option("max_seconds", "float", 6.0, "clips are cut/padded to this for training", minimum=0.1),
        Option("warmup_ratio", "float", 0.1, "warm-up fraction of the steps", minimum=0.0),
        Option("freeze_feature_encoder", "bool", True, "keep the convolutional feature encoder frozen"),
    )

    def _waves(self, utts: Sequence[Utterance], sample_rate: int, ctx: TrainContext) -> list[np.ndarray]:
        key = ExtractorKey("waveform", {"sample_rate": sample_rate}, "1")
        return [w.astype(np.float32) for w in cached_features(utts, key, lambda s: s.astype(np.float32), sample_rate, ctx)]

    def fit(self, train: Sequence[Utterance], ctx: TrainContext) -> EmotionModel:
        from transformers import Trainer, TrainingArguments

        from ...models.wav2vec2 import Wav2Vec2Model

        backbone = str(ctx.option("backbone", DEFAULT_BACKBONE))
        torch.manual_seed(ctx.seed)
        fe, net = load_backbone(backbone, ctx.labels)
        if bool(ctx.option("freeze_feature_encoder", True)) and hasattr(net, "freeze_feature_encoder"):
            net.freeze_feature_encoder()
        sr = int(fe.sampling_rate)
        ds = _ClipDataset(self._waves(train, sr, ctx), ctx.label_indices(train), fe, int(float(ctx.option("max_seconds", 6.0)) * sr))
        epochs = ctx.epochs if ctx.epochs is not None else int(ctx.option("epochs", 10))
        dev = ctx.torch_device
        ranks = distributed.ranks()  # under torchrun, Trainer runs DDP itself: each rank takes its share of a step's clips
        per_device = max(1, int(ctx.option("batch_size", 8)) // ranks.world)
        if per_device * ranks.world != int(ctx.option("batch_size", 8)):
            log.warning("wav2vec2: batch_size %s is not a multiple of the %d processes: %d clips per process and step",
                        ctx.option("batch_size", 8), ranks.world, per_device)
        with tempfile.TemporaryDirectory(prefix="emomon-w2v2-") as tmp:
            args = TrainingArguments(
                output_dir=tmp,
                per_device_train_batch_size=per_device,
                gradient_accumulation_steps=int(ctx.option("grad_accum", 4)),
                learning_rate=float(ctx.option("lr", 3e-5)),
                num_train_epochs=float(epochs),
                **_warmup_kwargs(TrainingArguments, float(ctx.option("warmup_ratio", 0.1))),
                logging_steps=10,
                save_strategy="no",
                eval_strategy="no",
                report_to=[],
                use_cpu=dev.type == "cpu",
                seed=ctx.seed,
                disable_tqdm=not ctx.progress,
                dataloader_num_workers=0,
            )
            Trainer(model=net, args=args, train_dataset=ds).train()
        net.to(dev).eval()
        model = Wav2Vec2Model.from_hf(net, fe, list(ctx.labels), backbone)
        model.config.meta.update({"recipe": self.name, "backbone": backbone, "epochs": epochs, "processes": ranks.world})
        return model.eval()

    def extra(self, ctx: TrainContext) -> dict[str, Any]:
        return {"backbone": str(ctx.option("backbone", DEFAULT_BACKBONE)), "epochs": ctx.epochs if ctx.epochs is not None else int(ctx.option("epochs", 10))}

"""Recipe ``finetune``: the top blocks of the Whisper encoder fine-tuned with a head on their outputs.

The study's third approach (fine-tuning a pretrained speech encoder) with the encoder emomon has
offline. The lower ``L - tuned_layers`` blocks stay frozen, so their output ``h_first (frames,
d)`` is computed once per clip (and per noisy copy) and cached (float16); training runs only the
tuned blocks, the pooling, the standardisation and the linear head
(:class:`~emomon.models.finetuned_whisper.FinetunedWhisperModel`), in a plain PyTorch loop
(:mod:`..loop`: AdamW, early stopping on held-out *training* speakers, data-parallel under
``torchrun``).

Linear probe, then fine-tuning (LP-FT, Kumar et al. 2022). With ``pooling=layers`` (the mean and
std of each state in ``layers``, concatenated: the default model's features; those of the frozen
lower states come from the default recipe's cache of whole clips) the head starts as the default
model's head does: a standardised logistic regression (``C``) on the *frozen* states of the whole
training clips and their noisy copies. The probe is validated as epoch 0, and fine-tuning only
replaces it if an epoch lowers the validation loss. A head learnt from scratch at the blocks' pace
lagged the probe (EmoBox fold 1: 59.0 % UA with frozen blocks, 68.0 % fine-tuned, the probe 73.8 %),
which is why the probe comes first. After training a temperature is fitted on the validation
speakers (``calibrate``); with it on, epochs are compared by their validation loss at each one's
best temperature, so that fine-tuning does not win merely by being less over-confident than the
probe. A plain loop rather than transformers' ``Trainer``: the inputs are cached states rather
than audio, the batches are random crops, and the loop is forty lines that the transformer recipe
shares.

Augmentation: each epoch, every clip is drawn clean or as one of its noisy copies (``augment``,
white or pink noise at the given SNRs), cropped at random to ``crop_s`` seconds (the stream's
window), then, with ``masks`` > 0, masked SpecAugment-style on the cached state: ``masks`` time
bands of up to 10 frames and as many channel bands of up to 32 dimensions are zeroed. Masks are
off by default: a zeroed band of a Whisper state is far from anything the probe was fitted on (on
EmoBox fold 1, a probe on states 4-6 has a loss on training crops of 0.19 without masks, 4.25 with
two, and 2.6 even with the bands filled with the clip's mean), so the first epochs were spent
undoing the probe. Validation and testing see whole clean clips. With ``tuned_layers`` equal to
the encoder's depth, the cached state is the convolutional front's output and every block is
fine-tuned (a GPU's job).

Options (``--set``): ``backbone`` (``whisper-base``), ``backbone_source``, ``tuned_layers`` (2),
``pooling`` (``layers``; ``weighted``: a learnt layer weighting and attentive pooling, no probe),
``layers`` (``[2, 3, 4, 5, 6]``, as the default model),
``probe`` (true), ``C`` (1.0), ``calibrate`` (true), ``attention`` (``weighted``: 128; 0: plain
mean and std), ``dropout`` (0.1), ``epochs`` (15; ``--epochs``
wins), ``batch_size`` (16), ``lr`` (1e-5, the tuned blocks), ``head_lr`` (1e-4: weighting,
pooling, head), ``weight_decay`` (0.01), ``patience`` (3), ``val_fraction`` (0.15 of the
training speakers), ``crop_s`` (3.0), ``masks`` (0), ``augment`` (``white:10,pink:10``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ... import defaults
from ...errors import DataError, ModelError
from ...models.backbones import load_backbone
from ...models.base import EmotionModel
from ...models.finetuned_whisper import POOLINGS, FinetunedWhisperModel
from ...models.params import FinetuneParams, default_of, doc_of
from ...records import Utterance
from ..cache import ExtractorKey
from ..calibration import fit_temperature, softmax
from ..loop import validation_split
from ..noise import noisy_copies, parse_augmentations
from . import register_recipe
from .base import Recipe, TrainContext, cached_features, fit_standardised_logreg
from .layer_head import DEFAULT_LAYERS, layer_pool
from .options import Option

log = logging.getLogger(__name__)

DEFAULT_AUGMENT = "white:10,pink:10"
MASK_FRAMES = 10  # widest time mask (frames of 20 ms)
MASK_CHANNELS = 32  # widest channel mask


@register_recipe("finetune")
class FinetuneRecipe(Recipe):
    """Whisper-base with its top blocks fine-tuned (the study's fine-tuning approach, offline weights)."""

    options = (
        Option("backbone", "str", default_of(FinetuneParams, "backbone"), doc_of(FinetuneParams, "backbone")),
        Option("backbone_source", "path", None, doc_of(FinetuneParams, "backbone_source")),
        Option("tuned_layers", "int", default_of(FinetuneParams, "tuned_layers"), doc_of(FinetuneParams, "tuned_layers"), minimum=1),
        Option("pooling", "str", "layers", "the mean and std of each state in `layers` (layers), or a learnt weighting of "
               "the tuned states and attentive pooling (weighted)", choices=POOLINGS),
        Option("layers", "ints", DEFAULT_LAYERS, "pooling=layers: the states pooled (frozen lower ones too; 0 = the "
               "input embedding)"),
        Option("probe", "bool", True, "pooling=layers: start the head as a logistic regression on the frozen states"),
        Option("C", "float", 1.0, "inverse regularisation of the probe", minimum=1e-9),
        Option("calibrate", "bool", True, "fit a temperature on the validation speakers (and compare epochs at their best "
               "temperature)"),
        Option("attention", "int", default_of(FinetuneParams, "attention"), doc_of(FinetuneParams, "attention"), minimum=0),
        Option("dropout", "float", default_of(FinetuneParams, "dropout"), doc_of(FinetuneParams, "dropout"), minimum=0.0),
        Option("epochs", "int", 15, "training epochs at most (--epochs wins)", minimum=1),
        Option("batch_size", "int", 16, "clips per step", minimum=1),
        Option("lr", "float", 1e-5, "learning rate of the tuned blocks", minimum=0.0),
        Option("head_lr", "float", 1e-4, "learning rate of the layer weighting, pooling and head (from scratch, "
               "pooling=weighted: 1e-3)", minimum=0.0),
        Option("weight_decay", "float", 0.01, "AdamW weight decay", minimum=0.0),
        Option("patience", "int", 3, "epochs without a lower validation loss before stopping", minimum=1),
        Option("val_fraction", "float", 0.15, "training speakers (or clips) held out for early stopping", minimum=0.0),
        Option("val_split", "str", "speakers", "what validation holds out: speakers, or clips (speaker-dependent)", choices=("speakers", "clips")),
        Option("crop_s", "float", defaults.WINDOW_S, "training crops (seconds; clips shorter than this are used whole)", minimum=0.1),
        Option("masks", "int", 0, "time and channel masks per training crop (zeroed bands of the cached state)", minimum=0),
        Option("augment", "str", DEFAULT_AUGMENT, "noisy copies KIND:SNR,... (white, pink); empty for none"),
    )

    def check_options(self, ctx: TrainContext) -> None:
        try:
            parse_augmentations(str(ctx.option("augment", DEFAULT_AUGMENT) or ""), kinds=("white", "pink"))
        except ValueError as exc:
            what, _, why = str(exc).partition(": ")
            raise DataError(what, why) from None
        if not str(ctx.option("backbone", defaults.BACKBONE)).startswith("whisper"):
            raise DataError("--set backbone", "finetune tunes a Whisper encoder's blocks: use a whisper-* backbone")
        self.template(ctx)  # tuned_layers and layers fit the backbone, before any feature is computed

    # -- cached lower states -----------------------------------------------------------------------
    def template(self, ctx: TrainContext) -> FinetunedWhisperModel:
        pooling = str(ctx.option("pooling", "layers"))
        cfg = FinetunedWhisperModel.make_config(
            ctx.labels, tuned_layers=int(ctx.option("tuned_layers", default_of(FinetuneParams, "tuned_layers"))), backbone=str(ctx.option("backbone", defaults.BACKBONE)),
            backbone_source=ctx.option("backbone_source"), pooling=pooling,
            layers=ctx.option("layers", DEFAULT_LAYERS) if pooling == "layers" else None,
            attention=int(ctx.option("attention", default_of(FinetuneParams, "attention"))), dropout=float(ctx.option("dropout", default_of(FinetuneParams, "dropout"))),
        )
        try:
            return FinetunedWhisperModel(cfg)
        except ModelError as exc:
            raise DataError("--set", exc.why) from None

    def lower_states(self, utts: Sequence[Utterance], model: FinetunedWhisperModel, ctx: TrainContext) -> _Lower:
        """The frozen part of ``utts``, cached: per clip ``(frames, d)`` float16, the frozen blocks'
        output ``h_first``, and the pooled frozen layers over the whole clip (the default recipe's cache)."""
        name, source, first = str(ctx.option("backbone", defaults.BACKBONE)), ctx.option("backbone_source"), model.first
        key = ExtractorKey("whisper-state", {"backbone": name, "source": source, "layer": first}, "1")
        backbone = load_backbone(name, source)

        def extract(samples: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return backbone(torch.from_numpy(samples)[None, :], upto=first)[-1][0].numpy().astype(np.float16)

        states = cached_features(utts, key, extract, backbone.sample_rate, ctx)
        frozen = layer_pool(utts, ctx)[:, model.frozen_layers].reshape(len(utts), -1) if model.frozen_layers else None
        return _Lower(states, frozen)

    def _variants(self, train: Sequence[Utterance], model: FinetunedWhisperModel, ctx: TrainContext) -> list[_Lower]:
        """The clean frozen part of ``train`` and that of each noisy copy (``augment``), clip for clip."""
        out = [self.lower_states(train, model, ctx)]
        for kind, snr in parse_augmentations(str(ctx.option("augment", DEFAULT_AUGMENT) or ""), kinds=("white", "pink")):
            out.append(self.lower_states(noisy_copies(train, kind, snr, ctx.noise_dir, seed=ctx.seed), model, ctx))
        return out

    # -- training ----------------------------------------------------------------------------------
    def fit(self, train: Sequence[Utterance], ctx: TrainContext) -> EmotionModel:
        from ..loop import LoopOptions, train_epochs

        torch.manual_seed(ctx.seed)
        model = self.template(ctx).to(ctx.torch_device)
        tr, va = validation_split(train, float(ctx.option("val_fraction", 0.15)), str(ctx.option("val_split", "speakers")), ctx.seed)
        variants = self._variants(tr, model, ctx)
        y_tr = ctx.label_indices(tr)
        val = (self.lower_states(va, model, ctx), ctx.label_indices(va)) if va else None
        probe = model.pooling == "layers" and bool(ctx.option("probe", True))
        if probe:
            self._probe(model, variants, y_tr, ctx)
        frames = max(2, int(round(float(ctx.option("crop_s", defaults.WINDOW_S)) * model.backbone.frame_rate)))
        batch = _CropBatches(variants, y_tr, frames, int(ctx.option("masks", 0)), ctx.seed, ctx.torch_device)
        model.set_trainable(True)
        tuned = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("backbone.")]
        head = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("backbone.")]
        opt = torch.optim.AdamW([{"params": tuned, "lr": float(ctx.option("lr", 1e-5))},
                                 {"params": head, "lr": float(ctx.option("head_lr", 1e-4))}],
                                weight_decay=float(ctx.option("weight_decay", 0.01)))
        epochs = ctx.epochs if ctx.epochs is not None else int(ctx.option("epochs", 15))
        opts = LoopOptions(epochs, int(ctx.option("batch_size", 16)), int(ctx.option("patience", 3)), ctx.seed, "finetune",
                           validate_start=probe)
        calibrate = bool(ctx.option("calibrate", True))
        evaluate = (lambda m: _evaluate(m, *val, calibrated=calibrate)) if val is not None else None
        result = train_epochs(model, batch.loss_sum, len(tr), opt, opts, ctx, evaluate)
        model.set_trainable(False)
        if val is not None and calibrate:
            model.temperature.fill_(fit_temperature(_logits(model, val[0]), val[1]))
        meta: dict[str, Any] = {"recipe": self.name, **result.meta(), "probe": probe, "temperature": round(float(model.temperature), 4)}
        if model.mix is not None:
            meta["layer_weights"] = [round(w, 4) for w in model.mix.weights]
        model.config.meta.update(meta)
        return model.eval()

    def _probe(self, model: FinetunedWhisperModel, variants: list[_Lower], y: np.ndarray, ctx: TrainContext) -> None:
        """The head and standardisation set to a logistic regression (``C``) on the frozen model's
        pooled features of every training clip, clean and noisy ``(clips * variants, width)``."""
        model.eval()
        with torch.inference_mode():
            x = np.concatenate([np.stack([model.pooled(*v.batch([i], model.device))[0].cpu().numpy() for i in range(len(v))])
                                for v in variants])
        fit = fit_standardised_logreg(x, np.tile(y, len(variants)), len(model.labels), float(ctx.option("C", 1.0)), ctx.seed)
        model.set_head(torch.from_numpy(fit["mean"]), torch.from_numpy(fit["std"]), torch.from_numpy(fit["coef"]),
                       torch.from_numpy(fit["intercept"]))
        log.info("finetune: linear probe on %d rows of %d features", *x.shape)

    def predict_proba(self, model: EmotionModel, utts: Sequence[Utterance], ctx: TrainContext) -> np.ndarray:
        """Whole clean clips from their cached lower states ``(clips, labels)``."""
        assert isinstance(model, FinetunedWhisperModel)
        return _probabilities(model, self.lower_states(utts, model, ctx))

    def extra(self, ctx: TrainContext) -> dict[str, Any]:
        return {"tuned_layers": int(ctx.option("tuned_layers", default_of(FinetuneParams, "tuned_layers"))), "pooling": str(ctx.option("pooling", "layers")),
                "augment": str(ctx.option("augment", DEFAULT_AUGMENT)),
                "epochs": ctx.epochs if ctx.epochs is not None else int(ctx.option("epochs", 15))}


@dataclass
class _Lower:
    """The frozen part of some clips: ``states`` per clip ``(frames, d)`` (``h_first``, float16) and
    the pooled frozen layers over each whole clip ``(clips, width_frozen)`` (``None``: none pooled)."""

    states: list[np.ndarray]
    frozen: np.ndarray | None

    def __len__(self) -> int:
        return len(self.states)

    def batch(self, idx: Sequence[int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(h (batch, frames, d), frozen (batch, width_frozen) or None)``: clips ``idx`` whole, as
        float32 tensors (clips of one length, e.g. one clip)."""
        h = np.stack([self.states[i] for i in idx]).astype(np.float32)
        frozen = None if self.frozen is None else torch.from_numpy(self.frozen[list(idx)].astype(np.float32)).to(device)
        return torch.from_numpy(h).to(device), frozen


class _CropBatches:
    """A training batch from clip indices: each clip drawn clean or noisy, cropped to ``frames`` (all
    to the batch's shortest clip when one is shorter), masked; the draws depend only on (seed, step,
    clip), so every rank of a distributed run makes the same ones. The pooled frozen layers are
    those of the whole clip (not of its crop): the cache holds whole clips'."""

    def __init__(self, variants: list[_Lower], labels: np.ndarray, frames: int, masks: int, seed: int,
                 device: torch.device) -> None:
        self.variants, self.labels, self.frames, self.masks = variants, labels, frames, masks
        self.seed, self.device, self.step = seed, device, 0

    def loss_sum(self, model: FinetunedWhisperModel, idx: np.ndarray) -> torch.Tensor:
        self.step += 1
        rngs = [np.random.default_rng([self.seed, self.step, int(i)]) for i in idx]
        picks = [int(r.integers(len(self.variants))) for r in rngs]
        picked = [self.variants[v].states[int(i)] for v, i in zip(picks, idx)]
        n = min(self.frames, *(len(p) for p in picked))
        crops = []
        for r, p in zip(rngs, picked):
            start = int(r.integers(len(p) - n + 1))
            crops.append(self._mask(p[start : start + n].astype(np.float32), r))
        x = torch.from_numpy(np.stack(crops)).to(self.device)
        frozen = None
        if self.variants[0].frozen is not None:
            rows = np.stack([self.variants[v].frozen[int(i)] for v, i in zip(picks, idx)]).astype(np.float32)  # type: ignore[index]
            frozen = torch.from_numpy(rows).to(self.device)
        y = torch.from_numpy(self.labels[idx]).to(self.device)
        return F.cross_entropy(model.classify_state(x, frozen), y, reduction="sum")

    def _mask(self, h: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """SpecAugment-style: ``masks`` time bands and channel bands of ``h (frames, d)`` zeroed."""
        for _ in range(self.masks):
            w = int(rng.integers(0, min(MASK_FRAMES, len(h) // 4) + 1))
            t0 = int(rng.integers(0, len(h) - w + 1))
            h[t0 : t0 + w] = 0.0
            c = int(rng.integers(0, min(MASK_CHANNELS, h.shape[1] // 8) + 1))
            c0 = int(rng.integers(0, h.shape[1] - c + 1))
            h[:, c0 : c0 + c] = 0.0
        return h


def _logits(model: FinetunedWhisperModel, lower: _Lower, temperature: bool = False) -> np.ndarray:
    """``(clips, labels)`` logits of whole clips from their frozen part (divided by the model's
    temperature only if ``temperature``), one pass per clip."""
    model.eval()
    rows = []
    with torch.inference_mode():
        for i in range(len(lower)):
            h, frozen = lower.batch([i], model.device)
            out = model.classify_state(h, frozen) if temperature else model.logits_of_state(h, frozen)
            rows.append(out.float()[0].cpu().numpy())
    return np.stack(rows) if rows else np.zeros((0, len(model.labels)), dtype=np.float32)


def _probabilities(model: FinetunedWhisperModel, lower: _Lower) -> np.ndarray:
    """``(clips, labels)`` probabilities of whole clips from their frozen part."""
    return softmax(_logits(model, lower, temperature=True))


def _evaluate(model: FinetunedWhisperModel, lower: _Lower, y: np.ndarray, calibrated: bool = True) -> tuple[float, float]:
    """(mean cross-entropy, UA) of whole clean validation clips. ``calibrated``: the cross-entropy at
    the temperature that suits these logits best, so that an epoch is chosen for separating the
    emotions better, not for being less over-confident than the linear probe it started from."""
    from ..metrics import compute_metrics

    logits = _logits(model, lower)
    probs = softmax(logits, fit_temperature(logits, y) if calibrated else 1.0)
    loss = float(-np.mean(np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12))))
    ua = compute_metrics(y, probs.argmax(axis=1), [str(i) for i in range(probs.shape[1])]).ua
    return loss, float(ua)

"""A Whisper encoder with its top blocks fine-tuned, a learnt layer weighting, statistics pooling
and a linear head (architecture ``whisper-finetune``; trained by the ``finetune`` recipe).

``forward``: waveforms ``(batch, samples)`` → the backbone's hidden states ``h0 .. hL`` (its top
``tuned_layers`` blocks and final layer norm are the fine-tuned ones) → the states ``h_{L-tuned}
.. h_L`` pooled to ``(batch, width)`` → standardised (the training statistics) → dropout → linear →
logits / temperature ``(batch, labels)``. Two poolings (``params.pooling``):

- ``layers``: the mean and standard deviation over time of each state in ``params.layers``
  (frozen lower ones too, e.g. ``[2, 3, 4, 5, 6]`` as the default model pools), concatenated,
  ``width = 2 * d * len(layers)``: the default model's features, with the top blocks tuned, so the
  head can start as the default's logistic head (a linear probe, then fine-tuning: LP-FT).
- ``weighted``: a learnt softmax weighting of the states (s3prl's featurizer) ``(batch, time, d)``,
  then attentive (``attention > 0``) or plain statistics pooling, ``width = 2 * d``.

Only what training changed is saved: the tuned blocks, the final layer norm, the layer weights,
the pooling, the standardisation and the head. The frozen lower layers come from the backbone
registry (the stock weights), so two tuned blocks of Whisper-base weigh 25 MB rather than the
encoder's 80.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from .. import defaults
from ..errors import ModelError
from .backbones import BACKBONES, WhisperBackbone, backbone_names, load_backbone
from .base import EmotionModel, InputNeeds, ModelConfig
from .params import FINETUNE_POOLINGS, FinetuneParams
from .pooling import LayerWeighting, StatsPool
from .registry import register_architecture

POOLINGS = FINETUNE_POOLINGS


@register_architecture("whisper-finetune")
class FinetunedWhisperModel(EmotionModel):
    """See the module docstring. ``config.params``: ``backbone`` (a ``whisper-*`` registry name),
    ``backbone_source`` (path or hub id, ``None``: the default resolution), ``tuned_layers`` (top
    blocks fine-tuned, 1 to all), ``pooling`` (``layers`` or ``weighted``; a config without it is
    ``weighted``, the only pooling before there were two), ``layers`` (``layers`` pooling: the
    states pooled, ascending; none given: the tuned blocks' input and outputs), ``attention``
    (``weighted`` only: units of the pooling's scorer; 0: mean and std), ``dropout`` (before the
    head)."""

    frozen_prefixes = ("backbone.",)
    label_outputs = {"head.weight": 0, "head.bias": 0}

    def __init__(self, config: ModelConfig, backbone: WhisperBackbone | None = None) -> None:  # the params: FinetuneParams
        super().__init__(config)
        hp = self.hp = config.typed_params(FinetuneParams)
        if backbone is None:
            name = hp.backbone
            if name not in BACKBONES or not name.startswith("whisper"):
                known = ", ".join(n for n in backbone_names() if n.startswith("whisper"))
                raise ModelError(config.architecture, f"params.backbone: {name!r} is not a Whisper backbone (known: {known})")
            backbone = load_backbone(name, hp.backbone_source, cache=False)  # its own copy: the top blocks are replaced
        if not isinstance(backbone, WhisperBackbone):
            raise ModelError(config.architecture, "the backbone must be a Whisper encoder (its blocks are fine-tuned)")
        self.backbone = backbone
        n_blocks = backbone.num_layers - 1
        self.tuned = hp.tuned_layers
        if not 1 <= self.tuned <= n_blocks:
            raise ModelError(config.architecture, f"params.tuned_layers: {self.tuned} is not between 1 and the encoder's {n_blocks} blocks")
        self.first = n_blocks - self.tuned  # index of the state the tuned blocks start from
        d = backbone.hidden_size
        self.pooling = hp.pooling
        weighted = self.pooling == "weighted"
        self.layers = [] if weighted else self._pooled_layers(hp.layers, n_blocks)
        self.frozen_layers = [i for i in self.layers if i < self.first]  # pooled from the frozen part
        self.mix = LayerWeighting(self.tuned + 1) if weighted else None
        self.pool = StatsPool(d, hp.attention if weighted else 0)
        width = 2 * d * (1 if weighted else len(self.layers))
        self.register_buffer("feat_mean", torch.zeros(width))
        self.register_buffer("feat_std", torch.ones(width))
        self.dropout = nn.Dropout(hp.dropout)
        self.head = nn.Linear(width, len(config.labels))
        self.register_buffer("temperature", torch.ones(()))
        self.set_trainable(False)

    def _pooled_layers(self, layers: Sequence[int] | None, n_blocks: int) -> list[int]:
        """The states the ``layers`` pooling pools: ``layers`` checked, or the tuned blocks' input and outputs."""
        if layers is None:
            return list(range(self.first, n_blocks + 1))
        out = [int(i) for i in layers]
        if not out or out != sorted(set(out)) or out[0] < 0 or out[-1] > n_blocks:
            raise ModelError(self.config.architecture, f"params.layers: {out!r} must be ascending states between 0 and {n_blocks}")
        return out

    @classmethod
    def make_config(cls, labels: Sequence[str], tuned_layers: int = 2, backbone: str = defaults.BACKBONE,
                    backbone_source: str | None = None, pooling: str = "layers", layers: Sequence[int] | None = None,
                    attention: int = 128, dropout: float = 0.1, **meta: Any) -> ModelConfig:
        """A config (16 kHz, the Whisper front end, the default stream window and hop)."""
        from .backbones import WHISPER_FRONT

        return ModelConfig(
            architecture="whisper-finetune",
            labels=list(labels),
            sample_rate=defaults.SAMPLE_RATE,
            frontend=WHISPER_FRONT.to_dict(),
            params={"backbone": backbone, "backbone_source": backbone_source, "tuned_layers": int(tuned_layers),
                    "pooling": pooling, "layers": None if layers is None else [int(i) for i in layers],
                    "attention": int(attention), "dropout": float(dropout)},
            window=defaults.WINDOW_S,
            hop=defaults.HOP_S,
            meta=dict(meta),
        )

    # -- which weights train and are saved -----------------------------------------------------
    def _tuned_prefixes(self) -> tuple[str, ...]:
        blocks = tuple(f"backbone.encoder.blocks.{i}." for i in range(self.first, self.backbone.num_layers - 1))
        return (*blocks, "backbone.encoder.ln_post.")

    def set_trainable(self, on: bool = True) -> None:
        """The tuned blocks, final layer norm and head train (``on``; off when built); the lower layers never do."""
        tuned = self._tuned_prefixes()
        for name, prm in self.named_parameters():
            prm.requires_grad_(on and (not name.startswith("backbone.") or name.startswith(tuned)))

    def persistent_state_dict(self) -> dict[str, torch.Tensor]:
        tuned = self._tuned_prefixes()
        return {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()
                if not k.startswith("backbone.") or k.startswith(tuned)}

    # -- inference -----------------------------------------------------------------------------
    @property
    def uses_precision(self) -> bool:
        return True

    @property
    def input_needs(self) -> InputNeeds:
        return InputNeeds((int(self.backbone.sample_rate),), self.backbone.min_samples, f"the {self.hp.backbone} backbone")

    def lower(self, waveforms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The frozen part, in fp32: ``h_first (batch, time, d)``, the state the tuned blocks start
        from, and the pooled frozen ``layers`` ``(batch, 2 * d * len(frozen_layers))`` (``None``: none pooled)."""
        if self.precision == "fp32":
            states = self.backbone(waveforms, upto=self.first)
        else:
            from .precision import backbone_autocast

            with backbone_autocast(self.precision, waveforms.device):
                states = [s.float() for s in self.backbone(waveforms, upto=self.first)]
        frozen = torch.cat([self.pool(states[i]) for i in self.frozen_layers], dim=-1) if self.frozen_layers else None
        return states[-1], frozen

    def pooled(self, h: torch.Tensor, frozen: torch.Tensor | None = None) -> torch.Tensor:
        """``h_first (batch, time, d)`` (and the pooled frozen layers, :meth:`lower`) → the head's
        features before standardisation ``(batch, width)``: the tuned blocks, then the pooling."""
        states = [h, *self.backbone.encoder.run_blocks(h, self.first, self.backbone.num_layers - 1)]
        if self.mix is not None:
            return self.pool(self.mix(states))
        if self.frozen_layers and frozen is None:
            raise ValueError(f"layers {self.frozen_layers} are frozen: their pooled states must be given")
        tuned = [self.pool(states[i - self.first]) for i in self.layers if i >= self.first]
        return torch.cat(([frozen] if self.frozen_layers else []) + tuned, dim=-1)

    def set_head(self, mean: torch.Tensor, std: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Standardisation ``(width,)`` and head ``(labels, width)``, ``(labels,)``, e.g. a linear probe's."""
        with torch.no_grad():
            for dst, src in ((self.feat_mean, mean), (self.feat_std, std), (self.head.weight, weight), (self.head.bias, bias)):
                dst.copy_(torch.as_tensor(src, dtype=dst.dtype))

    def logits_of_state(self, h: torch.Tensor, frozen: torch.Tensor | None = None) -> torch.Tensor:
        """``h_first (batch, time, d)`` (and the pooled frozen layers) → logits before the temperature ``(batch, labels)``."""
        return self.head(self.dropout((self.pooled(h, frozen) - self.feat_mean) / self.feat_std))

    def classify_state(self, h: torch.Tensor, frozen: torch.Tensor | None = None) -> torch.Tensor:
        """``h_first (batch, time, d)`` (and the pooled frozen layers) → logits ``(batch, labels)``: the
        tuned blocks, the pooling, the standardisation, the head and the temperature (what training
        runs on cached lower states)."""
        return self.logits_of_state(h, frozen) / self.temperature

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is None:
            return self.classify_state(*self.lower(waveforms))
        return torch.cat([self.classify_state(*self.lower(w[: int(n)].unsqueeze(0))) for w, n in zip(waveforms, lengths)])

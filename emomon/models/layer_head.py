"""The default classifier: a frozen backbone's layers, pooled, and a trained linear head.

``forward``: waveforms ``(batch, samples)`` → backbone hidden states (every layer) → the
``layers`` chosen in the config, each pooled over time to mean and standard deviation →
``(batch, 2 * hidden * len(layers))`` → standardised with the training statistics → linear →
logits / temperature ``(batch, labels)``. Only the head (statistics, linear layer, temperature)
is saved; the backbone comes from the backbone registry (see :mod:`.backbones`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from .. import defaults
from ..errors import ModelError
from .backbones import BACKBONES, Backbone, backbone_names, load_backbone
from .adapt import PriorAdaptive, SpeakerState
from .base import EmotionModel, InputNeeds, ModelConfig
from .params import LayerHeadParams
from .registry import register_architecture


def pool_states(states: Sequence[torch.Tensor], layers: Sequence[int]) -> torch.Tensor:
    """Mean and std over time of each chosen layer: ``[(batch, time, hidden)]`` → ``(batch, 2*hidden*len(layers))``."""
    feats = []
    for i in layers:
        h = states[i]
        feats.append(h.mean(dim=1))
        feats.append(h.std(dim=1, unbiased=False))
    return torch.cat(feats, dim=-1)


def all_layer_features(backbone: Backbone, waveforms: torch.Tensor) -> torch.Tensor:
    """Pooled mean+std of every layer: one clip ``(samples,)`` → ``(layers, 2 * hidden)``, or
    equal-length windows ``(batch, samples)`` → ``(batch, layers, 2 * hidden)``.

    What the training recipe caches; a model's features are a selection of its layer rows.
    """
    single = waveforms.dim() == 1
    with torch.inference_mode():
        states = backbone(waveforms.unsqueeze(0) if single else waveforms)
        pooled = torch.stack([pool_states(states, [i]) for i in range(len(states))], dim=1)
    return pooled[0] if single else pooled


@register_architecture("layer-head")
class LayerHeadModel(PriorAdaptive, EmotionModel):
    """Frozen backbone layers + mean/std pooling + standardisation + a linear head.

    ``config.params`` (:class:`~.params.LayerHeadParams`, read as ``config.hparams``, kept as
    :attr:`hp`): ``backbone`` (registry name), ``backbone_source`` (path or hub id, or
    ``None`` for the default resolution order), ``layers`` (hidden-state indices; 0 is the
    input embedding), ``hidden_size``; ``speaker_norm`` (``{"prior_weight": N}``) when the head
    was trained on speaker-standardised features: the features are then first standardised with
    the speaker's statistics (:mod:`.adapt`; the training prior ``adapt_mean``/``adapt_var``
    when nothing has been heard). With ``"unadapted_head": true`` the model also keeps a head
    trained on the same features without speaker standardisation (``base_*``), and answers with
    the mixture ``(1 - w) * p_unadapted + w * p_adapted``, ``w = n / (N + n)`` for ``n`` windows
    heard: the unadapted head alone for a new voice, the adapted one more and more as it is heard.
    ``shift`` (``{"d0": ..., "b": ...}``): a shift-aware temperature; each input's logits are also
    divided by ``max(1, d / d0) ** b``, ``d`` the mean square of its features standardised with the
    plain head's training statistics (about ``d0`` for inputs like the training data, several
    times more for another corpus): the model is less sure of what is unlike what it learnt from.
    """

    frozen_prefixes = ("backbone.",)
    label_outputs = {"head.weight": 0, "head.bias": 0, "base_head.weight": 0, "base_head.bias": 0}

    def __init__(self, config: ModelConfig, backbone: Backbone | None = None) -> None:
        super().__init__(config)
        hp = self.hp = config.typed_params(LayerHeadParams)
        self.layers: list[int] = list(hp.layers)
        if backbone is None:
            if hp.backbone not in BACKBONES:
                raise ModelError(config.architecture, f"params.backbone: unknown {hp.backbone!r} (known: {', '.join(backbone_names())})")
            backbone = load_backbone(hp.backbone, hp.backbone_source)
        self.backbone = backbone
        if not self.layers or max(self.layers) >= self.backbone.num_layers or min(self.layers) < 0:
            raise ModelError(config.architecture, f"params.layers: {self.layers} are not all layers of the backbone (0 to {self.backbone.num_layers - 1})")
        n_feat = 2 * self.backbone.hidden_size * len(self.layers)
        n_labels = len(config.labels)
        self.register_buffer("feat_mean", torch.zeros(n_feat))
        self.register_buffer("feat_scale", torch.ones(n_feat))
        self.register_buffer("temperature", torch.ones(()))
        self.head = nn.Linear(n_feat, n_labels)
        self.prior_weight: float | None = None
        if hp.speaker_norm is not None:
            self.prior_weight = hp.speaker_norm.prior_weight
            self.register_buffer("adapt_mean", torch.zeros(n_feat))
            self.register_buffer("adapt_var", torch.ones(n_feat))
            if hp.speaker_norm.unadapted_head:
                self.register_buffer("base_mean", torch.zeros(n_feat))
                self.register_buffer("base_scale", torch.ones(n_feat))
                self.register_buffer("base_temperature", torch.ones(()))
                self.base_head = nn.Linear(n_feat, n_labels)
        self.shift = (hp.shift.d0, hp.shift.b) if hp.shift is not None else None
        if self.shift is not None and self.adaptive and not self.has_unadapted_head:
            raise ModelError(config.architecture, "params.shift needs the plain head's standardisation (speaker_norm.unadapted_head)")

    @classmethod
    def make_config(cls, labels: Sequence[str], layers: Sequence[int], backbone: str = defaults.BACKBONE,
                    backbone_source: str | None = None, prior_weight: float | None = None, unadapted_head: bool = False,
                    shift: dict[str, float] | None = None, **meta: Any) -> ModelConfig:
        """A config for this architecture (sample rate 16 kHz, the default stream window and hop);
        ``prior_weight`` makes it adaptive (trained on speaker-standardised features),
        ``unadapted_head`` keeps an unadapted head to mix in while little has been heard, and
        ``shift`` (``{"d0", "b"}``) makes its temperature grow with an input's distance from the
        training features."""
        from .backbones import WHISPER_FRONT

        norm = {"prior_weight": float(prior_weight), **({"unadapted_head": True} if unadapted_head else {})} if prior_weight is not None else None

        return ModelConfig(
            architecture="layer-head",
            labels=list(labels),
            sample_rate=defaults.SAMPLE_RATE,
            frontend=WHISPER_FRONT.to_dict() if backbone.startswith("whisper") else None,
            params={"backbone": backbone, "backbone_source": backbone_source, "layers": [int(i) for i in layers], "pooling": "meanstd",
                    **({"speaker_norm": norm} if norm is not None else {}),
                    **({"shift": {"d0": float(shift["d0"]), "b": float(shift["b"])}} if shift is not None else {})},
            window=defaults.WINDOW_S,
            hop=defaults.HOP_S,
            meta=dict(meta),
        )

    def features(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled features ``(batch, 2*hidden*len(layers))`` in fp32 (the backbone in
        :attr:`precision`); clips with ``lengths`` are encoded one by one."""
        if lengths is None:
            return pool_states(self._states(waveforms), self.layers)
        return torch.cat([pool_states(self._states(w[: int(n)].unsqueeze(0)), self.layers) for w, n in zip(waveforms, lengths)])

    def _states(self, waveforms: torch.Tensor) -> list[torch.Tensor]:
        """The backbone's hidden states ``[(batch, time, hidden)]``, fp32 whatever it ran in."""
        if self.precision == "fp32":
            return self.backbone(waveforms)
        from .precision import backbone_autocast

        bf16 = self._bf16_backbone(waveforms.device)
        if bf16 is not None:
            states = bf16(waveforms)
        else:
            with backbone_autocast(self.precision, waveforms.device):
                states = self.backbone(waveforms)
        return [states[i].float() if i in self.layers else states[i] for i in range(len(states))]

    def _bf16_backbone(self, device: torch.device) -> nn.Module | None:
        """The backbone's bf16 copy on ``device`` (:func:`~.precision.bf16_copy`; built on first use,
        kept outside the module's state so that saving and ``state_dict`` never see it), or ``None``
        for a backbone that runs under autocast."""
        from .precision import bf16_copy

        cached = getattr(self, "_bf16_cache", None)
        if cached is None or cached[0] != device:
            copy = bf16_copy(self.backbone)
            self._bf16_cache = (device, copy.to(device) if copy is not None else None)
        return self._bf16_cache[1]

    def set_precision(self, precision: str = "auto") -> str:
        self._bf16_cache = None  # rebuilt from the current weights on the next bf16 call
        return super().set_precision(precision)

    @property
    def uses_precision(self) -> bool:
        return True

    def classify_features(self, feats: torch.Tensor, speaker: SpeakerState | tuple[np.ndarray, np.ndarray] | None = None) -> torch.Tensor:
        """Pooled features ``(batch, F)`` → logits ``(batch, labels)`` (log-probabilities when two heads are mixed).

        An adaptive model first standardises with ``speaker``: a :class:`~.adapt.SpeakerState`, or
        ``(mean, std)`` ``(F,)`` of the speaker alone; default: the training prior, a speaker
        nothing has been heard of. With an unadapted head, the two heads' probabilities are mixed
        by the state's weight (class docstring).
        """
        if not self.adaptive:
            z = (feats - self.feat_mean) / self.feat_scale
            return self.head(z) / (self.temperature * self._shift_scale(z))
        state = self.speaker_state(speaker)
        mean = torch.as_tensor(state.mean, dtype=feats.dtype, device=feats.device)
        std = torch.as_tensor(state.std, dtype=feats.dtype, device=feats.device)
        plain_z = (feats - self.base_mean) / self.base_scale if self.has_unadapted_head else None
        scale = self._shift_scale(plain_z) if plain_z is not None else 1.0
        adapted = self.head(((feats - mean) / std - self.feat_mean) / self.feat_scale) / (self.temperature * scale)
        if plain_z is None or state.weight >= 1.0:
            return adapted
        base = self.base_head(plain_z) / (self.base_temperature * scale)
        w = float(state.weight)
        mixed = (1.0 - w) * torch.softmax(base, dim=-1) + w * torch.softmax(adapted, dim=-1)
        return torch.log(mixed.clamp_min(1e-30))

    def _shift_scale(self, plain_z: torch.Tensor) -> torch.Tensor | float:
        """``(batch, 1)``: the shift-aware temperature's factor ``max(1, d / d0) ** b`` of rows
        standardised with the plain head's training statistics ``(batch, F)`` (``d``: their mean
        square); 1.0 for a model without ``params.shift``."""
        if self.shift is None:
            return 1.0
        d0, b = self.shift
        d = plain_z.float().square().mean(dim=-1, keepdim=True)
        return (d / d0).clamp_min(1.0).pow(b).to(plain_z.dtype)

    @property
    def input_needs(self) -> InputNeeds:
        """The backbone's sample rate and the fewest samples it encodes."""
        return InputNeeds((int(self.backbone.sample_rate),), self.backbone.min_samples, f"the {self.hp.backbone} backbone")

    @property
    def has_unadapted_head(self) -> bool:
        return hasattr(self, "base_head")

    def training_prior(self) -> tuple[np.ndarray, np.ndarray]:
        return self.adapt_mean.double().cpu().numpy(), self.adapt_var.double().cpu().numpy()

    def set_prior(self, mean: np.ndarray, var: np.ndarray) -> None:
        """Install the training speakers' average statistics ``(F,)`` (adaptive models only)."""
        if not self.adaptive:
            raise ModelError(self.architecture, "not trained with speaker standardisation (no speaker_norm in its params)")
        with torch.no_grad():
            self.adapt_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
            self.adapt_var.copy_(torch.as_tensor(var, dtype=torch.float32))

    def predict_proba_adapted(self, waveforms, adapters, seconds=None) -> np.ndarray:  # noqa: ANN001 - see EmotionModel
        """See :meth:`EmotionModel.predict_proba_adapted`; the backbone runs once for the batch."""
        x = torch.as_tensor(waveforms, dtype=torch.float32)
        x = x.unsqueeze(0) if x.dim() == 1 else x
        if not self.adaptive or all(a is None for a in adapters):
            return self.predict_proba(x)
        with torch.inference_mode():
            feats = self.features(x.to(self.device))
            rows = []
            for i, adapter in enumerate(adapters):
                speaker = adapter.state() if adapter is not None else None
                rows.append(torch.softmax(self.classify_features(feats[i : i + 1], speaker).float(), dim=-1))
                if adapter is not None:
                    adapter.update(feats[i].double().cpu().numpy(), 0.0 if seconds is None else float(seconds[i]))
        return torch.cat(rows).cpu().numpy()

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.classify_features(self.features(waveforms, lengths))

    def set_unadapted_head(self, mean: np.ndarray, scale: np.ndarray, weight: np.ndarray, bias: np.ndarray, temperature: float = 1.0) -> None:
        """Install the unadapted head (models made with ``unadapted_head``), as :meth:`set_head`."""
        if not self.has_unadapted_head:
            raise ModelError(self.architecture, "made without an unadapted head (params.speaker_norm.unadapted_head)")
        _install(self.base_head, self.base_mean, self.base_scale, self.base_temperature, mean, scale, weight, bias, temperature)

    def set_head(self, mean: np.ndarray, scale: np.ndarray, weight: np.ndarray, bias: np.ndarray, temperature: float = 1.0) -> None:
        """Install trained head parameters (from numpy: ``weight (labels, F)``, ``bias (labels,)``)."""
        _install(self.head, self.feat_mean, self.feat_scale, self.temperature, mean, scale, weight, bias, temperature)


def _install(head: nn.Linear, mean_buf: torch.Tensor, scale_buf: torch.Tensor, temp_buf: torch.Tensor,
             mean: np.ndarray, scale: np.ndarray, weight: np.ndarray, bias: np.ndarray, temperature: float) -> None:
    """Copy a trained head (standardisation ``(F,)``, ``weight (labels, F)``, ``bias (labels,)``, temperature) into its buffers."""
    with torch.no_grad():
        for dst, src in ((mean_buf, mean), (scale_buf, scale), (head.weight, weight), (head.bias, bias)):
            dst.copy_(torch.as_tensor(src, dtype=torch.float32))
        temp_buf.fill_(float(temperature))

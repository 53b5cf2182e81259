"""wav2vec 2.0 fine-tuned for 8-way emotion classification (Hugging Face transformers).

The network is ``AutoModelForAudioClassification`` rebuilt from the Hugging Face config dict
stored in ``config.params["hf_config"]`` (random init, then our ``model.safetensors`` — all
weights are saved, nothing is fetched at load time). ``forward`` reproduces the feature
extractor's per-clip normalisation (zero mean, unit variance over the valid samples when
``do_normalize``) and passes an attention mask when the extractor asks for one.
"""

from __future__ import annotations

from typing import Any

import torch

from .. import defaults
from ..errors import ModelError
from .backbones import SSL_SAMPLE_RATE, conv_receptive_field
from .base import EmotionModel, InputNeeds, ModelConfig
from .params import Wav2Vec2Params
from .registry import register_architecture


def _hf_config(d: dict[str, Any]):
    try:
        from transformers import AutoConfig
    except ImportError:
        raise ModelError("wav2vec2", "needs the transformers package (pip install 'emomon[hf]')") from None
    model_type = d.get("model_type", "wav2vec2")
    cls = type(AutoConfig.for_model(model_type))
    return cls.from_dict(d)


@register_architecture("wav2vec2")
class Wav2Vec2Model(EmotionModel):
    """Waveforms ``(batch, samples)`` at 16 kHz → wav2vec2 + classification head → logits."""

    label_outputs = {"net.classifier.weight": 0, "net.classifier.bias": 0}

    def __init__(self, config: ModelConfig, net: Any = None) -> None:
        super().__init__(config)
        hp = config.typed_params(Wav2Vec2Params)
        if net is None:
            from transformers import AutoModelForAudioClassification

            if not hp.hf_config:
                raise ModelError("wav2vec2", "params.hf_config: missing")
            net = AutoModelForAudioClassification.from_config(_hf_config(hp.hf_config))
        self.net = net
        self.do_normalize = hp.do_normalize
        self.use_attention_mask = hp.return_attention_mask

    @classmethod
    def from_hf(cls, net: Any, feature_extractor: Any, labels: list[str], backbone: str = "") -> "Wav2Vec2Model":
        """Wrap a fine-tuned ``AutoModelForAudioClassification`` and its feature extractor."""
        config = ModelConfig(
            architecture="wav2vec2",
            labels=list(labels),
            sample_rate=int(getattr(feature_extractor, "sampling_rate", defaults.SAMPLE_RATE)),
            frontend=None,
            params={
                "hf_config": net.config.to_dict(),
                "do_normalize": bool(getattr(feature_extractor, "do_normalize", True)),
                "return_attention_mask": bool(getattr(feature_extractor, "return_attention_mask", False)),
                "backbone": backbone,
            },
        )
        return cls(config, net=net)

    @property
    def input_needs(self) -> InputNeeds:
        """16 kHz, and at least the receptive field of the convolutional feature encoder."""
        cfg = self.net.config
        return InputNeeds((SSL_SAMPLE_RATE,), conv_receptive_field(cfg.conv_kernel, cfg.conv_stride), "the wav2vec2 encoder")

    def normalise(self, waveforms: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero-mean unit-variance per clip over valid samples; returns (inputs, mask ``(batch, samples)``)."""
        b, t = waveforms.shape
        if lengths is None:
            mask = torch.ones(b, t, dtype=torch.bool, device=waveforms.device)
        else:
            mask = torch.arange(t, device=waveforms.device)[None, :] < lengths.to(waveforms.device)[:, None]
        x = waveforms.float()
        if self.do_normalize:
            m = mask.float()
            n = m.sum(1, keepdim=True).clamp(min=1)
            mean = (x * m).sum(1, keepdim=True) / n
            var = (((x - mean) ** 2) * m).sum(1, keepdim=True) / n
            x = (x - mean) / torch.sqrt(var + 1e-7)
        return x * mask, mask

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x, mask = self.normalise(waveforms, lengths)
        am = mask.long() if self.use_attention_mask else None
        return self.net(input_values=x, attention_mask=am).logits

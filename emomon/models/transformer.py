"""The seed's custom transformer encoder, in PyTorch.

Faithful to the study (defaults reproduce it):

* input: log-mel frames of the clip **front-padded** with zeros to one length — 495 time steps
  x 296 mel bands. The seed read RAVDESS at its native 48 kHz; the longest clip (~5.27 s)
  gives 495 frames with librosa's defaults (n_fft 2048, hop 512, centred frames), so the front
  end is ``FrontEnd(48000, n_fft=2048, hop=512, n_mels=296, log="db")`` (librosa
  ``power_to_db``, ``top_db=80``) and every waveform is front-padded (or cut, keeping its
  start) to ``(495 - 1) * 512`` samples;
* the frames are standardised per mel band with training-set statistics (buffers
  ``feat_mean``/``feat_std``; our addition, so that the noise level below means something);
* Gaussian noise, std 0.1, in training only;
* ``Linear(296 → 50)``: one 50-d embedding per time step;
* DeBERTa-inspired relative positional encoding, added to the embeddings:
  ``get_relative_positions`` is the matrix ``R[i, j] = j - i`` of distances between the 495
  time steps; ``get_relative_positional_encoding`` maps each distance to a 50-d sinusoidal
  vector and averages them over ``j``, giving one ``(495, 50)`` matrix (no parameters; our
  reading of the study's description);
* 3 encoder layers: 10-head self-attention → dropout 0.2 → add & layer norm → FFN
  ``Linear(50 → 192) → ReLU → Linear(192 → 50)`` → dropout 0.2 → add & layer norm. This is the
  block of Keras' "text classification with Transformer" example, which the study's sizes and
  parameter count follow (``MultiHeadAttention(num_heads, key_dim=embed_dim)``, dropout on the
  attention and FFN outputs, layer-norm epsilon 1e-6). Dropout on the outputs rather than on the
  attention weights also lets PyTorch use its fused attention kernel: half the training time;
* global average pooling over time → ``Linear(50 → 8)`` (softmax in ``predict_proba``).

Each head projects the 50-d embedding to ``head_dim`` = 50 (Keras ``MultiHeadAttention(
num_heads=10, key_dim=50)``): that is what makes the study's "about 377,000 parameters"
(378,834 here). The study's "vectors of length 5" would give ~90K parameters.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..features.mel import FrontEnd, log_mel
from .base import EmotionModel, InputNeeds, ModelConfig
from .params import TransformerParams
from .registry import register_architecture

SEED_FRONTEND = FrontEnd(sample_rate=48000, n_fft=2048, hop_length=512, n_mels=296, log="db", mel_scale="slaney", norm="slaney")

DEFAULT_PARAMS: dict[str, Any] = TransformerParams().to_dict()  # the study's sizes (num_frames 495, embed_dim 50, ...)


def get_relative_positions(num_frames: int) -> torch.Tensor:
    """``(T, T)`` matrix of distances ``R[i, j] = j - i`` between time steps."""
    r = torch.arange(num_frames)
    return r[None, :] - r[:, None]


def sinusoid(values: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal encoding of (possibly negative) positions ``(...)`` → ``(..., dim)``."""
    half = (dim + 1) // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) * 2.0 / dim)
    ang = values.to(torch.float64)[..., None] * freqs
    enc = torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)[..., :dim]
    return enc.to(torch.float32)


def get_relative_positional_encoding(num_frames: int, dim: int) -> torch.Tensor:
    """``(T, dim)``: the encodings of row ``i``'s distances ``j - i``, averaged over ``j``."""
    rel = get_relative_positions(num_frames)
    out = torch.zeros(num_frames, dim)
    for start in range(0, num_frames, 64):  # chunks keep the (rows, T, dim) tensor small
        out[start : start + 64] = sinusoid(rel[start : start + 64], dim).mean(dim=1)
    return out


class SeedAttention(nn.Module):
    """Multi-head self-attention, ``num_heads`` heads of ``head_dim`` each (Keras style)."""

    def __init__(self, embed_dim: int, num_heads: int, head_dim: int) -> None:
        super().__init__()
        self.h, self.d = num_heads, head_dim
        self.q = nn.Linear(embed_dim, num_heads * head_dim)
        self.k = nn.Linear(embed_dim, num_heads * head_dim)
        self.v = nn.Linear(embed_dim, num_heads * head_dim)
        self.o = nn.Linear(num_heads * head_dim, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, time, embed)`` → ``(batch, time, embed)``."""
        b, t, _ = x.shape
        split = lambda y: y.view(b, t, self.h, self.d).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        y = F.scaled_dot_product_attention(q, k, v)
        return self.o(y.transpose(1, 2).reshape(b, t, self.h * self.d))


class SeedEncoderLayer(nn.Module):
    """Attention → dropout → add & norm → FFN (ReLU) → dropout → add & norm (post-norm, Keras' block)."""

    def __init__(self, embed_dim: int, num_heads: int, head_dim: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.attn = SeedAttention(embed_dim, num_heads, head_dim)
        self.norm1 = nn.LayerNorm(embed_dim, eps=1e-6)
        self.ff1 = nn.Linear(embed_dim, ff_dim)
        self.ff2 = nn.Linear(ff_dim, embed_dim)
        self.norm2 = nn.LayerNorm(embed_dim, eps=1e-6)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, time, embed)`` → ``(batch, time, embed)``."""
        x = self.norm1(x + self.drop(self.attn(x)))
        return self.norm2(x + self.drop(self.ff2(F.relu(self.ff1(x)))))


@register_architecture("transformer")
class SeedTransformer(EmotionModel):
    """The seed's transformer (study: 51.4% on a random split, ~377K parameters)."""

    label_outputs = {"head.weight": 0, "head.bias": 0}

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        config.params = {**DEFAULT_PARAMS, **config.params}
        p = config.typed_params(TransformerParams)
        if config.frontend is None:
            config.frontend = SEED_FRONTEND.to_dict()
        self.front = FrontEnd.from_dict(config.frontend)
        if self.front.sample_rate != config.sample_rate:
            config.sample_rate = self.front.sample_rate
        self.num_frames = p.num_frames
        self.noise_std = p.noise_std
        self.top_db = p.top_db
        n_mels, e = self.front.n_mels, p.embed_dim
        self.register_buffer("feat_mean", torch.zeros(n_mels))
        self.register_buffer("feat_std", torch.ones(n_mels))
        self.register_buffer("pos", get_relative_positional_encoding(self.num_frames, e), persistent=False)
        self.embed = nn.Linear(n_mels, e)
        self.layers = nn.ModuleList(
            SeedEncoderLayer(e, p.num_heads, p.head_dim, p.ff_dim, p.dropout) for _ in range(p.num_layers)
        )
        self.head = nn.Linear(e, len(config.labels))

    @classmethod
    def create(cls, labels: list[str], params: dict[str, Any] | None = None, frontend: FrontEnd | None = None) -> "SeedTransformer":
        front = frontend or SEED_FRONTEND
        config = ModelConfig(architecture="transformer", labels=list(labels), sample_rate=front.sample_rate, frontend=front.to_dict(), params=dict(params or {}))
        return cls(config)

    @property
    def input_needs(self) -> InputNeeds:
        """Its front end's rate; any length (every input is padded or cut to :attr:`num_samples`)."""
        return InputNeeds((self.front.sample_rate,), 1, "the front end")

    @property
    def num_samples(self) -> int:
        """Waveform length that yields exactly ``num_frames`` frames."""
        return (self.num_frames - 1) * self.front.hop_length

    def front_pad(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch, samples)`` → ``(batch, num_samples)``: each clip's valid part, zeros in FRONT."""
        b, t = waveforms.shape
        n = self.num_samples
        out = waveforms.new_zeros(b, n)
        for i in range(b):
            length = t if lengths is None else int(lengths[i])
            clip = waveforms[i, : min(length, n)]
            out[i, n - clip.shape[0] :] = clip
        return out

    def mel(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Raw log-mel (dB, top_db-clipped) of the front-padded clips ``(batch, frames, mels)``."""
        x = log_mel(self.front_pad(waveforms, lengths), self.front)
        if self.top_db is not None:
            x = torch.maximum(x, x.amax(dim=(1, 2), keepdim=True) - float(self.top_db))
        return x

    def classify_mel(self, mel: torch.Tensor, standardise: bool = True) -> torch.Tensor:
        """``(batch, frames, mels)`` → logits ``(batch, labels)``."""
        x = (mel - self.feat_mean) / self.feat_std if standardise else mel
        if self.training and self.noise_std > 0:
            x = x + self.noise_std * torch.randn_like(x)
        x = self.embed(x) + self.pos[: x.shape[1]]
        for layer in self.layers:
            x = layer(x)
        return self.head(x.mean(dim=1))

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.classify_mel(self.mel(waveforms, lengths))

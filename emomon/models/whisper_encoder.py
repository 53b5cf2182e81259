"""A PyTorch Whisper encoder that returns every layer's hidden states.

It takes log-mel frames ``(batch, frames, mels)`` of any even length up to 3000 (30 s): the
positional table is sliced to the input, so short streaming windows cost a fraction of a 30 s
pass (transformers' WhisperEncoder insists on 3000 frames). Weights load from a CTranslate2
``model.bin`` (e.g. Systran/faster-whisper-base) or from a Hugging Face Whisper state dict.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError


@dataclass(frozen=True)
class WhisperDims:
    """Encoder sizes (whisper-base: 80 mels, 512 wide, 8 heads, 6 layers, 1500 positions)."""

    n_mels: int = 80
    d_model: int = 512
    n_heads: int = 8
    n_layers: int = 6
    n_ctx: int = 1500
    d_ff: int = 2048

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


_TOP = {  # ours: (CTranslate2's, below ``encoder/``; Hugging Face's, below the encoder prefix)
    "conv1.bias": ("conv1/bias", "conv1.bias"),
    "conv2.weight": ("conv2/weight", "conv2.weight"),
    "conv2.bias": ("conv2/bias", "conv2.bias"),
    "ln_post.weight": ("layer_norm/gamma", "layer_norm.weight"),
    "ln_post.bias": ("layer_norm/beta", "layer_norm.bias"),
}
"""Parameter names in each format (``conv1.weight`` and ``positions`` are read first, for the sizes)."""

_BLOCK = {  # ours: (CTranslate2's, below ``layer_{i}/``; Hugging Face's, below ``layers.{i}.``)
    "attn_ln.weight": ("self_attention/layer_norm/gamma", "self_attn_layer_norm.weight"),
    "attn_ln.bias": ("self_attention/layer_norm/beta", "self_attn_layer_norm.bias"),
    "attn.qkv.weight": ("self_attention/linear_0/weight", None),  # HF: the q, k, v projections, concatenated
    "attn.qkv.bias": ("self_attention/linear_0/bias", None),  # HF: q's, zeros (k has none), v's
    "attn.out.weight": ("self_attention/linear_1/weight", "self_attn.out_proj.weight"),
    "attn.out.bias": ("self_attention/linear_1/bias", "self_attn.out_proj.bias"),
    "ffn_ln.weight": ("ffn/layer_norm/gamma", "final_layer_norm.weight"),
    "ffn_ln.bias": ("ffn/layer_norm/beta", "final_layer_norm.bias"),
    "ffn.0.weight": ("ffn/linear_0/weight", "fc1.weight"),
    "ffn.0.bias": ("ffn/linear_0/bias", "fc1.bias"),
    "ffn.2.weight": ("ffn/linear_1/weight", "fc2.weight"),
    "ffn.2.bias": ("ffn/linear_1/bias", "fc2.bias"),
}
"""A block's parameter names in each format."""

_CT2, _HF = 0, 1  # the column of a format in :data:`_TOP` and :data:`_BLOCK`


def _renamed(get: Callable[[str], torch.Tensor], names: Mapping[str, tuple[str | None, ...]], column: int, ours: str = "",
             theirs: str = "") -> dict[str, torch.Tensor]:
    """``{ours + our name: get(theirs + their name)}`` for the ``names`` table's ``column``
    (a name the format lacks, ``None``, left out)."""
    return {ours + k: get(theirs + v[column]) for k, v in names.items() if v[column] is not None}


class _Attention(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)  # fused q, k, v (k has no bias in Whisper: stored as zeros)
        self.out = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)  # (batch, heads, time, d_head)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class _Block(nn.Module):
    def __init__(self, d: int, heads: int, d_ff: int) -> None:
        super().__init__()
        self.attn_ln = nn.LayerNorm(d)
        self.attn = _Attention(d, heads)
        self.ffn_ln = nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, d_ff), nn.GELU(), nn.Linear(d_ff, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_ln(x))
        return x + self.ffn(self.ffn_ln(x))


class WhisperEncoder(nn.Module):
    """Whisper's audio encoder: ``(batch, frames, mels)`` → ``n_layers + 1`` hidden states.

    ``forward`` returns ``[h0, h1, ..., hL]``, each ``(batch, frames // 2, d_model)``: ``h0`` is
    the convolutional front plus positions, ``hi`` the output of block ``i``; the last one has
    the final layer norm applied (as Hugging Face's ``hidden_states`` do).
    """

    def __init__(self, dims: WhisperDims = WhisperDims()) -> None:
        super().__init__()
        self.dims = dims
        self.conv1 = nn.Conv1d(dims.n_mels, dims.d_model, 3, padding=1)
        self.conv2 = nn.Conv1d(dims.d_model, dims.d_model, 3, stride=2, padding=1)
        self.register_buffer("positions", torch.zeros(dims.n_ctx, dims.d_model))
        self.blocks = nn.ModuleList(_Block(dims.d_model, dims.n_heads, dims.d_ff) for _ in range(dims.n_layers))
        self.ln_post = nn.LayerNorm(dims.d_model)

    @property
    def max_frames(self) -> int:
        return 2 * self.dims.n_ctx

    def forward(self, mel: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """``mel (batch, frames, mels)`` with ``frames <= 2 * n_ctx`` → list of ``(batch, time, d)``;
        with ``upto``, only the states ``h0 .. h_upto`` (the blocks above are not run)."""
        if mel.shape[1] > self.max_frames:
            raise ModelError("whisper encoder", f"{mel.shape[1]} frames exceed the maximum {self.max_frames} (30 s)")
        x = F.gelu(self.conv1(mel.transpose(1, 2)))
        x = F.gelu(self.conv2(x)).transpose(1, 2)  # (batch, time, d)
        x = x + self.positions[: x.shape[1]]
        return [x] + self.run_blocks(x, 0, len(self.blocks) if upto is None else upto)

    def run_blocks(self, x: torch.Tensor, start: int, stop: int) -> list[torch.Tensor]:
        """The states ``h_{start+1} .. h_stop`` from ``x = h_start (batch, time, d)``: blocks
        ``start`` to ``stop - 1``, the final layer norm after the last block."""
        states = []
        for i in range(start, stop):
            x = self.blocks[i](x)
            states.append(self.ln_post(x) if i == len(self.blocks) - 1 else x)
        return states

    # -- weight loading ----------------------------------------------------------------------
    @classmethod
    def from_ct2(cls, variables: Mapping[str, np.ndarray]) -> "WhisperEncoder":
        """Build from CTranslate2 variables (names ``encoder/...``, see :mod:`.ct2_reader`)."""
        def get(name: str) -> torch.Tensor:
            key = f"encoder/{name}"
            if key not in variables:
                raise ModelError("whisper weights", f"missing CTranslate2 variable {key}")
            return torch.from_numpy(np.asarray(variables[key], dtype=np.float32))

        n_layers = len({k.split("/")[1] for k in variables if re.match(r"encoder/layer_\d+/", k)})
        conv1 = get("conv1/weight")
        pos = get("position_encodings/encodings")
        heads = int(np.asarray(variables.get("encoder/num_heads", conv1.shape[0] // 64)))
        dims = WhisperDims(
            n_mels=conv1.shape[1], d_model=conv1.shape[0], n_heads=heads, n_layers=n_layers, n_ctx=pos.shape[0],
            d_ff=get("layer_0/ffn/linear_0/weight").shape[0],
        )
        state = {"conv1.weight": conv1, "positions": pos, **_renamed(get, _TOP, _CT2)}
        for i in range(n_layers):
            state.update(_renamed(get, _BLOCK, _CT2, f"blocks.{i}.", f"layer_{i}/"))
        enc = cls(dims)
        enc.load_state_dict(state, strict=True)
        return enc

    @classmethod
    def from_hf_state_dict(cls, sd: Mapping[str, torch.Tensor], n_heads: int) -> "WhisperEncoder":
        """Build from a Hugging Face ``WhisperModel``/``WhisperForConditionalGeneration`` state dict."""
        prefix = next((p for p in ("model.encoder.", "encoder.") if f"{p}conv1.weight" in sd), None)
        if prefix is None:
            raise ModelError("whisper weights", "no encoder.conv1.weight in the state dict (not a Whisper checkpoint)")

        def get(name: str) -> torch.Tensor:
            return sd[prefix + name].float()

        conv1 = get("conv1.weight")
        pos = get("embed_positions.weight")
        n_layers = len({k[len(prefix):].split(".")[1] for k in sd if k.startswith(prefix + "layers.")})
        d = conv1.shape[0]
        dims = WhisperDims(n_mels=conv1.shape[1], d_model=d, n_heads=n_heads, n_layers=n_layers, n_ctx=pos.shape[0],
                           d_ff=get("layers.0.fc1.weight").shape[0])
        state = {"conv1.weight": conv1, "positions": pos, **_renamed(get, _TOP, _HF)}
        for i in range(n_layers):
            p, q = f"blocks.{i}.", f"layers.{i}."
            state.update(_renamed(get, _BLOCK, _HF, p, q))
            state[p + "attn.qkv.weight"] = torch.cat([get(q + f"self_attn.{n}_proj.weight") for n in "qkv"])
            state[p + "attn.qkv.bias"] = torch.cat([get(q + "self_attn.q_proj.bias"), torch.zeros(d), get(q + "self_attn.v_proj.bias")])
        enc = cls(dims)
        enc.load_state_dict(state, strict=True)
        return enc

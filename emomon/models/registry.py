"""Registries by name: model architectures, and the trained models shipped inside the package.

``--model`` takes a shipped model's name (``default``, ...) or a path to a model directory
(``config.json`` + ``model.safetensors``). Architectures are imported lazily, so a heavy
optional dependency (transformers, opensmile) is only needed by the model that uses it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, TypeVar

import torch

from ..errors import DeviceError, ModelError
from ..registry import LazyRegistry
from .base import CONFIG_NAME, WEIGHTS_NAME, EmotionModel, ModelConfig, read_config
from .config import check_fits
from .shipped import PRETRAINED_DIR, resolve_model_dir, shipped_models  # noqa: F401 - re-exported

log = logging.getLogger(__name__)

# architecture name -> "module:Class" (imported on first use) or the class once registered.
ARCHITECTURES: LazyRegistry[type[EmotionModel]] = LazyRegistry(
    "architecture",
    {
        "baseline": "emomon.models.baseline:BaselineModel",
        "transformer": "emomon.models.transformer:SeedTransformer",
        "wav2vec2": "emomon.models.wav2vec2:Wav2Vec2Model",
        "egemaps": "emomon.models.egemaps:EgemapsModel",
        "layer-head": "emomon.models.layer_head:LayerHeadModel",
        "whisper-finetune": "emomon.models.finetuned_whisper:FinetunedWhisperModel",
    },
)

M = TypeVar("M", bound=type[EmotionModel])


def register_architecture(name: str) -> Callable[[M], M]:
    """Class decorator: make ``name`` resolve to the decorated :class:`EmotionModel` subclass."""

    def deco(cls: M) -> M:
        cls.architecture = name
        return ARCHITECTURES.register(name, cls)

    return deco


def architectures() -> list[str]:
    """Names of all known architectures."""
    return ARCHITECTURES.names()


def get_architecture(name: str) -> type[EmotionModel]:
    """The class registered as ``name`` (imports its module on first use)."""
    return ARCHITECTURES.get(name)


def select_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(str(device), "CUDA is not available on this machine (use --compute cpu or auto)")
    return dev


def load_model(name_or_path: str | Path = "default", device: str | torch.device | None = "auto") -> EmotionModel:
    """Load a trained model by shipped name or directory, in eval mode, on ``device``.

    The config is checked as it is read (:func:`~emomon.models.config.read_config`), against the
    built model (sample rate, window: :func:`~emomon.models.config.check_fits`) and against the
    weights (labels); every problem is a :class:`ModelError` naming ``config.json`` and its field.
    """
    directory = resolve_model_dir(name_or_path)
    config = read_config(directory)
    where = str(directory / CONFIG_NAME)
    model = _build(_architecture_of(config, where), config, where)
    check_fits(config, where, model.input_needs)
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise ModelError(str(directory), f"no {WEIGHTS_NAME}")
    model.load_weights(weights, config_path=where)
    model.eval()
    return model.to(select_device(device))


def _architecture_of(config: ModelConfig, where: str) -> type[EmotionModel]:
    """The class ``config.architecture`` names; an unknown name is an error in ``where``."""
    if config.architecture not in architectures():
        raise ModelError(where, f"architecture: unknown {config.architecture!r} (known: {', '.join(architectures())})")
    return get_architecture(config.architecture)


def _build(cls: type[EmotionModel], config: ModelConfig, where: str) -> EmotionModel:
    """``cls`` built from ``config``; what the class refuses in its params is an error in ``where``."""
    try:
        return cls.from_config(config) if hasattr(cls, "from_config") else cls(config)  # type: ignore[attr-defined]
    except ModelError as exc:
        if exc.what != config.architecture or not exc.why.startswith("params"):
            raise  # not the config's fault: backbone weights that cannot be found, a missing package...
        raise ModelError(where, exc.why) from None
    except Exception as exc:  # noqa: BLE001
        raise ModelError(where, f"params: cannot build {config.architecture} from them ({type(exc).__name__}: {exc})") from None

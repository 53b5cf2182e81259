"""A model's ``config.json``: what rebuilds it before its weights are loaded (no torch needed)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .. import defaults
from ..errors import ModelError
from ..labels import EMOTIONS

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass
class ModelConfig:
    """What ``config.json`` holds: enough to rebuild the model before loading its weights.

    ``architecture`` is the registry name of the class; ``params`` its hyper-parameters;
    ``frontend`` the :class:`~emomon.features.FrontEnd` as a dict (``None`` when the model reads
    raw samples); ``window``/``hop`` the stream windowing it was made for (seconds); ``meta``
    provenance (training data, protocol, metrics, license).
    """

    architecture: str
    labels: list[str] = field(default_factory=lambda: list(EMOTIONS))
    sample_rate: int = 16000
    frontend: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    window: float = defaults.WINDOW_S
    hop: float = defaults.HOP_S
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelConfig":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        if "architecture" not in known:
            raise ModelError("config.json", "missing 'architecture'")
        return cls(**known)


def read_config(directory: str | Path) -> ModelConfig:
    """Read ``directory/config.json`` as a :class:`ModelConfig`."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise ModelError(str(directory), f"no {CONFIG_NAME} (not an emomon model directory)")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(str(path), f"unreadable ({exc})") from None
    return ModelConfig.from_dict(data)

"""Which runtime runs a model (``--backend``): the registry of backends and loading by name (no torch here).

* ``torch`` (default): every architecture, as :func:`~emomon.models.registry.load_model` loads it.
* ``onnx``: onnxruntime (:class:`~emomon.models.onnx_model.OnnxModel`): layer-head models on a
  Whisper backbone, torch never imported once the model's graph is exported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelError

if TYPE_CHECKING:
    from .base import EmotionModel
    from .onnx_model import OnnxModel

BACKENDS: dict[str, str] = {
    "torch": "PyTorch: every architecture",
    "onnx": "onnxruntime: layer-head models on a Whisper backbone, without torch (the graph is exported once, or taken from the model directory's model.onnx)",
}
DEFAULT_BACKEND = "torch"

# ``emomon export --format``: what a model exports to (for the backend of the same name)
EXPORT_FORMATS: dict[str, str] = {"onnx": "the backbone as an ONNX graph + the head and config: a model directory for --backend onnx"}


def backend_names() -> list[str]:
    return list(BACKENDS)


def backend_of(model: Any) -> str:
    """The backend a loaded model runs on (``torch`` for an :class:`~emomon.models.base.EmotionModel`)."""
    return str(getattr(model, "backend", "torch"))


def load_with_backend(name_or_path: str | Path = "default", backend: str = DEFAULT_BACKEND, compute: str = "auto",
                      quantize: str | None = None) -> "EmotionModel | OnnxModel":
    """A shipped model or model directory loaded on ``backend`` (``quantize``: onnx only)."""
    if backend == "torch":
        if quantize is not None:
            raise ModelError("quantize", "applies to the onnx backend")
        from .registry import load_model

        return load_model(name_or_path, device=compute)
    if backend == "onnx":
        from .onnx_model import load_onnx_model

        return load_onnx_model(name_or_path, compute=compute, quantize=quantize)
    raise ModelError("backend", f"unknown {backend!r} (known: {', '.join(BACKENDS)})")

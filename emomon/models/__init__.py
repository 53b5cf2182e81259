"""Classifiers: the model interface, the registries and the architectures.

Names are imported on first use: the config, the shipped-model list and name resolution need no
torch; the model classes and :func:`load_model` do.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "ModelConfig": "config",
    "read_config": "config",
    "Classifier": "interface",
    "ModelCard": "card",
    "parse_card": "card",
    "parse_params": "params",
    "shipped_models": "shipped",
    "resolve_model_dir": "shipped",
    "EmotionModel": "base",
    "architectures": "registry",
    "get_architecture": "registry",
    "load_model": "registry",
    "register_architecture": "registry",
    "select_device": "registry",
    "OnnxModel": "onnx_model",
    "load_onnx_model": "onnx_model",
    "export_onnx": "export",
    "load_with_backend": "backend",
    "open_model": "open",
    "check_window_fits": "open",
    "Adaptation": "open",
    "decide_adaptation": "open",
    "meta_summary": "shipped",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""Classifiers: the model interface, the registries and the architectures.

Names are imported on first use: the config, the shipped-model list and name resolution need no
torch; the model classes and :func:`load_model` do.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {  # submodule (relative to this package) -> the names it gives
    "config": ["ModelConfig", "read_config"],
    "interface": ["Classifier"],
    "card": ["ModelCard", "parse_card"],
    "params": ["parse_params"],
    "shipped": ["shipped_models", "resolve_model_dir", "meta_summary"],
    "base": ["EmotionModel"],
    "registry": ["architectures", "get_architecture", "load_model", "register_architecture", "select_device"],
    "onnx_model": ["OnnxModel", "load_onnx_model"],
    "export": ["export_onnx"],
    "backend": ["load_with_backend"],
    "open": ["open_model", "check_window_fits", "Adaptation", "decide_adaptation"],
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

"""Classifiers: the model interface, the registries and the architectures."""

from .base import ModelConfig, EmotionModel, read_config
from .registry import (
    architectures,
    get_architecture,
    load_model,
    register_architecture,
    resolve_model_dir,
    select_device,
    shipped_models,
)

__all__ = [
    "EmotionModel",
    "ModelConfig",
    "architectures",
    "get_architecture",
    "load_model",
    "read_config",
    "register_architecture",
    "resolve_model_dir",
    "select_device",
    "shipped_models",
]

"""Training recipes by name (``emomon train --model NAME``), imported lazily.

See :mod:`emomon.training.recipes.base` for the interface.
"""

from __future__ import annotations

import importlib
from typing import Callable, TypeVar

from ...errors import DataError, ModelError
from .base import Recipe, TrainContext, parse_options

# recipe name -> "module:Class" (imported on first use) or the class once registered.
_RECIPES: dict[str, str | type[Recipe]] = {
    "default": "emomon.training.recipes.layer_head:LayerHeadRecipe",
    "baseline": "emomon.training.recipes.baseline:BaselineRecipe",
    "transformer": "emomon.training.recipes.transformer:TransformerRecipe",
    "wav2vec2": "emomon.training.recipes.wav2vec2:Wav2Vec2Recipe",
    "egemaps": "emomon.training.recipes.egemaps:EgemapsRecipe",
}

R = TypeVar("R", bound=type[Recipe])


def register_recipe(name: str) -> Callable[[R], R]:
    """Class decorator: make ``name`` resolve to the decorated :class:`Recipe`."""

    def deco(cls: R) -> R:
        cls.name = name
        _RECIPES[name] = cls
        return cls

    return deco


def recipe_names() -> list[str]:
    """All registered recipe names (``default`` first)."""
    return sorted(_RECIPES, key=lambda n: (n != "default", n))


def get_recipe_class(name: str) -> type[Recipe]:
    entry = _RECIPES.get(name)
    if entry is None:
        raise DataError(name, f"unknown model recipe (known: {', '.join(recipe_names())})")
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except ImportError as exc:
            missing = getattr(exc, "name", None) or str(exc)
            raise ModelError(name, f"recipe needs a module that is not installed ({missing})") from None
        cls.name = cls.name or name
        _RECIPES[name] = cls
        return cls
    return entry


def get_recipe(name: str) -> Recipe:
    """A new instance of the recipe registered as ``name``."""
    return get_recipe_class(name)()


__all__ = ["Recipe", "TrainContext", "get_recipe", "get_recipe_class", "parse_options", "recipe_names", "register_recipe"]

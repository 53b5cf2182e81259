"""Training recipes by name (``emomon train --model NAME``), imported lazily.

See :mod:`emomon.training.recipes.base` for the interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ...errors import DataError
from ...lazy import lazy_exports
from ...registry import LazyRegistry

if TYPE_CHECKING:
    from .base import Recipe, TrainContext, parse_options  # noqa: F401

# recipe name -> "module:Class" (imported on first use) or the class once registered.
RECIPES: "LazyRegistry[type[Recipe]]" = LazyRegistry(
    "model recipe",
    {
        "default": "emomon.training.recipes.layer_head:LayerHeadRecipe",
        "baseline": "emomon.training.recipes.baseline:BaselineRecipe",
        "transformer": "emomon.training.recipes.transformer:TransformerRecipe",
        "wav2vec2": "emomon.training.recipes.wav2vec2:Wav2Vec2Recipe",
        "egemaps": "emomon.training.recipes.egemaps:EgemapsRecipe",
        "finetune": "emomon.training.recipes.finetune:FinetuneRecipe",
        "distill": "emomon.training.recipes.distill:DistillRecipe",
    },
    unknown_error=DataError,
    order=lambda n: (n != "default", n),
)

R = TypeVar("R", bound="type[Recipe]")


def register_recipe(name: str) -> Callable[[R], R]:
    """Class decorator: make ``name`` resolve to the decorated :class:`Recipe`."""

    def deco(cls: R) -> R:
        cls.name = name
        return RECIPES.register(name, cls)

    return deco


def recipe_names() -> list[str]:
    """All registered recipe names (``default`` first); imports none of them."""
    return RECIPES.names()


def get_recipe_class(name: str) -> "type[Recipe]":
    """The recipe class registered as ``name`` (imports its module on first use)."""
    cls = RECIPES.get(name)
    cls.name = cls.name or name
    return cls


def get_recipe(name: str) -> "Recipe":
    """A new instance of the recipe registered as ``name``."""
    return get_recipe_class(name)()


__all__ = ["Recipe", "TrainContext", "get_recipe", "get_recipe_class", "parse_options", "recipe_names", "register_recipe"]

# ``Recipe``, ``TrainContext``, ``parse_options`` from :mod:`.base` (which imports torch), on first use.
__getattr__, __dir__, _ = lazy_exports(__name__, {"base": ["Recipe", "TrainContext", "parse_options"]})

"""A registry by name whose entries are imported on first use.

Both the model architectures (:mod:`emomon.models.registry`) and the training recipes
(:mod:`emomon.training.recipes`) are such registries: an entry is either the object itself or
a ``"module:attribute"`` string, so that a heavy optional dependency (transformers,
opensmile) is imported only by the entry that needs it.
"""

from __future__ import annotations

import importlib
from typing import Callable, Generic, Mapping, TypeVar

from .errors import EmomonError, ModelError

T = TypeVar("T")


class LazyRegistry(Generic[T]):
    """Names → objects (classes), declared as ``"module:attr"`` strings or registered directly.

    ``kind`` names the registry in error messages; ``unknown_error`` is the
    :class:`EmomonError` subclass raised for a name that is not registered.
    """

    def __init__(self, kind: str, entries: Mapping[str, str | T], unknown_error: type[EmomonError] = ModelError,
                 order: Callable[[str], object] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, str | T] = dict(entries)
        self._unknown_error = unknown_error
        self._order = order

    def names(self) -> list[str]:
        """All registered names (sorted; ``order`` decides when given)."""
        return sorted(self._entries, key=self._order) if self._order else sorted(self._entries)

    def register(self, name: str, obj: T) -> T:
        self._entries[name] = obj
        return obj

    def get(self, name: str) -> T:
        """The object registered as ``name``, importing its module on first use."""
        entry = self._entries.get(name)
        if entry is None:
            raise self._unknown_error(name, f"unknown {self.kind} (known: {', '.join(self.names())})")
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            try:
                obj = getattr(importlib.import_module(module), attr)
            except ImportError as exc:
                missing = getattr(exc, "name", None) or str(exc)
                raise ModelError(name, f"needs a module that is not installed ({missing})") from None
            self._entries[name] = obj
            return obj
        return entry

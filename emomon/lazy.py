"""Package attributes imported on first use (PEP 562), so that importing a package stays cheap.

A package's ``__init__`` declares ``{submodule: [names]}`` and takes its ``__getattr__``,
``__dir__`` and ``__all__`` from :func:`lazy_exports`; ``from emomon.stream import Monitor``
then imports ``emomon.stream.monitor`` (and torch) only when it is asked for.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Iterable, Mapping


def lazy_exports(package: str, exports: Mapping[str, Iterable[str]]) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``, whose ``exports`` map submodules
    (relative to it) to the names each gives; ``__all__`` is those names, sorted."""
    module_of = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(module_of))

    return __getattr__, __dir__, sorted(module_of)

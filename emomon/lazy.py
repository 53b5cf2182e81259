"""Package attributes imported on first use (PEP 562), so that importing a package stays cheap.

A package's ``__init__`` declares ``{name: submodule}`` and takes its ``__getattr__`` and
``__dir__`` from :func:`lazy_exports`; ``from emomon.stream import Monitor`` then imports
``emomon.stream.monitor`` (and torch) only when it is asked for.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose ``exports`` map names to submodules (relative)."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__

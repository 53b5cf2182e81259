"""File timelines: the speech segments of files, their output formats and their pictures.

:func:`analyze_file` finds the speech of a file (voice activity), classifies each segment and
returns a :class:`~emomon.records.FileResult`; :func:`analyze_files` does it for many files, a
failing file becoming a result with ``error`` set. Names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FileOptions": "analyze",
    "analyze_file": "analyze",
    "analyze_files": "analyze",
    "plot_file": "plot",
    "plot_windows": "plot",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)

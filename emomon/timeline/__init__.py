"""File timelines: the speech segments of files, their output formats and their pictures.

:func:`analyze_file` finds the speech of a file (voice activity), classifies each segment and
returns a :class:`~emomon.records.FileResult`; :func:`analyze_files` does it for many files, a
failing file becoming a result with ``error`` set; :func:`analyze_session` classifies several
files of one speaker adapted to all their speech (``file --adapt``). Names are imported on first use.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "FileOptions": "analyze",
    "analyze_file": "analyze",
    "analyze_files": "analyze",
    "analyze_session": "session",
    "plot_file": "plot",
    "plot_windows": "plot",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

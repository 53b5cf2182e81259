"""File timelines: the speech segments of files, each classified, and a summary per file.

:func:`analyze_file` finds the speech of a file (voice activity), classifies each segment and
returns a :class:`~emomon.records.FileResult`; :func:`analyze_files` does it for many files, a
failing file becoming a result with ``error`` set; :func:`analyze_session` classifies several
files of one speaker adapted to all their speech (``file --adapt``). Their output formats and
pictures are :mod:`emomon.output`'s (``plot_file`` and ``plot_windows`` are exported here too).
Names are imported on first use.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "FileOptions": "analyze",
    "analyze_file": "analyze",
    "analyze_files": "analyze",
    "analyze_session": "session",
    "plot_file": ".output.plot",  # emomon.output.plot (relative to this package: ..output.plot)
    "plot_windows": ".output.plot",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

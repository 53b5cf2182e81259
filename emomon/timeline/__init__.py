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

_EXPORTS = {  # submodule (relative to this package) -> the names it gives
    "analyze": ["FileOptions", "analyze_file", "analyze_files"],
    "session": ["analyze_session"],
    ".output.plot": ["plot_file", "plot_windows"],  # emomon.output.plot (relative to this package: ..output.plot)
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

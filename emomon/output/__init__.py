"""What emomon writes: file results (JSON lines, CSV, a table), emotion pictures, the colours.

Below both the streaming pipeline (:mod:`emomon.stream`) and file timelines
(:mod:`emomon.timeline`), which both write through it:

* :mod:`.writers` — the result writers of ``emomon file`` and :func:`~.writers.emit` (a write
  to stdout that turns a full disk into one error line);
* :mod:`.plot` — pictures of emotion over time (matplotlib, imported when one is drawn);
* :mod:`.colors` — the one emotion palette, for the terminal and the pictures;
* :mod:`.files` — output files refused before any work starts.

Names are imported on first use.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {  # submodule (relative to this package) -> the names it gives
    "colors": ["COLORS", "PALETTE", "colors_for"],
    "files": ["check_output_path", "check_plot_path"],
    "plot": ["check_plot_format", "plot_file", "plot_windows"],
    "writers": ["emit", "make_writer", "writing"],
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

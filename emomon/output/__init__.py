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

_EXPORTS = {
    "COLORS": "colors",
    "PALETTE": "colors",
    "colors_for": "colors",
    "check_output_path": "files",
    "check_plot_path": "files",
    "check_plot_format": "plot",
    "plot_file": "plot",
    "plot_windows": "plot",
    "emit": "writers",
    "make_writer": "writers",
    "writing": "writers",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

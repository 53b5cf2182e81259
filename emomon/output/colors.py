"""The emotion colours: one palette for the terminal (rich colour names) and the pictures (hex).

Each emotion has one colour, named twice: :data:`COLORS` for the live screen and the ``file``
table (a terminal's own colour names), :data:`PALETTE` for the plots (the same hue, readable on
white). Labels outside the palette (another model's label set) get :data:`EXTRA_COLORS` in turn
(:func:`colors_for`).
"""

from __future__ import annotations

from typing import Sequence

EMOTION_COLORS: dict[str, tuple[str, str]] = {
    "neutral": ("white", "#9e9e9e"),
    "calm": ("cyan", "#17becf"),
    "happy": ("yellow", "#f2c40f"),
    "sad": ("blue", "#1f5fbf"),
    "angry": ("red", "#d62728"),
    "fearful": ("magenta", "#b23aa8"),
    "disgust": ("green", "#2e9e3e"),
    "surprised": ("bright_yellow", "#ff8c1a"),  # on white: orange, to tell it from happy
}
"""Emotion -> ``(terminal colour, hex colour)``."""

COLORS: dict[str, str] = {label: term for label, (term, _) in EMOTION_COLORS.items()}
"""The terminal's colour of each emotion (rich colour names)."""

PALETTE: dict[str, str] = {label: hex_ for label, (_, hex_) in EMOTION_COLORS.items()}
"""The plots' colour of each emotion: the terminal's hue, readable on white."""

EXTRA_COLORS = ("#8c564b", "#7f7f7f", "#bcbd22", "#e377c2", "#393b79", "#637939", "#843c39", "#5254a3")
"""Colours for labels outside :data:`PALETTE` (another model's label set), in order of appearance."""


def colors_for(labels: Sequence[str], more: Sequence[str] = ()) -> dict[str, str]:
    """A hex colour for each of ``labels`` and ``more``: :data:`PALETTE`, else :data:`EXTRA_COLORS` in turn."""
    colors: dict[str, str] = {}
    extra = 0
    for lab in [*labels, *more]:
        if lab not in colors:
            colors[lab] = PALETTE.get(lab) or EXTRA_COLORS[extra % len(EXTRA_COLORS)]
            extra += lab not in PALETTE
    return colors

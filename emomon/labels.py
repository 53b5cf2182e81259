"""The canonical emotion label set (RAVDESS order) used everywhere in emomon."""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
)
"""The eight emotions, in RAVDESS code order (code ``01`` is ``EMOTIONS[0]``)."""


def label_index(label: str) -> int:
    """Index of ``label`` in :data:`EMOTIONS`; raises ``ValueError`` naming the valid labels."""
    try:
        return EMOTIONS.index(label)
    except ValueError:
        raise ValueError(f"unknown emotion {label!r}; expected one of {', '.join(EMOTIONS)}") from None

"""Checking values read from JSON (no torch): one key's problem, a value's short form for a message,
a finite number. Shared by the config, its params and its card."""

from __future__ import annotations

import json
import math
from typing import Any


class Invalid(Exception):
    """One key's problem: ``key`` (dotted where nested) and ``why``, turned into one
    :class:`~emomon.errors.ModelError` line by whoever reads the file."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"{key}: {why}")
        self.key = key
        self.why = why


def show(v: Any) -> str:
    """A value as the user wrote it in JSON (short)."""
    try:
        text = json.dumps(v)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def finite(v: Any) -> bool:
    """A JSON number (not a boolean) that is finite."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

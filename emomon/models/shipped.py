"""The trained models shipped inside the package, and finding a model by name or path (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..errors import ModelError
from .card import ModelCard, parse_card
from .config import WEIGHTS_NAME

PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"


def shipped_models() -> list[str]:
    """Names of the trained models inside the package (``default`` first)."""
    if not PRETRAINED_DIR.is_dir():
        return []
    names = sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "config.json").is_file())
    return sorted(names, key=lambda n: (n != "default", n))


def resolve_model_dir(name_or_path: str | Path) -> Path:
    """Directory of the model named ``name_or_path``: a shipped name or an existing path."""
    s = str(name_or_path)
    if s in shipped_models():
        return PRETRAINED_DIR / s
    path = Path(s).expanduser()
    if path.is_dir():
        return path
    if path.is_file() and path.name in ("config.json", WEIGHTS_NAME):
        return path.parent
    shipped = ", ".join(shipped_models()) or "none"
    raise ModelError(s, f"no such model (shipped models: {shipped}; or give a directory with config.json + {WEIGHTS_NAME})")


def meta_summary(meta: Mapping[str, Any] | ModelCard) -> str:
    """One line about a model from its card (:class:`~.card.ModelCard`, or the config's ``meta`` it
    is read from): its description, recipe, protocol and data, the corpora it was trained on, its
    UA/WA/F1 (a fraction as a percentage) and its license; ``-`` when there is nothing to say."""
    card = meta if isinstance(meta, ModelCard) else parse_card(meta)
    parts = [card.description] if card.description else []
    for key, value in (("recipe", card.recipe), ("protocol", card.protocol_detail or card.protocol), ("data", card.data)):
        if value:
            parts.append(f"{key}: {value}")
    if card.corpora:
        parts.append(f"trained on: {', '.join(card.corpora)}")
    for key in ("ua", "wa", "f1"):
        fig = getattr(card, key)
        if fig is not None:
            v = fig.mean
            parts.append(f"{key.upper()} {v * 100:.1f}%" if v <= 1 else f"{key.upper()} {v:.1f}")
    if card.licence:
        parts.append(f"license: {card.licence}")
    return "; ".join(parts) or "-"

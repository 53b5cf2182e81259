#!/usr/bin/env python3
"""Copy a trained run's final model into the package as a shipped model, with its measured figures.

    python scripts/ship_model.py runs/default default [--force]

Reads RUN/metrics.json (as :class:`~emomon.training.results.RunResults`) and
RUN/model/{config.json,model.safetensors}; writes emomon/pretrained/NAME/ with the config's
``meta`` extended by the model's card (:class:`~emomon.models.card.ModelCard`): the protocol, its
folds, speaker independence and mode, the cross-validated UA/WA/F1, the streamed and file
decisions' UA and ECE (when present), the command that trains it and the licence of the training data.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emomon.models.card import Figure, ModelCard
    from emomon.training.results import RunResults, Score

REPO = Path(__file__).resolve().parents[1]
RAVDESS_LICENSE = "Weights trained on RAVDESS (Livingstone & Russo 2018, CC BY-NC-SA 4.0): attribution, non-commercial, share-alike."


def set_args(recipe: str, options: dict) -> str:
    """``--set key=value`` for each option that differs from the recipe's default."""
    from emomon.training.recipes import get_recipe

    defaults = {o.name: o.default for o in get_recipe(recipe).options}
    return "".join(f" --set {k}={v if isinstance(v, str) else json.dumps(v, separators=(',', ':'))}"
                   for k, v in options.items() if k not in defaults or defaults[k] != v)


def data_args(data: str) -> str:
    """metrics.json's ``data`` as ``--data`` options: one bare DIR, or ``NAME=DIR, NAME=DIR``."""
    return " ".join(f"--data {d.strip()}" for d in data.split(", ")) if data else "--data DIR"


def _figure(score: "Score | None") -> "Figure | None":
    """A run's :class:`~emomon.training.results.Score` as a card's figure (``None``: not measured)."""
    from emomon.models.card import Figure

    return None if score is None or score.mean is None else Figure(score.mean, score.std)


def card_of(res: "RunResults", meta: dict[str, Any], name: str, description: str = "") -> "ModelCard":
    """The card of the run ``res``'s final model, whose config's ``meta`` (what the run wrote:
    recipe, corpora, ...) is ``meta``; ``description`` replaces the one ``meta`` holds when given."""
    from emomon.models.card import parse_card

    old = parse_card(meta)
    online = res.online_adaptive
    return dataclasses.replace(
        old, name=name, description=description or old.description or "",
        protocol=res.protocol, folds=len(res.folds), speaker_independent=res.speaker_independent, mode=res.mode,
        ua=_figure(res.ua), wa=_figure(res.wa), f1=_figure(res.f1), ece=_figure(res.ece),
        streamed_ua=_figure(res.streamed.ua) if res.streamed else None, file_ua=_figure(res.file.ua) if res.file else None,
        file_unanswered=res.file.unanswered if res.file else None, n_utterances=res.n_utterances,
        trained_on=f"{res.n_utterances} clips of {res.data}",
        command=f"emomon train --model {res.model} --protocol {res.protocol} {data_args(res.data)} --out RUN"
        + set_args(res.model, res.extra.get("options", {})),
        licence=old.licence or RAVDESS_LICENSE,
        online_adaptive_ua={p.heard: f for p in online.points if (f := _figure(p.figures.ua)) is not None} if online else {},
    )


def shipped_description(dst: Path) -> str:
    """The description of the model already shipped in ``dst`` (``""``: none), kept when a
    reship gives no ``--description``: the run's own config has none to fall back on."""
    from emomon.errors import EmomonError
    from emomon.models.card import parse_card

    try:
        meta = json.loads((dst / "config.json").read_text()).get("meta")
        return parse_card(meta, str(dst / "config.json")).description or ""
    except (OSError, ValueError, AttributeError, EmomonError):
        return ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("name")
    ap.add_argument("--description", default="")
    ap.add_argument("--force", action="store_true", help="replace an existing shipped model of that name")
    args = ap.parse_args()
    from emomon.errors import EmomonError
    from emomon.training.results import RunResults

    try:
        res = RunResults.from_dict(json.loads((args.run / "metrics.json").read_text()), str(args.run / "metrics.json"))
    except (OSError, ValueError, EmomonError) as exc:
        print(f"ship_model: error: {args.run}: {exc}", file=sys.stderr)
        return 1
    src = args.run / (res.final_model or "model")
    if res.mode != "strict" or not (src / "model.safetensors").is_file():
        print(f"ship_model: error: {args.run}: no strict-mode final model to ship", file=sys.stderr)
        return 1
    dst = REPO / "emomon" / "pretrained" / args.name
    if dst.exists() and not args.force:
        print(f"ship_model: error: {dst}: exists (use --force)", file=sys.stderr)
        return 1
    cfg = json.loads((src / "config.json").read_text())
    meta = cfg.setdefault("meta", {})
    description = args.description or shipped_description(dst)
    if not description:
        print(f"ship_model: warning: {args.name} ships without a description (give --description)", file=sys.stderr)
    meta.update(card_of(res, meta, args.name, description).to_dict())
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "model.safetensors", dst / "model.safetensors")
    (dst / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    print(f"shipped {src} -> {dst}: UA {res.ua.mean:.3f} ± {res.ua.std or 0:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Copy a trained run's final model into the package as a shipped model, with its measured figures.

    python scripts/ship_model.py runs/default default [--force]

Reads RUN/metrics.json and RUN/model/{config.json,model.safetensors}; writes
emomon/pretrained/NAME/ with the config's ``meta`` extended by the cross-validated UA/WA/F1,
the streamed and file decisions' UA and ECE (when present), and the licence of the training data.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("name")
    ap.add_argument("--description", default="")
    ap.add_argument("--force", action="store_true", help="replace an existing shipped model of that name")
    args = ap.parse_args()
    metrics = json.loads((args.run / "metrics.json").read_text())
    src = args.run / (metrics.get("final_model") or "model")
    if metrics.get("mode") != "strict" or not (src / "model.safetensors").is_file():
        print(f"ship_model: error: {args.run}: no strict-mode final model to ship", file=sys.stderr)
        return 1
    dst = REPO / "emomon" / "pretrained" / args.name
    if dst.exists() and not args.force:
        print(f"ship_model: error: {dst}: exists (use --force)", file=sys.stderr)
        return 1
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "model.safetensors", dst / "model.safetensors")
    cfg = json.loads((src / "config.json").read_text())
    meta = cfg.setdefault("meta", {})
    meta.update({
        "name": args.name,
        "description": args.description or meta.get("description", ""),
        "protocol": f"{metrics['protocol']} ({len(metrics['folds'])} folds, speaker-independent={metrics['speaker_independent']}, {metrics['mode']})",
        "ua": metrics["ua"], "wa": metrics["wa"], "f1": metrics["f1"],
        "ece": metrics.get("ece"),
        "streamed_ua": (metrics.get("streamed") or {}).get("ua"),
        "file_ua": (metrics.get("file") or {}).get("ua"),
        "file_unanswered": (metrics.get("file") or {}).get("unanswered"),
        "trained_on": f"{metrics['n_utterances']} clips of {metrics['data']}",
        "command": f"emomon train --model {metrics['model']} --protocol {metrics['protocol']} {data_args(metrics['data'])} --out RUN"
        + set_args(metrics["model"], metrics.get("extra", {}).get("options", {})),
        "license": meta.get("license") or RAVDESS_LICENSE,
    })
    online = metrics.get("online_adaptive")
    if online:
        meta["online_adaptive_ua"] = {p["heard"]: p["ua"] for p in online.get("points", [])}
    (dst / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    print(f"shipped {src} -> {dst}: UA {metrics['ua']['mean']:.3f} ± {metrics['ua']['std']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

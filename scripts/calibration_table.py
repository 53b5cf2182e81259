#!/usr/bin/env python3
"""How well calibrated each training run's answers are, per test corpus (prints a table).

    python scripts/calibration_table.py runs/loco-blend runs/loco-ccal runs/loco-both
    python scripts/calibration_table.py runs/multi-blend --folds 1,2,3

For every run directory (an ``emomon train`` output: ``predictions.jsonl`` and ``metrics.json``)
it prints the expected calibration error (ECE, 15 bins, %) of the strict whole-clip answers
pooled over all the run's test clips and per test corpus, with that corpus's mean top-label
confidence beside its accuracy (confidence above accuracy: over-confident; below: under-
confident) and ECE's noise floor on as many clips; then, for an adaptive model, the ECE and UA
of the labelled online-adaptive mode after 10 clips (per corpus, mean over the folds). ``--folds``
restricts the pooled figures to some folds (to compare a run stopped part-way with a whole one on
the same test speakers; the online figures are then left out).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from emomon.training.calibration import ece_floor, expected_calibration_error
from emomon.training.report import read_results
from emomon.training.results import RunResults


def _ece(rows: list[dict], labels: list[str]) -> tuple[float, float, float, float]:
    """``(ece, floor, confidence, accuracy)`` in % of prediction rows ``{"scores", "true"}``."""
    p = np.array([[r["scores"][k] for k in labels] for r in rows])
    y = np.array([labels.index(r["true"]) for r in rows])
    return (100 * expected_calibration_error(p, y), 100 * ece_floor(p), 100 * p.max(axis=1).mean(),
            100 * float((p.argmax(axis=1) == y).mean()))


def _online_after_10(run: RunResults, corpus: str) -> str:
    """``online after 10: ECE x, UA y`` of ``corpus`` (or of the whole run), or ``""``."""
    online = run.online_adaptive
    if online is None:
        return ""
    points = online.corpora.get(corpus, online.points) if online.corpora else online.points
    after = next((p.figures for p in points if p.heard == "10"), None)
    if after is None or after.ece is None or after.ua.mean is None or after.ece.mean is None:
        return ""
    return f"; online after 10 clips: ECE {100 * after.ece.mean:.1f}, UA {100 * after.ua.mean:.1f}"


def report(run_dir: Path, folds: set[str] | None) -> list[str]:
    """The table's lines for one run."""
    rows = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines() if line.strip()]
    if folds is not None:
        rows = [r for r in rows if r["fold"] in folds]
    labels = list(rows[0]["scores"])
    run = read_results(run_dir / "metrics.json") if folds is None and (run_dir / "metrics.json").is_file() else None
    ece, floor, _, _ = _ece(rows, labels)
    lines = [f"{run_dir.name}: all {len(rows)} clips: ECE {ece:.1f} (floor {floor:.1f})"]
    for corpus in sorted({r["corpus"] for r in rows}):
        part = [r for r in rows if r["corpus"] == corpus]
        ece, floor, conf, acc = _ece(part, labels)
        online = _online_after_10(run, corpus) if run is not None else ""
        lines.append(f"  {corpus}: {len(part)} clips: ECE {ece:.1f} (floor {floor:.1f}), confidence {conf:.0f} vs accuracy {acc:.0f}{online}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="emomon train output directories")
    ap.add_argument("--folds", help="only these folds, comma-separated (e.g. 1,2,3)")
    args = ap.parse_args()
    folds = set(args.folds.split(",")) if args.folds else None
    for run_dir in args.runs:
        print("\n".join(report(run_dir, folds)))


if __name__ == "__main__":
    main()

"""``emomon demo``: the shipped sample clip through the live pipeline."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import EmomonError
from .common import load, run_live
from .options import BackendChoice, BackendOpt, Compute, ComputeOpt, ModelOpt, NoUiOpt, PrecisionChoice, PrecisionOpt

SAMPLE_CLIP = Path(__file__).resolve().parent.parent / "samples" / "03-01-05-02-01-01-16.flac"


def demo(
    model: str = ModelOpt,
    fast: bool = typer.Option(False, "--fast", help="As fast as the model goes instead of real time."),
    no_ui: bool = NoUiOpt,
    compute: Compute = ComputeOpt,
    precision: PrecisionChoice = PrecisionOpt,
    backend: BackendChoice = BackendOpt,
) -> None:
    """Stream the shipped sample clip (RAVDESS actor 16, angry, strong) through the live pipeline."""
    if not SAMPLE_CLIP.is_file():
        raise EmomonError(str(SAMPLE_CLIP), "the sample clip is missing from this installation")
    from ..stream.api import file_monitor

    monitor = file_monitor(str(SAMPLE_CLIP), load(model, compute, precision=precision, backend=backend), fast=fast)
    if not run_live(monitor, model, f"emomon · {SAMPLE_CLIP.name}", no_ui=no_ui, jsonl=None, force=False, append=False, plot=None):
        raise typer.Exit(130)

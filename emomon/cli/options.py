"""The typer options and choices that several commands share (defaults from :mod:`emomon.defaults`).

The command line's own commands use them, and so do the plug-in commands (``train``,
``batch``): one spelling and one help text per option. Nothing here loads a model or imports
torch: ``--help`` stays instant.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

import typer

from .. import defaults
from ..models.backend import BACKENDS, DEFAULT_BACKEND, EXPORT_FORMATS
from ..models.onnx_cache import QUANTIZATIONS
from ..models.shipped import shipped_models

if TYPE_CHECKING:
    from ..features.vad import VadOptions


class Compute(str, Enum):
    """Where the model runs (``--compute``)."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Format(str, Enum):
    """How ``file`` prints its results (``--format``)."""

    table = "table"
    json = "json"
    csv = "csv"


VadMethod = Enum("VadMethod", {m: m for m in defaults.VAD_METHODS}, type=str)  # type: ignore[misc]
PrecisionChoice = Enum("PrecisionChoice", {p: p for p in defaults.PRECISIONS}, type=str)  # type: ignore[misc]
BackendChoice = Enum("BackendChoice", {b: b for b in BACKENDS}, type=str)  # type: ignore[misc]
ExportFormat = Enum("ExportFormat", {f: f for f in EXPORT_FORMATS}, type=str)  # type: ignore[misc]
Quantize = Enum("Quantize", {q: q for q in QUANTIZATIONS}, type=str)  # type: ignore[misc]


def model_help() -> str:
    """The help of ``--model``: the shipped models by name, or a model directory."""
    names = ", ".join(shipped_models()) or "none installed"
    return f"Shipped model name ({names}) or a model directory (config.json + model.safetensors)."


ModelOpt = typer.Option("default", "--model", "-m", help=model_help(), metavar="NAME|DIR")
ComputeOpt = typer.Option(Compute.auto, "--compute", help="Where the model runs: auto (CUDA when available), cpu, cuda.")
BackendOpt = typer.Option(BackendChoice(DEFAULT_BACKEND), "--backend",
                          help="What runs the model: torch (every model), onnx (onnxruntime, no torch imported; layer-head models on "
                               "Whisper: the model directory's model.onnx, else exported once into the cache).")
PrecisionOpt = typer.Option(PrecisionChoice(defaults.PRECISION), "--precision",
                            help="The encoder's number format: auto (bf16 where the hardware has it: AMX/AVX512-BF16 CPUs, CUDA; else fp32), fp32, bf16.")
WindowOpt = typer.Option(None, "--window", metavar="SECONDS", help=f"Window length in seconds, at least {defaults.MIN_WINDOW_S:g} (default: the model's; also the longest segment of `file`).")
HopOpt = typer.Option(None, "--hop", metavar="SECONDS", help="Hop between windows in seconds (default: the model's).", min=0.01)
SmoothingOpt = typer.Option(defaults.SMOOTHING, "--smoothing", metavar="FACTOR", help="EMA weight of the past, 0 (none) .. <1.", min=0.0, max=0.999)
VadOpt = typer.Option(defaults.VAD_METHOD, "--vad", help="Voice activity: silero (level-independent), energy (an RMS gate at --silence-db), off.")
VadThresholdOpt = typer.Option(defaults.VAD_THRESHOLD, "--vad-threshold", metavar="P", help="Silero speech probability that starts speech.", min=0.01, max=0.99)
MinSpeechOpt = typer.Option(defaults.MIN_SPEECH, "--min-speech", metavar="FRACTION", help="A window needs this fraction of speech to be classified.", min=0.0, max=1.0)
SilenceOpt = typer.Option(defaults.SILENCE_DB, "--silence-db", metavar="DBFS", help="With --vad energy: frames quieter than this RMS level (dBFS) are not speech.")
MinConfidenceOpt = typer.Option(None, "--min-confidence", help="Mark answers whose top probability is below P as uncertain (default: off).", min=0.0, max=1.0, metavar="P")
JsonlOpt = typer.Option(None, "--jsonl", metavar="PATH", help="Also log the session to this file: a header, every window, a summary (JSON lines).")
ForceOpt = typer.Option(False, "--force", help="Overwrite an existing --jsonl or --plot file.")
AppendOpt = typer.Option(False, "--append", help="Append a new session (with its own header) to an existing --jsonl file.")
NoUiOpt = typer.Option(False, "--no-ui", help="Write window records as JSON lines to stdout instead of the live screen.")
PlotOpt = typer.Option(None, "--plot", metavar="PATH", help="Draw the emotion timeline to this picture (.png, .svg, .pdf) at the end.")
CollapseOpt = typer.Option(defaults.COLLAPSE_CHECK, "--collapse-check/--no-collapse-check",
                           help=f"Say 'uncertain: unfamiliar voice' while over {defaults.COLLAPSE_SPAN_S:.0f} s one class holds > "
                                f"{defaults.COLLAPSE_SHARE:.0%} of the answers with small margins (file: with --stream).")
ProfileOpt = typer.Option(None, "--profile", metavar="NAME", help="Start from the speaker profile NAME and save what is heard to it (see `emomon profiles`).")


def vad_options(vad: str, threshold: float, min_speech: float, silence_db: float) -> "VadOptions":
    """The :class:`~emomon.features.vad.VadOptions` of ``--vad``, ``--vad-threshold``,
    ``--min-speech`` and ``--silence-db`` (checked: a bad value is an error naming its option)."""
    from ..features.vad import VadOptions

    return VadOptions(method=str(getattr(vad, "value", vad)), threshold=threshold, min_speech=min_speech, silence_db=silence_db)

"""``emomon models`` (the trained models shipped with emomon) and ``emomon export`` (a model for
another runtime)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import EmomonError
from ..models.shipped import shipped_models
from .common import loading
from .options import ExportFormat, Quantize, model_help


def models() -> None:
    """List the trained models shipped with emomon."""
    from rich.console import Console
    from rich.padding import Padding
    from rich.text import Text

    from ..models import read_config, resolve_model_dir
    from ..models.shipped import meta_summary

    names = shipped_models()
    if not names:
        print("no shipped models (give --model a model directory)")
        return
    console = Console()
    for i, name in enumerate(names):  # a block per model: it reads the same on a narrow terminal as on a wide one
        try:
            cfg = read_config(resolve_model_dir(name))
        except EmomonError as exc:
            console.print(Text(name, style="bold"), Text(f" unreadable: {exc.why}"))
            continue
        head = Text(name, style="bold")
        head.append(f"  {cfg.architecture} · window {cfg.window:g} s, hop {cfg.hop:g} s")
        if i:
            console.print()
        console.print(head)
        console.print(Padding(Text(f"labels ({len(cfg.labels)}): {', '.join(cfg.labels)}"), (0, 0, 0, 2)))
        console.print(Padding(Text(meta_summary(cfg.card)), (0, 0, 0, 2)))


def export_cmd(
    model: str = typer.Argument(..., metavar="NAME|DIR", help=model_help()),
    fmt: ExportFormat = typer.Option(ExportFormat("onnx"), "--format", help="onnx: the backbone as an ONNX graph (model.onnx) beside the head and config."),
    quantize: Optional[Quantize] = typer.Option(None, "--quantize", help="int8: the graph's MatMul/Gemm weights in int8 (dynamic quantization; a quarter of the size)."),
    out: Path = typer.Option(..., "--out", metavar="DIR", help="The model directory to write (config.json, model.safetensors, model.onnx)."),
    force: bool = typer.Option(False, "--force", help="Overwrite a model or graph already in DIR."),
) -> None:
    """Export a model for another runtime: DIR then runs with --model DIR --backend onnx (layer-head models on Whisper)."""
    from ..models.onnx_cache import prepare_export

    q = getattr(quantize, "value", quantize)
    prepare_export(model, out, q, force)  # every refusal before torch is imported
    from ..models.export import export_onnx

    with loading(f"{model} (exporting to {fmt.value})"):
        path = export_onnx(model, out, quantize=q, force=force)
    size = (path / "model.onnx").stat().st_size / 1e6
    print(f"emomon: exported {model} to {path} (model.onnx {size:.0f} MB, {q or 'fp32'}); "
          f"run it with --model {path} --backend onnx", file=sys.stderr)

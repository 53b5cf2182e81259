"""Where the onnxruntime backend finds a model's ONNX graph (no torch here).

A model directory that holds ``model.onnx`` (what ``emomon export --out DIR`` writes) uses it.
Otherwise the graph is exported once into the cache, ``$EMOMON_ONNX_CACHE``, else
``$XDG_CACHE_HOME/emomon/onnx``, else ``~/.cache/emomon/onnx``, under a key of what the graph
depends on (:func:`graph_key`: the graph format, the backbone and where its weights come from,
the quantization; not the head, so every head on one backbone shares one graph), and reused.
Only that first export needs torch; it is :func:`emomon.models.onnx_model.graph_path`'s (this
module imports nothing of the export, which imports this one).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import ModelError
from .config import CONFIG_NAME, WEIGHTS_NAME, ModelConfig
from .offline import OFFLINE_DISTS
from .params import LayerHeadParams

log = logging.getLogger(__name__)

GRAPH_NAME = "model.onnx"
GRAPH_FORMAT = 1  # bump when the exported graph's inputs, outputs or meaning change
QUANTIZATIONS = ("int8",)
EXPORTABLE = "layer-head models on a Whisper backbone"


def check_exportable(config: ModelConfig, where: str) -> None:
    """A :class:`ModelError` (``where``: the config) unless ``config`` is a layer-head model on a Whisper backbone."""
    if config.architecture != "layer-head":
        raise ModelError(where, f"architecture {config.architecture!r} has no ONNX export (only {EXPORTABLE} have)")
    backbone = config.typed_params(LayerHeadParams).backbone
    if not backbone.startswith("whisper"):
        raise ModelError(where, f"backbone {backbone!r} has no ONNX export (only {EXPORTABLE} have)")


def check_quantize(quantize: str | None) -> None:
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ModelError("quantize", f"unknown {quantize!r} (known: {', '.join(QUANTIZATIONS)})")


def check_out(out: Path, force: bool) -> None:
    """Refuse an export's ``--out`` that is a file, or that holds a model or a graph, unless ``force``."""
    if out.exists() and not out.is_dir():
        raise ModelError(str(out), "exists and is not a directory")
    held = [n for n in (CONFIG_NAME, WEIGHTS_NAME, GRAPH_NAME) if (out / n).exists()]
    if held and not force:
        raise ModelError(str(out), f"already holds {', '.join(held)} (refusing to overwrite; use --force)")


def prepare_export(model: str | Path, out: str | Path, quantize: str | None, force: bool) -> tuple[Path, ModelConfig, Path]:
    """Every check of an export that needs no torch: ``(model directory, its config, out)``;
    a :class:`ModelError` for an unknown model, one that does not export, an unknown
    ``quantize`` or an ``out`` it would overwrite."""
    from .config import read_config
    from .shipped import resolve_model_dir

    src = resolve_model_dir(model)
    config = read_config(src)
    check_exportable(config, str(src / CONFIG_NAME))
    check_quantize(quantize)
    if not (src / WEIGHTS_NAME).is_file():
        raise ModelError(str(src), f"no {WEIGHTS_NAME}")
    target = Path(out).expanduser()
    check_out(target, force)
    return src, config, target


def cache_root() -> Path:
    """``$EMOMON_ONNX_CACHE``, else ``$XDG_CACHE_HOME/emomon/onnx``, else ``~/.cache/emomon/onnx``."""
    if os.environ.get("EMOMON_ONNX_CACHE"):
        return Path(os.environ["EMOMON_ONNX_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "emomon" / "onnx"
    return Path.home() / ".cache" / "emomon" / "onnx"


def weights_identity(backbone: str, source: str | None) -> Any:
    """What names the backbone's weights without reading them: a directory's files (name, size,
    modification time), a hub id, or the offline packages' versions."""
    from importlib import metadata  # here: the CLI imports this module, and --help must stay instant

    if source:
        path = Path(source).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file())
            return {"dir": str(path.resolve()), "files": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]}
        return {"hub": source}
    versions = []
    for dist in OFFLINE_DISTS.get(backbone, ()):
        try:
            versions.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            return {"default": backbone}  # the hub copy (the backbone resolution order)
    return {"offline": versions}


def graph_key(config: ModelConfig, quantize: str | None) -> str:
    """The cache key of ``config``'s graph (hex, 16 characters)."""
    import hashlib

    hp = config.typed_params(LayerHeadParams)
    spec = {"format": GRAPH_FORMAT, "backbone": hp.backbone, "weights": weights_identity(hp.backbone, hp.backbone_source),
            "quantize": quantize or "none"}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def cached_graph(config: ModelConfig, quantize: str | None) -> Path:
    """The cache path of ``config``'s graph (it may not exist yet)."""
    return cache_root() / graph_key(config, quantize) / GRAPH_NAME


def graph_quantize(config: ModelConfig) -> str | None:
    """The quantization of the graph ``emomon export`` wrote beside ``config`` (``None``: fp32)."""
    export = config.card.onnx
    return None if export is None else export.quantization

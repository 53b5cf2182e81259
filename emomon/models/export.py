"""``emomon export MODEL --format onnx``: a model's backbone as an ONNX graph, for onnxruntime.

What is exported is the expensive part of a layer-head model on a Whisper backbone: log-mel
frames ``(batch, frames, mels)`` → every hidden state's mean and standard deviation over time,
``mean``/``std`` ``(batch, states, hidden)`` (dynamic batch and frames axes, up to Whisper's
3000 frames). The front end (:mod:`emomon.features.mel_numpy`) and the head
(:mod:`.numpy_head`) run in numpy, so the onnxruntime backend (:mod:`.onnx_model`) needs no
torch. The graph depends on the backbone's weights alone, not on the layers or the head, so one
graph serves every head trained on that backbone (the cache, :mod:`.onnx_cache`, shares it).

``--quantize int8`` quantizes the graph's MatMul/Gemm weights to int8 after export
(``onnxruntime.quantization.quantize_dynamic``; activations stay float and are quantized on
the fly). An export is checked against torch on a random input before it is written (fp32:
within :data:`CHECK_ATOL`). This module imports torch and needs ``onnx`` + ``onnxscript``
(``pip install emomon[onnx]``).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..version import __version__
from ..atomic import atomic_path, atomic_write_text
from ..errors import ModelError
from .card import OnnxExport
from .config import CONFIG_NAME, WEIGHTS_NAME, ModelConfig
from .params import LayerHeadParams
from .onnx_cache import GRAPH_FORMAT, GRAPH_NAME, check_exportable, check_quantize, prepare_export

log = logging.getLogger(__name__)

OPSET = 18
CHECK_ATOL = 1e-3  # largest |torch - onnxruntime| of a pooled statistic the fp32 check accepts
EXAMPLE_FRAMES = 300  # the example input's frames (3 s): the axes stay dynamic


class PooledStates(nn.Module):
    """Whisper's encoder and mean/std pooling of every hidden state over time.

    ``forward``: ``mel (batch, frames, mels)`` → ``mean``, ``std`` ``(batch, states, hidden)``,
    ``states = layers + 1`` (:class:`~emomon.models.whisper_encoder.WhisperEncoder`'s list);
    ``std`` is the population one, as :func:`~emomon.models.layer_head.pool_states`.
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.stack(self.encoder(mel), dim=1)  # (batch, states, time, hidden)
        return h.mean(dim=2), h.std(dim=2, unbiased=False)


def whisper_encoder(config: ModelConfig) -> nn.Module:
    """The Whisper encoder of ``config``'s backbone (its weights resolved as the model's are), fp32, eval."""
    from .backbones import WhisperBackbone, load_backbone

    hp = config.typed_params(LayerHeadParams)
    backbone = load_backbone(hp.backbone, hp.backbone_source)
    if not isinstance(backbone, WhisperBackbone):
        raise ModelError(config.architecture, "only a Whisper backbone exports to ONNX")
    return backbone.encoder.float().eval()


def graph_metadata(config: ModelConfig, encoder: nn.Module, quantize: str | None) -> dict[str, str]:
    """What :class:`~emomon.models.onnx_graph.OnnxGraph` checks before it runs a graph."""
    dims = encoder.dims
    return {
        "emomon.format": str(GRAPH_FORMAT),
        "emomon.backbone": config.typed_params(LayerHeadParams).backbone,
        "emomon.states": str(dims.n_layers + 1),
        "emomon.hidden": str(dims.d_model),
        "emomon.n_mels": str(dims.n_mels),
        "emomon.max_frames": str(encoder.max_frames),
        "emomon.quantize": quantize or "none",
        "emomon.version": __version__,
        "emomon.torch": torch.__version__,
    }


def _export_fp32(graph: PooledStates, n_mels: int, max_frames: int, path: Path) -> None:
    """``torch.onnx.export`` (dynamo) of ``graph`` into ``path``, one file (no external data)."""
    from torch.export import Dim

    example = torch.randn(2, EXAMPLE_FRAMES, n_mels)
    shapes = {"mel": {0: Dim("batch", min=1, max=4096), 1: Dim("frames", min=1, max=max_frames)}}
    quiet = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation notes are not the user's business
            program = torch.onnx.export(graph, (example,), None, input_names=["mel"], output_names=["mean", "std"],
                                        dynamic_shapes=shapes, dynamo=True, opset_version=OPSET, external_data=False,
                                        verbose=False)
    except ImportError as exc:
        raise ModelError("export", f"{exc.name or 'onnx'} is not installed (pip install 'emomon[onnx]')") from None
    finally:
        for q, level in zip(quiet, levels):
            q.setLevel(level)
    program.save(str(path), external_data=False)


def _check_against_torch(graph: PooledStates, path: Path, n_mels: int) -> float:
    """Largest ``|torch - onnxruntime|`` of the pooled statistics of a random 2.5 s input; a
    :class:`ModelError` above :data:`CHECK_ATOL`."""
    import onnxruntime as ort

    mel = np.random.default_rng(0).standard_normal((2, 250, n_mels)).astype(np.float32) * 0.5
    with torch.inference_mode():
        ref = [t.numpy() for t in graph(torch.from_numpy(mel))]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"mel": mel})
    err = max(float(np.abs(a - b).max()) for a, b in zip(ref, got))
    if not err <= CHECK_ATOL:
        raise ModelError("export", f"the ONNX graph differs from torch by {err:.3g} (more than {CHECK_ATOL:g}); not written")
    return err


def _set_metadata(path: Path, meta: dict[str, str]) -> None:
    """Write ``meta`` into the ONNX file's ``metadata_props`` (in place)."""
    try:
        import onnx
    except ImportError:
        raise ModelError("export", "onnx is not installed (pip install 'emomon[onnx]')") from None

    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save_model(proto, str(path))


def _quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 quantization of ``src``'s MatMul/Gemm weights into ``dst``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic's advice to pre-process goes to the root logger
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
                         per_channel=True, reduce_range=True)
    finally:
        root.setLevel(level)


def write_graph(config: ModelConfig, path: Path, quantize: str | None = None) -> dict[str, str]:
    """Export ``config``'s backbone graph to ``path`` (atomically; checked; int8 when asked).

    Returns the graph's metadata. Raises :class:`ModelError` for a model that cannot be exported.
    """
    check_exportable(config, str(path.parent / CONFIG_NAME))
    check_quantize(quantize)
    encoder = whisper_encoder(config)
    graph = PooledStates(encoder).eval()
    meta = graph_metadata(config, encoder, quantize)
    with tempfile.TemporaryDirectory(prefix=".emomon-export-", dir=path.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        _export_fp32(graph, encoder.dims.n_mels, encoder.max_frames, fp32)
        err = _check_against_torch(graph, fp32, encoder.dims.n_mels)
        log.debug("ONNX graph within %.3g of torch", err)
        final = fp32
        if quantize == "int8":
            final = Path(tmp) / "int8.onnx"
            _quantize_int8(fp32, final)
        _set_metadata(final, meta)
        with atomic_path(path) as out:
            shutil.copyfile(final, out)
    return meta


def export_onnx(model: str | Path, out: str | Path, *, quantize: str | None = None, force: bool = False) -> Path:
    """Export ``model`` (a shipped name or a model directory) to ``out``: ``config.json``, the head
    (``model.safetensors``) and the backbone graph ``model.onnx``, so that ``out`` is a model
    directory both backends load (``--backend onnx`` runs its graph). Returns ``out``.

    Refuses an ``out`` holding any of the three unless ``force``; every file is written
    atomically, the config last. A model that is not a layer-head on a Whisper backbone, or an
    unknown ``quantize``, is a :class:`ModelError` before any work.
    """
    src, config, out = prepare_export(model, out, quantize, force)
    weights = (src / WEIGHTS_NAME).read_bytes()  # read first: ``out`` may be ``src`` (with force)
    raw: dict[str, Any] = json.loads((src / CONFIG_NAME).read_text())
    out.mkdir(parents=True, exist_ok=True)
    meta = write_graph(config, out / GRAPH_NAME, quantize)
    with atomic_path(out / WEIGHTS_NAME) as tmp:
        tmp.write_bytes(weights)
    export = OnnxExport(graph=GRAPH_NAME, quantize=quantize or "none", opset=OPSET,
                        exported_by=f"emomon {meta['emomon.version']}", torch=meta["emomon.torch"], source=str(model))
    raw.setdefault("meta", {})["onnx"] = export.to_dict()
    atomic_write_text(out / CONFIG_NAME, json.dumps(raw, indent=2) + "\n")
    return out

"""The onnxruntime backend: a layer-head model without torch (``--backend onnx``).

:class:`OnnxModel` implements the :class:`~emomon.models.interface.Classifier` protocol, as
:class:`~emomon.models.base.EmotionModel` does (``labels``, ``sample_rate``, ``window``/``hop``,
``config``, ``input_needs``, ``predict_proba``, ``predict_proba_adapted``, ``adaptive``,
``new_adapter``, ``predict``), and ``features``/``classify_features``: waveforms ``(batch, samples)`` → numpy log-mel
(:mod:`emomon.features.mel_numpy`) → the exported backbone graph in onnxruntime
(:mod:`.onnx_graph`) → the chosen layers' mean and std ``(batch, F)`` → the head in numpy
(:mod:`.numpy_head`). Neither this module nor anything it imports imports torch; only the first
use of a model without an exported graph does (:func:`graph_path`; the cache is :mod:`.onnx_cache`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from ..errors import ModelError
from ..features.mel import FrontEnd
from ..features.mel_numpy import log_mel_np
from .adapt import SpeakerAdapter, SpeakerState
from .interface import ConfigClassifier
from .config import CONFIG_NAME, WEIGHTS_NAME, InputNeeds, ModelConfig, check_fits, frontend_min_samples, read_config
from .numpy_head import NumpyHead, softmax
from .onnx_cache import GRAPH_NAME, cached_graph, check_exportable, check_quantize, graph_quantize
from .onnx_graph import OnnxGraph
from .params import LayerHeadParams
from .shipped import resolve_model_dir

log = logging.getLogger(__name__)


class OnnxModel(ConfigClassifier):
    """A layer-head model run by onnxruntime (see the module doc); built by :func:`load_onnx_model`."""

    backend: ClassVar[str] = "onnx"

    def __init__(self, config: ModelConfig, head: NumpyHead, graph: OnnxGraph, where: str = CONFIG_NAME) -> None:
        self.config = config
        self.head = head
        self.graph = graph
        self.hp = config.typed_params(LayerHeadParams)
        self.layers = list(self.hp.layers)
        self.front = FrontEnd.from_dict(config.frontend or {})
        _check_parts(config, head, graph, self.layers, self.front, where)

    # -- the Classifier members of its own (the rest come from ConfigClassifier) -------------------
    @property
    def architecture(self) -> str:
        return self.config.architecture

    @property
    def input_needs(self) -> InputNeeds:
        """The front end's rate and the fewest samples its STFT takes (as the torch backbone's)."""
        return InputNeeds((self.front.sample_rate,), frontend_min_samples(self.front.to_dict()), f"the {self.hp.backbone} backbone")

    @property
    def adaptive(self) -> bool:
        return self.head.adaptive

    def new_adapter(self) -> SpeakerAdapter | None:
        return self.head.new_adapter()

    # -- inference -------------------------------------------------------------------------------
    def features(self, waveforms: np.ndarray) -> np.ndarray:
        """Pooled features ``(batch, 2 * hidden * len(layers))`` float32 of equal-length windows
        ``(batch, samples)``: each chosen layer's mean, then its std (the torch model's order)."""
        x = np.asarray(waveforms, dtype=np.float32)
        x = x[None, :] if x.ndim == 1 else x
        mean, std = self.graph.pooled(log_mel_np(x, self.front))  # (batch, states, hidden)
        parts = [p for i in self.layers for p in (mean[:, i], std[:, i])]
        return np.concatenate(parts, axis=-1)

    def classify_features(self, feats: np.ndarray, speaker: SpeakerState | tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Pooled features ``(batch, F)`` → logits ``(batch, labels)`` (see :class:`.numpy_head.NumpyHead`)."""
        return self.head.logits(feats, speaker)

    def predict_proba(self, waveforms: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities ``(batch, labels)`` float32 of equal-length ``(batch, samples)`` or a list of clips
        (clips of different lengths are encoded one by one, as the torch model does)."""
        if isinstance(waveforms, (list, tuple)):
            if len({len(w) for w in waveforms}) > 1:
                return np.concatenate([self.predict_proba(np.asarray(w)[None, :]) for w in waveforms])
            waveforms = np.stack([np.asarray(w, dtype=np.float32) for w in waveforms])
        return self.head.proba(self.features(np.asarray(waveforms)))

    def predict_proba_adapted(self, waveforms: np.ndarray, adapters: Sequence[SpeakerAdapter | None],
                              seconds: Sequence[float] | None = None) -> np.ndarray:
        """See :meth:`EmotionModel.predict_proba_adapted`: row ``i`` standardised with ``adapters[i]``'s
        statistics before it, which then learns it; the graph runs once for the batch."""
        if not self.adaptive or all(a is None for a in adapters):
            return self.predict_proba(waveforms)
        feats = self.features(np.asarray(waveforms))
        rows = []
        for i, adapter in enumerate(adapters):
            rows.append(softmax(self.head.logits(feats[i : i + 1], adapter.state() if adapter is not None else None)))
            if adapter is not None:
                adapter.update(feats[i].astype(np.float64), 0.0 if seconds is None else float(seconds[i]))
        return np.concatenate(rows).astype(np.float32)


def _check_parts(config: ModelConfig, head: NumpyHead, graph: OnnxGraph, layers: list[int], front: FrontEnd, where: str) -> None:
    """The config, the head and the graph describe one model (else a :class:`ModelError` saying which differs)."""
    if head.num_labels != len(config.labels):
        raise ModelError(where, f"labels: {len(config.labels)} given, but {WEIGHTS_NAME} has {head.num_labels} outputs")
    if not layers or min(layers) < 0 or max(layers) >= graph.states:
        raise ModelError(where, f"params.layers: {layers} are not all states of the ONNX graph (0 to {graph.states - 1})")
    if 2 * graph.hidden * len(layers) != head.num_features:
        raise ModelError(str(graph.path), f"the graph's {graph.hidden}-wide states do not fit the head's {head.num_features} features")
    if front.n_mels != graph.n_mels:
        raise ModelError(str(graph.path), f"the graph takes {graph.n_mels} mels, the config's front end gives {front.n_mels}")


def graph_path(directory: Path, config: ModelConfig, quantize: str | None = None, name: str = "") -> Path:
    """The ONNX graph for the model in ``directory``: its own ``model.onnx`` (when ``quantize`` is
    ``None`` or what that graph records), else the cached one, exported on first use (one log
    line; needs torch). ``name``: the model as the user gave it, for that line."""
    own = directory / GRAPH_NAME
    if own.is_file() and (quantize is None or graph_quantize(config) == quantize):
        return own
    path = cached_graph(config, quantize)
    if path.is_file():
        return path
    check_exportable(config, str(directory / "config.json"))
    log.warning("model %s has no ONNX graph yet: exporting it once%s into %s (this takes a minute and needs torch)",
                name or directory, f" ({quantize})" if quantize else "", path.parent)
    try:
        from .export import write_graph
    except ImportError as exc:
        raise ModelError(str(name or directory), f"no {GRAPH_NAME} and no torch to export one ({exc.name} is not installed): "
                                                 "run `emomon export` where torch is, and give --model its --out") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_graph(config, path, quantize)
    (path.parent / "key.json").write_text(json.dumps({"model": str(name or directory), "quantize": quantize or "none"}) + "\n")
    return path


def load_onnx_model(name_or_path: str | Path = "default", compute: str = "auto", quantize: str | None = None,
                    threads: int | None = None) -> OnnxModel:
    """A shipped model or model directory on onnxruntime (see :mod:`.onnx_cache` for where its
    graph comes from; ``quantize="int8"``: an int8 graph). Unsupported architectures, missing
    onnxruntime and mismatched files are :class:`ModelError`\\ s naming the file."""
    directory = resolve_model_dir(name_or_path)
    config = read_config(directory)
    where = str(directory / CONFIG_NAME)
    try:
        check_exportable(config, where)
    except ModelError as exc:
        raise ModelError(exc.what, exc.why.replace("has no ONNX export", "cannot run on onnxruntime") + "; use --backend torch") from None
    check_quantize(quantize)
    if config.frontend is None:
        raise ModelError(where, "frontend: the onnx backend needs the model's mel front end")
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise ModelError(str(directory), f"no {WEIGHTS_NAME}")
    head = NumpyHead.load(config.typed_params(LayerHeadParams), weights)
    graph = OnnxGraph(graph_path(directory, config, quantize, name=str(name_or_path)), compute, threads)
    model = OnnxModel(config, head, graph, where)
    check_fits(config, where, model.input_needs)
    log.debug("onnx model %s: graph %s (%s), providers %s", name_or_path, graph.path, graph.quantize or "fp32", graph.providers)
    return model

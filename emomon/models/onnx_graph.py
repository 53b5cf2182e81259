"""An exported backbone graph in onnxruntime: log-mel frames → pooled hidden states (no torch).

:class:`OnnxGraph` runs the graph :mod:`.export` writes (``mel (batch, frames, mels)`` →
``mean``/``std`` ``(batch, states, hidden)``) on inputs of any length: the frames are trimmed to
an even number as the torch backbone does, and an input longer than the encoder's 30 s is run in
30 s chunks whose statistics are combined exactly (the pooled mean and variance of the
concatenated states, which is what torch pools).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import DeviceError, ModelError
from .onnx_cache import GRAPH_FORMAT

log = logging.getLogger(__name__)


def providers_for(compute: str) -> list[str]:
    """onnxruntime execution providers for ``compute`` (``auto``: CUDA when onnxruntime has it, else CPU)."""
    import onnxruntime as ort

    have = ort.get_available_providers()
    cuda = "CUDAExecutionProvider" in have
    if str(compute).startswith("cuda"):
        if not cuda:
            raise DeviceError(str(compute), "onnxruntime has no CUDA provider here (install onnxruntime-gpu, or use --compute cpu)")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if compute not in ("auto", "cpu"):
        raise DeviceError(str(compute), "unknown compute device (auto, cpu, cuda)")
    return ["CUDAExecutionProvider", "CPUExecutionProvider"] if compute == "auto" and cuda else ["CPUExecutionProvider"]


def combine_chunks(counts: list[int], means: list[np.ndarray], stds: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std over the union of chunks of ``counts[i]`` time steps each, from
    each chunk's ``means[i]``/``stds[i]`` (same shapes): Chan et al.'s pairwise combination."""
    if len(counts) == 1:
        return means[0], stds[0]
    n = np.asarray(counts, dtype=np.float64)
    m = np.stack([x.astype(np.float64) for x in means])  # (chunks, ...)
    v = np.stack([x.astype(np.float64) ** 2 for x in stds])
    shape = (-1,) + (1,) * (m.ndim - 1)
    mean = (n.reshape(shape) * m).sum(axis=0) / n.sum()
    m2 = (n.reshape(shape) * (v + (m - mean) ** 2)).sum(axis=0)
    return mean.astype(np.float32), np.sqrt(m2 / n.sum()).astype(np.float32)


class OnnxGraph:
    """An onnxruntime session over an exported graph, its metadata checked.

    ``states``, ``hidden``, ``n_mels``, ``max_frames``: the graph's sizes; ``quantize``:
    ``"int8"`` or ``None``.
    """

    def __init__(self, path: str | Path, compute: str = "auto", threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError("backend=onnx", "onnxruntime is not installed (pip install onnxruntime)") from None
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # errors only
        # no CPU memory arena: the arena keeps the largest block each input shape asked for, and
        # emomon file feeds many shapes (batches of windows of every length): 601-1073 MB peak
        # over 240 RAVDESS clips with it, 435-445 MB without, at the same speed
        opts.enable_cpu_mem_arena = False
        if threads:
            opts.intra_op_num_threads = int(threads)
        self.path = Path(path)
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers_for(compute))
        except DeviceError:
            raise
        except Exception as exc:  # noqa: BLE001 - a truncated or foreign file
            raise ModelError(str(path), f"cannot load the ONNX graph ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        self._read_metadata(self.session.get_modelmeta().custom_metadata_map)

    def _read_metadata(self, meta: dict[str, str]) -> None:
        """The sizes the graph was exported with; a :class:`ModelError` for a graph emomon did not write."""
        try:
            fmt = int(meta["emomon.format"])
            self.states, self.hidden = int(meta["emomon.states"]), int(meta["emomon.hidden"])
            self.n_mels, self.max_frames = int(meta["emomon.n_mels"]), int(meta["emomon.max_frames"])
        except (KeyError, ValueError):
            raise ModelError(str(self.path), "not an ONNX graph emomon exported (no emomon metadata): run emomon export again") from None
        if fmt != GRAPH_FORMAT:
            raise ModelError(str(self.path), f"exported in graph format {fmt}; this emomon reads format {GRAPH_FORMAT}: run emomon export again")
        self.backbone = meta.get("emomon.backbone", "?")
        self.quantize = None if meta.get("emomon.quantize", "none") == "none" else meta["emomon.quantize"]

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def pooled(self, mel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``mel (batch, frames, mels)`` → ``mean``, ``std`` ``(batch, states, hidden)`` float32 over
        the whole input (chunks of ``max_frames`` combined)."""
        frames = mel.shape[1] - (mel.shape[1] % 2)
        mel = np.ascontiguousarray(mel[:, : max(frames, 2)], dtype=np.float32)
        counts, means, stds = [], [], []
        for i in range(0, mel.shape[1], self.max_frames):
            chunk = mel[:, i : i + self.max_frames]
            mean, std = self.session.run(None, {"mel": chunk})
            counts.append((chunk.shape[1] + 1) // 2)  # the stride-2 convolution's output steps
            means.append(mean)
            stds.append(std)
        return combine_chunks(counts, means, stds)

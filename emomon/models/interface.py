"""What every emomon classifier offers, torch or not: the :class:`Classifier` protocol (no torch).

Both backends implement it: :class:`~emomon.models.base.EmotionModel` (a ``torch.nn.Module``) and
:class:`~emomon.models.onnx_model.OnnxModel` (onnxruntime and numpy). The stream (monitor,
inference worker, API) and the file analysis (:mod:`emomon.timeline`) take a ``Classifier``, so they
run either without knowing which. Waveforms are mono float32 at :attr:`Classifier.sample_rate`;
probabilities are float ``(batch, labels)``, in the order of :attr:`Classifier.labels`.

:class:`ConfigClassifier` is what the two share, written once: the members read from the config
(``labels``, ``sample_rate``, ``window``, ``hop``) and the whole-clip :meth:`~ConfigClassifier.predict`
on top of ``predict_proba``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence, overload, runtime_checkable

import numpy as np

from ..audio import AudioSource, decode_audio
from ..errors import AudioError
from ..records import Prediction

if TYPE_CHECKING:
    from .adapt import SpeakerAdapter
    from .config import InputNeeds, ModelConfig


@runtime_checkable
class Classifier(Protocol):
    """A trained emotion classifier of either backend (see the module docstring)."""

    config: "ModelConfig"  # its config.json: architecture, labels, params (typed: config.hparams), meta (config.card)

    @property
    def architecture(self) -> str:
        """The architecture's registry name (``layer-head``, ...)."""
        ...

    @property
    def labels(self) -> list[str]:
        """The classes, in the order of the probabilities' columns."""
        ...

    @property
    def sample_rate(self) -> int:
        """The rate (Hz) its waveforms must have."""
        ...

    @property
    def window(self) -> float:
        """The stream window it was made for (seconds; a stream's ``--window`` may differ)."""
        ...

    @property
    def hop(self) -> float:
        """The stream hop it was made for (seconds)."""
        ...

    @property
    def input_needs(self) -> "InputNeeds":
        """The sample rates it runs at and the fewest samples it takes per input."""
        ...

    @property
    def adaptive(self) -> bool:
        """Whether it adapts to its speaker (:meth:`new_adapter` then gives an adapter)."""
        ...

    def new_adapter(self) -> "SpeakerAdapter | None":
        """A fresh speaker adapter for one session (``None``: not adaptive)."""
        ...

    def predict_proba(self, waveforms: Any) -> np.ndarray:
        """Probabilities ``(batch, labels)`` of equal-length windows ``(batch, samples)`` or a list of clips."""
        ...

    def predict_proba_adapted(self, waveforms: Any, adapters: Sequence["SpeakerAdapter | None"],
                              seconds: Sequence[float] | None = None) -> np.ndarray:
        """As :meth:`predict_proba`, row ``i`` standardised with ``adapters[i]``, which then learns it."""
        ...

    def predict(self, source: Any, sample_rate: int | None = None) -> Any:
        """A whole-clip :class:`~emomon.records.Prediction` of a path, bytes or samples (a list: one each)."""
        ...


class ConfigClassifier:
    """The :class:`Classifier` members both backends share (a mixin of
    :class:`~emomon.models.base.EmotionModel` and :class:`~emomon.models.onnx_model.OnnxModel`):
    those read from ``self.config`` and :meth:`predict`, which needs only ``predict_proba``."""

    config: "ModelConfig"

    @property
    def labels(self) -> list[str]:
        return list(self.config.labels)

    @property
    def sample_rate(self) -> int:
        return int(self.config.sample_rate)

    @property
    def window(self) -> float:
        """The stream window (seconds) it was made for (``config.window``)."""
        return float(self.config.window)

    @property
    def hop(self) -> float:
        """The stream hop (seconds) it was made for (``config.hop``)."""
        return float(self.config.hop)

    def predict_proba(self, waveforms: Any) -> np.ndarray:  # pragma: no cover - each backend's own
        raise NotImplementedError

    @overload
    def predict(self, source: AudioSource, sample_rate: int | None = None) -> Prediction: ...

    @overload
    def predict(self, source: list[AudioSource] | tuple[AudioSource, ...], sample_rate: int | None = None) -> list[Prediction]: ...

    def predict(self, source, sample_rate=None):  # noqa: ANN001, ANN201 - typed by the overloads
        """Whole-clip prediction for a path, encoded bytes, or a sample array with its ``sample_rate``.

        A list (or tuple) of such sources gives a list of predictions, in order. Audio is decoded
        at the model's rate; for long recordings use :func:`emomon.analyze_file`, which
        classifies the speech segment by segment.
        """
        if isinstance(source, (list, tuple)):
            if any(isinstance(s, (int, float)) for s in source):
                raise AudioError("audio", "a list of numbers is not a list of sources (pass a numpy array and its sample_rate)")
            return [self.predict(s, sample_rate) for s in source]
        samples = decode_audio(source, self.sample_rate, sample_rate)
        name = str(source) if isinstance(source, (str, Path)) else None
        if len(samples) == 0:
            raise AudioError(name or "audio", "no samples")
        probs = self.predict_proba(samples[None, :])[0]
        scores = {lab: float(p) for lab, p in zip(self.labels, probs)}
        return Prediction(label=self.labels[int(np.argmax(probs))], scores=scores, start=0.0,
                          end=len(samples) / self.sample_rate, path=name)

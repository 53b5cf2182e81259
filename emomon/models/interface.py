"""What every emomon classifier offers, torch or not: the :class:`Classifier` protocol (no torch).

Both backends implement it: :class:`~emomon.models.base.EmotionModel` (a ``torch.nn.Module``) and
:class:`~emomon.models.onnx_model.OnnxModel` (onnxruntime and numpy). The stream (monitor,
inference worker, API) and the file analysis (:mod:`emomon.timeline`) take a ``Classifier``, so they
run either without knowing which. Waveforms are mono float32 at :attr:`Classifier.sample_rate`;
probabilities are float ``(batch, labels)``, in the order of :attr:`Classifier.labels`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

import numpy as np

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

"""The torch side of the model interface (the :class:`~emomon.models.interface.Classifier` protocol).

An :class:`EmotionModel` is a ``torch.nn.Module`` that maps raw waveforms ``(batch, samples)``
at ``config.sample_rate`` to logits ``(batch, labels)``; it computes its own front end (mel
frames, pooled features...) inside ``forward`` so that the streaming worker can batch windows
through any model. Weights live in ``model.safetensors`` beside a ``config.json``; nothing is
ever unpickled.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Sequence

import numpy as np
import torch

from ..errors import ModelError
from .config import CONFIG_NAME, WEIGHTS_NAME, InputNeeds, ModelConfig, frontend_min_samples, read_config  # noqa: F401 - re-exported
from .interface import ConfigClassifier

if TYPE_CHECKING:
    from .adapt import SpeakerAdapter

log = logging.getLogger(__name__)


class EmotionModel(torch.nn.Module, ConfigClassifier):
    """Base class: waveforms ``(batch, samples)`` → logits ``(batch, labels)``; the
    :class:`~.interface.Classifier` members read from the config and ``predict`` come from
    :class:`~.interface.ConfigClassifier`.

    Subclasses set ``architecture`` (their registry name), build their layers from
    ``config.params`` in ``__init__`` and implement :meth:`forward`. Parameters whose names start
    with one of ``frozen_prefixes`` (e.g. a pretrained backbone) are not written to the weights
    file; the subclass must restore them itself when it is built.
    """

    architecture: ClassVar[str] = ""
    frozen_prefixes: ClassVar[tuple[str, ...]] = ()
    # weights with one entry per label along an axis (name -> axis): checked against config.labels
    label_outputs: ClassVar[dict[str, int]] = {}

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.precision = "fp32"

    def set_precision(self, precision: str = "auto") -> str:
        """Run the backbone in ``precision`` (``auto``, ``fp32``, ``bf16``: :mod:`.precision`) on
        the model's device; returns what ``auto`` resolved to. Models without a backbone that
        autocasts (see :meth:`uses_precision`) stay fp32."""
        from .precision import resolve_precision

        resolved = resolve_precision(precision, self.device)
        self.precision = resolved if self.uses_precision else "fp32"
        return self.precision

    @property
    def uses_precision(self) -> bool:
        """Whether :meth:`set_precision` can change how this model computes (default: no)."""
        return False

    # -- inference ---------------------------------------------------------------------------
    @property
    def input_needs(self) -> InputNeeds:
        """The sample rates this model runs at and the fewest samples it takes per input.

        Default: those of ``config.frontend`` (its rate; what its STFT needs), any rate and one
        sample without a front end. Architectures with a backbone or a fixed input override it.
        """
        fe = self.config.frontend
        if fe:
            return InputNeeds((int(fe["sample_rate"]),), frontend_min_samples(fe), "the front end")
        return InputNeeds(None, 1, f"the {self.architecture} model")

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:  # pragma: no cover
        """``waveforms (batch, samples)``, optional valid ``lengths (batch,)`` → logits ``(batch, labels)``."""
        raise NotImplementedError

    def predict_proba(self, waveforms: torch.Tensor | np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities ``(batch, labels)`` for equal-length ``(batch, samples)`` or a list of clips.

        A list of clips of different lengths is right-padded with zeros and ``lengths`` passed on.
        """
        if isinstance(waveforms, (list, tuple)):
            lens = [len(w) for w in waveforms]
            batch = np.zeros((len(waveforms), max(lens) if lens else 0), dtype=np.float32)
            for i, w in enumerate(waveforms):
                batch[i, : len(w)] = w
            x = torch.from_numpy(batch)
            lengths: torch.Tensor | None = torch.tensor(lens) if len(set(lens)) > 1 else None
        else:
            x = torch.as_tensor(waveforms, dtype=torch.float32)
            if x.dim() == 1:
                x = x.unsqueeze(0)
            lengths = None
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                dev = self.device
                logits = self(x.to(dev), None if lengths is None else lengths.to(dev))
                probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        finally:
            self.train(was_training)
        return probs

    # -- speaker adaptation (models trained with speaker standardisation) ---------------------
    @property
    def adaptive(self) -> bool:
        """Whether this model can adapt to its speaker (:meth:`new_adapter` gives an adapter)."""
        return False

    def new_adapter(self) -> "SpeakerAdapter | None":
        """A fresh :class:`~emomon.models.adapt.SpeakerAdapter` for one session (``None``: not adaptive)."""
        return None

    def predict_proba_adapted(
        self, waveforms: torch.Tensor | np.ndarray, adapters: Sequence["SpeakerAdapter | None"], seconds: Sequence[float] | None = None
    ) -> np.ndarray:
        """Probabilities ``(batch, labels)`` of equal-length windows ``(batch, samples)``, row ``i``
        standardised with ``adapters[i]``'s statistics *before* it, which then learns row ``i``
        (``seconds[i]`` of speech). Rows sharing an adapter are taken in order. A model that does
        not adapt ignores ``adapters``."""
        return self.predict_proba(waveforms)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # -- persistence -------------------------------------------------------------------------
    def persistent_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors written to ``model.safetensors`` (all but ``frozen_prefixes``)."""
        return {
            k: v.detach().cpu().contiguous()
            for k, v in self.state_dict().items()
            if not any(k.startswith(p) for p in self.frozen_prefixes)
        }

    def save(self, directory: str | Path, overwrite: bool = False) -> Path:
        """Write ``model.safetensors`` and then ``config.json`` into ``directory``.

        Each file is written atomically (:mod:`emomon.atomic`: a temporary file in ``directory``,
        renamed over the target) with the usual permissions (``0644`` under umask ``022``), so an
        interrupted save leaves no half-written file. Refuses to replace an existing model
        unless ``overwrite`` is true.
        """
        from safetensors.torch import save_file

        from ..atomic import atomic_path, atomic_write_text

        directory = Path(directory)
        if not overwrite and ((directory / CONFIG_NAME).exists() or (directory / WEIGHTS_NAME).exists()):
            raise ModelError(str(directory), "already holds a model (refusing to overwrite)")
        directory.mkdir(parents=True, exist_ok=True)
        state = self.persistent_state_dict()
        # safetensors refuses shared storage: give every tensor its own.
        state = {k: v.clone() for k, v in state.items()}
        with atomic_path(directory / WEIGHTS_NAME) as tmp:
            save_file(state, str(tmp), metadata={"architecture": self.architecture})
        atomic_write_text(directory / CONFIG_NAME, json.dumps(self.config.to_dict(), indent=2) + "\n")
        return directory

    def load_weights(self, path: str | Path, config_path: str | Path | None = None) -> None:
        """Load ``model.safetensors`` (strict, except for ``frozen_prefixes``).

        Tensors are checked against the model built from the config first: a number of labels
        that is not the weights' number of outputs is a :class:`ModelError` naming
        ``config_path`` (the config.json the labels came from) and ``labels``.
        """
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except Exception as exc:  # noqa: BLE001
            raise ModelError(str(path), f"cannot read weights ({exc})") from None
        self._check_label_outputs(state, Path(path).name, str(config_path) if config_path is not None else f"{self.architecture} config")
        self._check_shapes(state, str(path))
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [k for k in missing if not any(k.startswith(p) for p in self.frozen_prefixes)]
        if missing or unexpected:
            raise ModelError(str(path), f"weights do not fit {self.architecture} (missing {missing[:3]}, unexpected {unexpected[:3]})")

    def _check_label_outputs(self, state: dict[str, torch.Tensor], weights_name: str, where: str) -> None:
        """Each of ``label_outputs`` in ``state`` has one entry per label along its axis."""
        n = len(self.config.labels)
        for key, axis in self.label_outputs.items():
            t = state.get(key)
            if t is not None and t.dim() > axis and t.shape[axis] != n:
                raise ModelError(where, f"labels: {n} given, but {weights_name} has {t.shape[axis]} outputs "
                                        f"({key} {tuple(t.shape)})")

    def _check_shapes(self, state: dict[str, torch.Tensor], path: str) -> None:
        """Every tensor in ``state`` has the shape the config gives it (no torch size-mismatch error)."""
        own = self.state_dict()
        for key, t in state.items():
            if key in own and tuple(own[key].shape) != tuple(t.shape):
                raise ModelError(path, f"weights do not fit the {self.architecture} its config describes "
                                       f"({key} is {tuple(t.shape)} in the weights, {tuple(own[key].shape)} by the config)")

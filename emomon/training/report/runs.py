"""What the report compares: a typed :class:`Run`, whichever source its figures come from.

A run is an ``emomon train`` output folder (its ``metrics.json``, read into
:class:`~emomon.training.results.RunResults` and kept in :attr:`Run.results`) or a trained model
(a shipped model or a model directory), whose ``config.json`` records summary figures only: what it
does not carry (per-class recall, confusion matrix, per-fold rows, costs) is ``None``. The readers
are in :mod:`.loading`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from ..results import Figures, FoldResult, NoiseFigures, OnlineAdaptive, RunResults, Score
from .formatting import evaluation_label

METRICS = "metrics.json"
MODEL_CONFIG = "config.json"  # a model directory's files (emomon.models.base.CONFIG_NAME / WEIGHTS_NAME)
MODEL_WEIGHTS = "model.safetensors"
REQUIRED_KEYS = ("model", "protocol", "ua", "wa", "f1")  # what makes a JSON file an `emomon train` metrics.json
PAIRS = "pairs"  # the cross-corpus protocol: fold ids "<train corpus>_to_<test corpus>"


class Source(str, Enum):
    """Where a run's figures come from."""

    RUN = "run folder"  # an `emomon train` output folder's metrics.json
    SHIPPED = "shipped model"  # the meta of a model shipped inside the package
    MODEL_DIR = "model directory"  # the meta of a model directory's config.json


@dataclass(frozen=True)
class Costs:
    """Size and speed of a run's model (unknown for a model read from its config.json)."""

    num_parameters: int | None = None
    train_seconds: float | None = None
    cpu_ms_per_clip: float | None = None
    cpu_ms_per_window: float | None = None


@dataclass(frozen=True)
class Provenance:
    """Where a run's figures and model come from."""

    source: Source
    data: str | None = None
    created: str | None = None
    emomon_version: str | None = None
    final_model: str | None = None
    command: str | None = None
    license: str | None = None
    description: str | None = None
    architecture: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """One compared run, as the report shows it: an ``emomon train`` output folder (built from its
    :class:`RunResults`, kept in ``results``) or a trained model's recorded figures (``results`` is
    ``None``).

    ``per_class_recall``, ``folds`` and ``confusion`` are ``None`` when the source cannot carry
    them (a model's ``config.json``), and empty when a ``metrics.json`` left them out.
    """

    name: str
    path: Path
    model: str
    protocol: str | None
    speaker_independent: bool | None
    mode: str | None
    labels: tuple[str, ...]
    n_utterances: int | None
    n_folds: int | None
    ua: Score | None
    wa: Score | None
    f1: Score | None
    provenance: Provenance
    protocol_detail: str | None = None
    streamed_ua: Score | None = None
    file_ua: Score | None = None
    file_unanswered: int | None = None
    ece: Score | None = None
    ece_pooled: float | None = None
    ece_floor: float | None = None
    costs: Costs = Costs()
    results: RunResults | None = None

    @property
    def evaluation(self) -> str:
        """The protocol's evaluation spelled out (:func:`~.formatting.evaluation_label`)."""
        return evaluation_label(self.speaker_independent, self.mode)

    @property
    def is_model(self) -> bool:
        """True when the figures come from a model's ``config.json`` rather than a ``metrics.json``."""
        return self.provenance.source is not Source.RUN

    @property
    def per_class_recall(self) -> Mapping[str, Score] | None:
        """Recall per label, mean ± std over the folds; ``None`` for a model."""
        return None if self.results is None else self.results.per_class_recall

    @property
    def folds(self) -> tuple[FoldResult, ...] | None:
        """The per-fold figures; ``None`` for a model."""
        return None if self.results is None else tuple(self.results.folds)

    @property
    def confusion(self) -> list[list[int]] | None:
        """The summed confusion matrix, ``(labels, labels)`` (rows true, columns predicted); ``None``
        when not recorded (or recorded empty)."""
        if self.results is None or not self.results.confusion:
            return None
        return self.results.confusion

    @property
    def noise(self) -> tuple[NoiseFigures, ...]:
        """The figures on noisy copies of the test clips, one per noise kind and SNR; empty when not measured."""
        return () if self.results is None else tuple(self.results.noise)

    @property
    def corpora(self) -> Mapping[str, Figures]:
        """Figures per test corpus; empty when not recorded (a model, or a metrics.json written before them)."""
        return {} if self.results is None else self.results.corpora

    @property
    def online(self) -> OnlineAdaptive | None:
        """The online-adaptive curve (a labelled mode), when the run measured at least one point of it."""
        oa = None if self.results is None else self.results.online_adaptive
        return oa if oa is not None and oa.points else None

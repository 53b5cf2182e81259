"""The Ray Data stateful predictor: the model loaded once per actor, ``emomon file``'s analysis per file.

Ray Data constructs :class:`FilePredictor` once in each actor of the pool (``map_batches`` with
an :class:`~ray.data.ActorPoolStrategy`) and calls it on batches of input rows. Each row is one
file: ``shard`` and ``pos`` (where its result goes), ``path``, and ``error`` when the file was
known to name nothing before the job ran. Each file goes through
:func:`~emomon.timeline.batched.analyze_batched` — the very analysis of ``emomon file``, a
failure becoming a result with ``error`` — and the batch comes back as a Parquet-schema table
(:func:`~emomon.batch.parquet.to_table`) with ``shard`` and ``pos`` in front. Nothing here
imports Ray: the class is plain Python that Ray instantiates remotely.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .. import defaults
from ..errors import ModelError
from ..models.backend import DEFAULT_BACKEND
from ..records import FileResult

if TYPE_CHECKING:
    import pyarrow as pa

    from ..models.base import EmotionModel
    from ..timeline.analyze import FileOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelChoice:
    """Which model a job runs and how, as ``emomon file``'s ``--model``, ``--compute``,
    ``--precision`` and ``--backend`` say (:func:`~emomon.models.open.open_model`).

    ``model``: a shipped name, a model directory (on every node), or a loaded model (shipped to
    the actors by Ray).
    """

    model: "str | Path | EmotionModel" = "default"
    compute: str = "auto"
    precision: str = defaults.PRECISION
    backend: str = DEFAULT_BACKEND

    def open(self, compute: str | None = None) -> "EmotionModel":
        """The model, loaded (on ``compute`` when given, else on :attr:`compute`)."""
        from ..models.open import open_model

        return open_model(self.model, compute or self.compute, self.precision, self.backend)


class FilePredictor:
    """Analyses batches of files with one model, loaded when the actor starts.

    ``labels``: the labels the job's schema was made for (the model's must be the same).
    """

    def __init__(self, choice: ModelChoice, options: "FileOptions", labels: Sequence[str]) -> None:
        started = time.perf_counter()
        self.model = choice.open()
        if list(self.model.labels) != list(labels):
            raise ModelError(str(choice.model), f"labels {self.model.labels} on this node, {list(labels)} where the job "
                                                "started (another version of the model?)")
        self.options = options
        self.labels = list(labels)
        log.info("model %s loaded in %.1f s", choice.model, time.perf_counter() - started)

    def analyze(self, path: str, error: str | None) -> FileResult:
        """One file's result (``error``: known not to be a file to analyse)."""
        from ..timeline.analyze import analyze_or_error

        if error is not None:
            return FileResult(path=path, duration=None, speech=0.0, label=None, scores=None, error=error)
        return analyze_or_error(path, self.model, self.options)

    def __call__(self, batch: "pa.Table | Mapping[str, Any]") -> "pa.Table":
        """A batch of input rows → their results, ``shard`` and ``pos`` kept."""
        from .parquet import to_table

        from ..timeline.batched import analyze_batched

        rows = batch.to_pydict() if hasattr(batch, "to_pydict") else {k: list(v) for k, v in batch.items()}
        paths, errors = [str(p) for p in rows["path"]], rows["error"]
        # the files' windows share forward passes (as in emomon file); no extra thread: Ray counts the actor's CPUs
        scored = analyze_batched([p for p, e in zip(paths, errors) if e is None], self.model, self.options, workers=0)
        results = [next(scored) if e is None else self.analyze(p, e) for p, e in zip(paths, errors)]
        table = to_table(results, self.labels)
        table = table.add_column(0, "pos", _int_column(rows["pos"]))
        return table.add_column(0, "shard", _int_column(rows["shard"]))


def _int_column(values: Sequence[Any]) -> "pa.Array":
    import pyarrow as pa

    return pa.array([int(v) for v in values], type=pa.int64())

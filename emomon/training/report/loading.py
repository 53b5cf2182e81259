"""Reading runs: an ``emomon train`` output folder's ``metrics.json`` (through
:meth:`~emomon.training.results.RunResults.from_dict`, the one typed reading of the metrics
contract), a trained model's ``config.json`` meta (a model directory or a shipped model's name),
and :func:`load_run` / :func:`load_runs`, which tell them apart. Each becomes a :class:`~.runs.Run`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ...errors import DataError
from ..results import RunResults, Score
from .runs import METRICS, MODEL_CONFIG, MODEL_WEIGHTS, REQUIRED_KEYS, Costs, Provenance, Run, Source

if TYPE_CHECKING:  # torch-free at import time: the model modules are imported inside functions
    from ...models import ModelConfig
    from ...models.card import Figure

log = logging.getLogger(__name__)


def _measured(s: Score | None) -> Score | None:
    """``s`` when it holds a mean; ``None`` for a figure that was not measured (``Score(None)``)."""
    return s if s is not None and s.mean is not None else None


# ----------------------------------------------------------------------------------------------
# metrics.json, through RunResults
# ----------------------------------------------------------------------------------------------
def run_from_results(name: str, folder: Path, res: RunResults) -> Run:
    """The report's view of an ``emomon train`` run's :class:`RunResults`."""
    streamed, file = res.streamed, res.file
    return Run(
        name=name, path=folder, model=res.model, protocol=res.protocol, speaker_independent=res.speaker_independent,
        mode=res.mode, labels=tuple(res.labels), n_utterances=res.n_utterances, n_folds=len(res.folds) or None,
        ua=_measured(res.ua), wa=_measured(res.wa), f1=_measured(res.f1), ece=_measured(res.ece),
        ece_pooled=res.ece_pooled, ece_floor=res.ece_floor,
        streamed_ua=_measured(streamed.ua) if streamed else None, file_ua=_measured(file.ua) if file else None,
        file_unanswered=file.unanswered if file else None,
        costs=Costs(num_parameters=res.num_parameters, train_seconds=res.train_seconds,
                    cpu_ms_per_clip=res.cpu_ms_per_clip, cpu_ms_per_window=res.cpu_ms_per_window),
        provenance=Provenance(source=Source.RUN, data=res.data or None, created=res.created, emomon_version=res.emomon_version,
                              final_model=res.final_model, settings=dict(res.extra)),
        results=res,
    )


def read_results(mpath: Path) -> RunResults:
    """The :class:`RunResults` of the ``metrics.json`` at ``mpath``; :class:`DataError` when it is not one."""
    try:
        metrics = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(str(mpath), f"cannot read ({exc})") from None
    if not isinstance(metrics, dict):
        raise DataError(str(mpath), "not a metrics object")
    missing = [k for k in REQUIRED_KEYS if k not in metrics]
    if missing:
        raise DataError(str(mpath), f"missing {', '.join(missing)} (not an `emomon train` metrics.json)")
    try:
        return RunResults.from_dict(metrics, str(mpath))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:  # a value of the wrong shape
        raise DataError(str(mpath), f"malformed metrics ({type(exc).__name__}: {exc})") from None


def load_metrics_run(mpath: Path, name: str | None = None) -> Run:
    """The run whose ``metrics.json`` is ``mpath``."""
    res = read_results(mpath)
    folder = mpath.parent
    log.debug("report: %s: %s / %s, %d folds, %d test corpora, online-adaptive %s", mpath, res.model, res.protocol,
              len(res.folds), len(res.corpora), "yes" if res.online_adaptive else "no")
    return run_from_results(name or folder.name or res.model, folder, res)


# ----------------------------------------------------------------------------------------------
# a trained model's config.json meta, through its ModelCard
# ----------------------------------------------------------------------------------------------
def _score(f: Figure | None) -> Score | None:
    """A card's figure as the report's :class:`Score` (``None``: not given)."""
    return None if f is None else Score(f.mean, f.std)


def run_from_model_config(name: str, directory: Path, config: ModelConfig, source: Source) -> Run:
    """The :class:`Run` a trained model's ``config.json`` describes, from its card
    (:attr:`~emomon.models.config.ModelConfig.card`, the one typed reading of a model's ``meta``;
    ``metrics.json`` is read by :func:`read_results`): protocol, folds, speaker independence,
    mode, UA/WA/F1/ECE, the streamed and file UA, clips, training data, command, licence and
    description. Final models are trained in strict mode only, hence ``strict`` when the meta
    names a protocol but no mode (:mod:`emomon.models.card`).
    """
    card = config.card
    meta = config.meta or {}
    detail = card.protocol_detail
    settings = {"params": config.params, **{k: meta[k] for k in ("head", "temperature") if k in meta}}
    return Run(
        name=name, path=directory, model=card.recipe or card.name or config.architecture,
        protocol=card.protocol, protocol_detail=detail if detail != card.protocol else None,
        speaker_independent=card.speaker_independent, mode=card.mode, labels=tuple(config.labels),
        n_utterances=card.n_utterances, n_folds=card.folds,
        ua=_score(card.ua), wa=_score(card.wa), f1=_score(card.f1), streamed_ua=_score(card.streamed_ua), ece=_score(card.ece),
        file_ua=_score(card.file_ua), file_unanswered=card.file_unanswered,
        provenance=Provenance(source=source, data=card.trained_on, command=card.command, license=card.licence,
                              description=card.description, architecture=config.architecture, settings=settings),
    )


def load_model_run(directory: Path, name: str | None = None, source: Source = Source.MODEL_DIR) -> Run:
    """The run a model directory (``config.json`` + ``model.safetensors``) describes."""
    from ...models import read_config

    if not (directory / MODEL_WEIGHTS).is_file():
        raise DataError(str(directory), f"{MODEL_CONFIG} but no {MODEL_WEIGHTS} (not a model directory)")
    return run_from_model_config(name or directory.name, directory, read_config(directory), source)


def _shipped_model_dir(name: str) -> Path | None:
    """The directory of the shipped model ``name``, or ``None`` when no shipped model has that name."""
    from ...models import resolve_model_dir, shipped_models

    return resolve_model_dir(name) if name in shipped_models() else None


def _shipped_names() -> str:
    """The shipped models' names, comma-separated (``"none"`` when there is none)."""
    from ...models import shipped_models

    return ", ".join(shipped_models()) or "none"


# ----------------------------------------------------------------------------------------------
# any of them
# ----------------------------------------------------------------------------------------------
def load_run(path: str | Path, name: str | None = None) -> Run:
    """The run ``path`` names: an ``emomon train`` output folder or its ``metrics.json``, a model
    directory or its ``config.json``/weights, or a shipped model's name (an existing path wins)."""
    p = Path(path).expanduser()
    if p.is_file():
        return load_model_run(p.parent, name) if p.name in (MODEL_CONFIG, MODEL_WEIGHTS) else load_metrics_run(p, name)
    if p.is_dir():
        if (p / METRICS).is_file():
            return load_metrics_run(p / METRICS, name)
        if (p / MODEL_CONFIG).is_file():
            return load_model_run(p, name)
        raise DataError(str(p), f"no {METRICS} here and no {MODEL_CONFIG} "
                                "(neither an `emomon train` output folder nor a model directory)")
    shipped = _shipped_model_dir(str(path))
    if shipped is not None:
        return load_model_run(shipped, name or str(path), Source.SHIPPED)
    raise DataError(str(path), "no such run folder, metrics.json, model directory or shipped model "
                               f"(shipped models: {_shipped_names()})")


def load_runs(paths: Sequence[str | Path]) -> list[Run]:
    """:func:`load_run` for each path; duplicate names get the model name / a number added."""
    if not paths:
        raise DataError("report", "give at least one run folder or model")
    return _unique_names([load_run(p) for p in paths])


def _unique_names(runs: Sequence[Run]) -> list[Run]:
    """``runs`` renamed so that no two share a name: ``"name (model)"`` for a shared name, then ``" #2"``, ``" #3"``."""
    seen: dict[str, int] = {}
    out = []
    for r in runs:
        name = r.name
        if sum(x.name == name for x in runs) > 1:
            name = f"{name} ({r.model})"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} #{seen[name]}"
        out.append(replace(r, name=name))
    return out

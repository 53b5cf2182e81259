"""Reading runs: an ``emomon train`` output folder's ``metrics.json`` (through
:meth:`~emomon.training.results.RunResults.from_dict`, the one typed reading of the metrics
contract), a trained model's ``config.json`` meta (a model directory or a shipped model's name),
and :func:`load_run` / :func:`load_runs`, which tell them apart. Each becomes a :class:`~.runs.Run`.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ...errors import DataError
from ..results import RunResults, Score
from .formatting import _is_number
from .runs import METRICS, MODEL_CONFIG, MODEL_WEIGHTS, REQUIRED_KEYS, Costs, Provenance, Run, Source

if TYPE_CHECKING:  # torch-free at import time: the model modules are imported inside functions
    from ...models import ModelConfig

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
# a trained model's config.json meta
# ----------------------------------------------------------------------------------------------
def _protocol_name(detail: str | None) -> str | None:
    """``"emobox (6 folds, speaker-independent=True, strict)"`` → ``"emobox"``."""
    found = re.match(r"\s*([\w-]+)", detail or "")
    return found.group(1) if found else None


def _protocol_folds(detail: str | None) -> int | None:
    """The fold count a protocol description states (``"... (6 folds, ..."`` → 6), if any."""
    found = re.search(r"(\d+)\s+folds?\b", detail or "")
    return int(found.group(1)) if found else None


def _protocol_speaker_independent(protocol: str | None, detail: str | None) -> bool | None:
    """What the description says (``speaker-independent=True``), else ``protocol != "random"``; ``None`` if unknown."""
    found = re.search(r"speaker-independent\s*=\s*(True|False)", detail or "")
    if found:
        return found.group(1) == "True"
    return None if protocol is None else protocol != "random"


def _opt_int(v: Any) -> int | None:
    """``int(v)`` for a number; ``None`` otherwise."""
    return int(v) if _is_number(v) else None


def _opt_str(v: Any) -> str | None:
    """``str(v)``; ``None`` for ``None``."""
    return None if v is None else str(v)


def run_from_model_config(name: str, directory: Path, config: ModelConfig, source: Source) -> Run:
    """The :class:`Run` a trained model's ``config.json`` describes, from its ``meta`` (the one
    place that reads a model's meta; ``metrics.json`` is read by :func:`read_results`).

    Reads ``ua``/``wa``/``f1``/``ece``/``streamed_ua``/``file_ua`` as ``{mean, std}`` (or the bare
    ``cv_ua``/``cv_wa`` that ``emomon train`` writes into its final model), ``file_unanswered``,
    ``protocol``, ``recipe``, ``n_utterances``, ``trained_on``, ``command``, ``license``,
    ``description``. Final models are trained in strict mode only, hence ``strict`` when the meta
    names a protocol but no mode.
    """
    meta = config.meta or {}
    detail = _opt_str(meta.get("protocol"))
    protocol = _protocol_name(detail)
    settings = {"params": config.params, **{k: meta[k] for k in ("head", "temperature") if k in meta}}
    return Run(
        name=name, path=directory, model=str(meta.get("recipe") or meta.get("name") or config.architecture),
        protocol=protocol, protocol_detail=detail if detail != protocol else None,
        speaker_independent=_protocol_speaker_independent(protocol, detail),
        mode=_opt_str(meta.get("mode")) or ("strict" if protocol else None), labels=tuple(config.labels),
        n_utterances=_opt_int(meta.get("n_utterances")), n_folds=_protocol_folds(detail),
        ua=Score.parse(meta.get("ua", meta.get("cv_ua"))), wa=Score.parse(meta.get("wa", meta.get("cv_wa"))),
        f1=Score.parse(meta.get("f1")), streamed_ua=Score.parse(meta.get("streamed_ua")), ece=Score.parse(meta.get("ece")),
        file_ua=Score.parse(meta.get("file_ua")), file_unanswered=_opt_int(meta.get("file_unanswered")),
        provenance=Provenance(source=source, data=_opt_str(meta.get("trained_on")), command=_opt_str(meta.get("command")),
                              license=_opt_str(meta.get("license")), description=_opt_str(meta.get("description")),
                              architecture=config.architecture, settings=settings),
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

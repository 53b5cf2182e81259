"""``emomon report``: compare training runs in ``report.md`` and ``report.html``.

Each run is an ``emomon train`` output folder (or its ``metrics.json``, read through
:meth:`~emomon.training.results.RunResults.from_dict`: the one typed reading of the metrics
contract), or a trained model: a shipped model's name (``default``) or a model directory
(``config.json`` + ``model.safetensors``), whose figures come from the ``meta`` of its
``config.json`` (:func:`run_from_model_config`). Both become the same typed :class:`Run`; what a
model does not carry (per-class recall, confusion matrix, per-fold rows, costs) is marked as not
available.

The report holds a summary table (UA/WA/F1 mean ± std over folds, as percentages, with the
protocol and evaluation mode spelled out: *speaker-independent, strict*, *speaker-independent,
speaker-norm* or *speaker-dependent*), the seed study's figures next to them (accuracy on a
random split — said so), per-class recall, streamed/file decisions, calibration and noise, the
figures per test corpus (and per fold of a ``pairs`` run) when a run tests on several corpora,
the online-adaptive curve (a labelled mode, in its own section, never beside the strict figures)
when a run measured it, per-fold tables, parameters, training time, CPU ms per clip and per
stream window, and confusion matrices as PNG files (linked from the Markdown, embedded in the
HTML). With ``data`` it adds the seed's exploratory figures for that corpus.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import logging
import random
import re
import sys
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..atomic import atomic_write_text
from ..errors import DataError
from ..labels import EMOTIONS
from . import figures
from .metrics import Collapse
from .results import ONLINE_MODE, Figures, FoldResult, NoiseFigures, OnlineAdaptive, OnlinePointFigures, RunResults, Score

if TYPE_CHECKING:  # torch-free at import time: the model modules are imported inside functions
    from ..models import ModelConfig

log = logging.getLogger(__name__)

METRICS = "metrics.json"
MODEL_CONFIG = "config.json"  # a model directory's files (emomon.models.base.CONFIG_NAME / WEIGHTS_NAME)
MODEL_WEIGHTS = "model.safetensors"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
FIGURES = "figures"
NOT_AVAILABLE = "n/a"
REQUIRED_KEYS = ("model", "protocol", "ua", "wa", "f1")  # what makes a JSON file an `emomon train` metrics.json
PAIRS = "pairs"  # the cross-corpus protocol: fold ids "<train corpus>_to_<test corpus>"


@dataclass(frozen=True)
class SeedResult:
    """A figure reported by the seed study (accuracy on a random, speaker-dependent split)."""

    name: str
    accuracy: float
    parameters: int | None
    notes: str


SEED_RESULTS: tuple[SeedResult, ...] = (
    SeedResult("seed: logistic baseline", 0.378, None, "logistic regression on clip length and amplitude variation"),
    SeedResult("seed: transformer", 0.514, 377_000, "custom 3-layer transformer on mel spectrograms"),
    SeedResult("seed: wav2vec2", 0.625, 95_000_000, "fine-tuned wav2vec 2.0, 10 epochs (about 32 min on a Colab GPU)"),
)
SEED_SPLIT = "random split of the 1,440 RAVDESS speech clips (speaker-dependent: every actor on both sides of the split)"


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
        return evaluation_label(self.speaker_independent, self.mode)

    @property
    def is_model(self) -> bool:
        """True when the figures come from a model's ``config.json`` rather than a ``metrics.json``."""
        return self.provenance.source is not Source.RUN

    @property
    def per_class_recall(self) -> Mapping[str, Score] | None:
        return None if self.results is None else self.results.per_class_recall

    @property
    def folds(self) -> tuple[FoldResult, ...] | None:
        return None if self.results is None else tuple(self.results.folds)

    @property
    def confusion(self) -> list[list[int]] | None:
        """The summed confusion matrix; ``None`` when not recorded (or recorded empty)."""
        if self.results is None or not self.results.confusion:
            return None
        return self.results.confusion

    @property
    def noise(self) -> tuple[NoiseFigures, ...]:
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


@dataclass(frozen=True)
class ReportResult:
    """Files written by :func:`make_report`."""

    markdown: Path
    html: Path
    figures: list[Path] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# small typed helpers
# ----------------------------------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _measured(s: Score | None) -> Score | None:
    """``s`` when it holds a mean; ``None`` for a figure that was not measured (``Score(None)``)."""
    return s if s is not None and s.mean is not None else None


# ----------------------------------------------------------------------------------------------
# reading runs: metrics.json, through RunResults
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
# reading runs: a trained model's config.json meta
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
    return int(v) if _is_number(v) else None


def _opt_str(v: Any) -> str | None:
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
    from ..models import read_config

    if not (directory / MODEL_WEIGHTS).is_file():
        raise DataError(str(directory), f"{MODEL_CONFIG} but no {MODEL_WEIGHTS} (not a model directory)")
    return run_from_model_config(name or directory.name, directory, read_config(directory), source)


def _shipped_model_dir(name: str) -> Path | None:
    """The directory of the shipped model ``name``, or ``None`` when no shipped model has that name."""
    from ..models import resolve_model_dir, shipped_models

    return resolve_model_dir(name) if name in shipped_models() else None


def _shipped_names() -> str:
    from ..models import shipped_models

    return ", ".join(shipped_models()) or "none"


# ----------------------------------------------------------------------------------------------
# reading runs: any of them
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
    runs = [load_run(p) for p in paths]
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


# ----------------------------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------------------------
def evaluation_label(speaker_independent: bool | None, mode: str | None) -> str:
    """``speaker-independent, strict`` / ``speaker-independent, speaker-norm`` / ``speaker-dependent``."""
    if speaker_independent is None:
        return "unknown (not recorded)"
    if not speaker_independent:
        return "speaker-dependent (a speaker's clips on both sides)"
    if mode == "speaker-norm":
        return "speaker-independent, speaker-norm (uses test speakers' unlabelled feature statistics)"
    return "speaker-independent, strict"


def pct(v: Score | Mapping[str, Any] | float | None) -> str:
    """``{"mean": 0.45, "std": 0.02}`` (or a :class:`Score`) → ``"45.0 ± 2.0"``; a bare fraction → ``"45.0"``; else ``"–"``."""
    s = v if isinstance(v, Score) else Score.parse(v)
    if s is None or s.mean is None:
        return "–"
    return f"{100 * s.mean:.1f}" + (f" ± {100 * s.std:.1f}" if s.std is not None else "")


ECE_EXPLAINED = ("ECE: expected calibration error of the whole-clip probabilities (15 bins), of all the folds' test clips "
                 "pooled, with its floor (what a perfectly calibrated model would show on as many clips: ECE is biased upwards "
                 "on small sets) and the mean ± std of the folds' own ECE.")


def ece_cell(folds: Score | None, pooled: float | None, floor: float | None) -> str:
    """``"4.6 (floor 2.8; folds 6.8 ± 1.7)"``; the folds' mean ± std alone for runs that did not record the pooled ECE."""
    if pooled is None:
        return pct(folds)
    return f"{100 * pooled:.1f} (floor {pct(floor)}; folds {pct(folds)})"


def human_seconds(s: float | None) -> str:
    if not _is_number(s):
        return "–"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def human_count(n: float | None) -> str:
    if not _is_number(n):
        return "–"
    if n >= 1e6:
        return f"{n / 1e6:.1f} M"
    if n >= 1e4:
        return f"{n / 1e3:.0f} k"
    return f"{int(n):,}"


def _num(v: float | None, fmt: str = "{:.1f}") -> str:
    return fmt.format(v) if _is_number(v) else "–"


def _text(v: Any) -> str:
    return "–" if v is None or v == "" else str(v)


# ----------------------------------------------------------------------------------------------
# a tiny document model rendered to Markdown and HTML
# ----------------------------------------------------------------------------------------------
@dataclass
class Doc:
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def h(self, level: int, text: str) -> None:
        self.blocks.append(("h", (level, text)))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.blocks.append(("table", (list(headers), [list(map(str, r)) for r in rows])))

    def img(self, rel: str, alt: str) -> None:
        self.blocks.append(("img", (rel, alt)))

    def markdown(self) -> str:
        out = []
        for kind, v in self.blocks:
            if kind == "h":
                out.append("#" * v[0] + " " + v[1])
            elif kind == "p":
                out.append(v)
            elif kind == "table":
                headers, rows = v
                esc = lambda s: s.replace("|", "\\|")  # noqa: E731
                out.append("\n".join(
                    ["| " + " | ".join(map(esc, headers)) + " |", "|" + "|".join("---" for _ in headers) + "|"]
                    + ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
                ))
            elif kind == "img":
                out.append(f"![{v[1]}]({v[0]})")
        return "\n\n".join(out) + "\n"

    def html(self, base: Path, title: str) -> str:
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>',
            "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
            "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}"
            "th{background:#f0f0f0}tr:nth-child(even){background:#fafafa}img{max-width:100%;margin:0.5em 0}"
            "code{background:#f4f4f4;padding:0 3px}</style></head><body>",
        ]
        for kind, v in self.blocks:
            if kind == "h":
                parts.append(f"<h{v[0]}>{html.escape(v[1])}</h{v[0]}>")
            elif kind == "p":
                parts.append(f"<p>{_inline_html(v)}</p>")
            elif kind == "table":
                headers, rows = v
                parts.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr></thead><tbody>")
                parts.extend("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
                parts.append("</tbody></table>")
            elif kind == "img":
                rel, alt = v
                data = base64.b64encode((base / rel).read_bytes()).decode("ascii")
                parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
                             f"<figcaption>{html.escape(alt)} (<a href=\"{html.escape(rel)}\">{html.escape(rel)}</a>)</figcaption></figure>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"


def _inline_html(text: str) -> str:
    """Escape ``text`` and turn Markdown ``code`` spans into ``<code>``."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{s}</code>" if i % 2 else s for i, s in enumerate(pieces))


def _slug(name: str) -> str:
    s = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.")
    return s or "run"


# ----------------------------------------------------------------------------------------------
# the report
# ----------------------------------------------------------------------------------------------
def check_out(out: Path, force: bool) -> None:
    """Refuse (``DataError``) when a report or its figures already exist in ``out`` and not ``force``."""
    if out.exists() and not out.is_dir():
        raise DataError(str(out), "exists and is not a directory")
    if force:
        return
    taken = [n for n in (REPORT_MD, REPORT_HTML, FIGURES) if (out / n).exists()]
    if taken:
        raise DataError(str(out / taken[0]), "already exists (use --force to overwrite the report)")


def _labels_of(runs: Sequence[Run]) -> list[str]:
    """Labels of the runs that carry per-class recall: canonical order first, then others."""
    present = {lab for r in runs if r.per_class_recall is not None for lab in (r.labels or r.per_class_recall.keys())}
    return [e for e in EMOTIONS if e in present] + sorted(present - set(EMOTIONS))


def _model_runs_note(runs: Sequence[Run]) -> str | None:
    """The paragraph that says which runs are trained models and what they do not carry."""
    models = [r for r in runs if r.is_model]
    if not models:
        return None
    which = ", ".join(f"{r.name} ({r.provenance.source.value})" for r in models)
    return (f"{which}: figures from the model's `config.json` (the cross-validation recorded when it was trained). "
            f"Per-class recall, confusion matrix, per-fold rows, parameters, training time and CPU timings are not "
            f"stored there: {NOT_AVAILABLE} below.")


def _summary_row(r: Run) -> list[str]:
    c = r.costs
    costs = ([NOT_AVAILABLE] * 4 if r.is_model else
             [human_count(c.num_parameters), human_seconds(c.train_seconds), _num(c.cpu_ms_per_clip), _num(c.cpu_ms_per_window)])
    return [r.name, r.model, _text(r.protocol), r.evaluation, _text(r.n_folds), _text(r.n_utterances),
            pct(r.ua), pct(r.wa), pct(r.f1), *costs]


def _summary_section(doc: Doc, runs: Sequence[Run], figdir: Path) -> list[Path]:
    doc.h(2, "Summary")
    doc.table(["run", "model", "protocol", "evaluation", "folds", "clips", "UA %", "WA %", "F1 %", "parameters", "training time",
               "CPU ms/clip", "CPU ms/window"], [_summary_row(r) for r in runs])
    note = _model_runs_note(runs)
    if note:
        doc.p(note)
    if any(r.speaker_independent is False for r in runs):
        doc.p("Speaker-dependent runs put clips of the same speakers in training and test sets: their figures are higher "
              "than what a new speaker gets and must not be compared with the speaker-independent ones.")
    if any(r.mode == "speaker-norm" for r in runs):
        doc.p("Speaker-norm runs normalise features with each test speaker's own (unlabelled) statistics, which a live "
              "monitor only has after hearing that speaker for a while.")
    bars = [figures.Bar(r.name, r.ua.mean if r.ua else None, (r.ua.std if r.ua else None) or 0.0,
                        r.wa.mean if r.wa else None, (r.wa.std if r.wa else None) or 0.0) for r in runs]
    bars += [figures.Bar(s.name.replace("seed: ", ""), None, 0.0, s.accuracy, 0.0, seed=True) for s in SEED_RESULTS]
    written = figures.plot_summary(bars, figdir / "summary.png")
    doc.img(f"{FIGURES}/summary.png", "UA and WA per run, with the seed study's accuracies (random split)")
    return [written]


def _seed_section(doc: Doc) -> None:
    doc.h(2, "The seed study, for reference")
    doc.table(["model", "accuracy %", "split", "parameters", "notes"],
              [[s.name, f"{100 * s.accuracy:.1f}", "random (speaker-dependent)", human_count(s.parameters), s.notes] for s in SEED_RESULTS])
    doc.p(f"The seed study reports accuracy on a {SEED_SPLIT}. Its numbers are comparable only to the WA of a "
          "speaker-dependent (`random` protocol) run, not to the speaker-independent UA above.")


def _recall_cell(r: Run, label: str) -> str:
    if r.per_class_recall is None:
        return NOT_AVAILABLE
    return pct(r.per_class_recall.get(label))


def _recall_section(doc: Doc, runs: Sequence[Run]) -> None:
    doc.h(2, "Per-class recall (%)")
    labels = _labels_of(runs)
    if not labels:
        doc.p(f"{NOT_AVAILABLE}: none of these runs carries per-class recall (a model's `config.json` records summary "
              "figures only; the `emomon train` run folder that made the model has them).")
        return
    doc.table(["emotion", *[r.name for r in runs]], [[lab, *[_recall_cell(r, lab) for r in runs]] for lab in labels])
    missing = [r.name for r in runs if r.per_class_recall is None]
    if missing:
        doc.p(f"{NOT_AVAILABLE}: not available for {', '.join(missing)} (a model's `config.json` records summary figures only).")


def _streaming_section(doc: Doc, runs: Sequence[Run]) -> None:
    if not any(r.streamed_ua or r.file_ua or r.ece or r.noise for r in runs):
        return
    doc.h(2, "Streaming, files, calibration and noise")
    doc.p("Streamed decision: a clip's label from the mean of its 3 s stream windows with speech (what `file --stream` "
          "shows). File decision: the time-weighted mean over the clip's speech segments (what `emomon file` answers); a "
          "clip in which no speech is found gets no answer, counted wrong (how many: 'no answer'). Both beside the "
          "whole-clip UA. " + ECE_EXPLAINED + " "
          "Noise: each fold's model on noisy copies of its test clips (white, pink, babble of other speakers) at the given SNR.")
    conds = sorted({(c.kind, c.snr_db) for r in runs for c in r.noise}, key=lambda c: (c[0], -c[1]))
    headers = ["run", "UA %", "streamed UA %", "file UA %", "no answer", "ECE %", *[f"{k} {snr:g} dB UA %" for k, snr in conds]]
    rows = []
    for r in runs:
        by_cond = {(c.kind, c.snr_db): c for c in r.noise}
        absent = NOT_AVAILABLE if r.is_model else "–"
        rows.append([r.name, pct(r.ua), pct(r.streamed_ua), pct(r.file_ua), _text(r.file_unanswered), ece_cell(r.ece, r.ece_pooled, r.ece_floor),
                     *[pct(by_cond[c].figures.ua) if c in by_cond else absent for c in conds]])
    doc.table(headers, rows)


# ----------------------------------------------------------------------------------------------
# per test corpus (and per fold of a `pairs` run)
# ----------------------------------------------------------------------------------------------
def _pair_sides(fold_id: str) -> tuple[str, str]:
    """``"savee_to_ravdess"`` → ``("savee", "ravdess")``; ``("–", "–")`` for a fold id of another shape."""
    train, sep, test = fold_id.partition("_to_")
    return (train, test) if sep and train and test else ("–", "–")


def collapse_cells(c: Collapse | None) -> list[str]:
    """``["disgust 70.4", "1.21 / 2.81"]``: the most often predicted class with its share % of the
    answers, and the entropy of the predicted labels against its ceiling (bits); ``–`` when not recorded."""
    if c is None or c.label is None:
        return ["–", "–"]
    return [f"{c.label} {100 * c.share:.1f}", f"{c.entropy:.2f} / {c.entropy_max:.2f}"]


COLLAPSE_HEADERS = ["largest predicted class, % of clips", "predicted-label entropy / ceiling (bits)"]


def _corpus_rows(runs: Sequence[Run]) -> list[list[str]]:
    """One row per run and test corpus: clips, UA/WA/F1/ECE % (mean ± std over the folds testing on it)
    and the collapse of its answers (:func:`collapse_cells`)."""
    return [[r.name, corpus, _text(f.n), pct(f.ua), pct(f.wa), pct(f.f1), ece_cell(f.ece, f.ece_pooled, f.ece_floor),
             *collapse_cells(f.collapse)]
            for r in runs for corpus, f in r.corpora.items()]


PAIR_ONLINE_POINTS = ("10", "all")
"""Points of the online-adaptive curve shown beside each ``pairs`` fold."""


def _pairs_rows(runs: Sequence[Run]) -> list[list[str]]:
    """One row per fold of each ``pairs`` run: its train and test corpus, the fold's UA/WA/F1/ECE %
    and, for an adaptive model, its online-adaptive UA % after 10 clips and after all the clips before."""
    def online(f: FoldResult, heard: str) -> str:
        row = f.online.get(heard)
        return pct(row.ua) if row is not None else "–"

    return [[r.name, f.fold, *_pair_sides(f.fold), _text(f.n_test), pct(f.ua), pct(f.wa), pct(f.f1),
             pct(f.ece) + (f" (floor {pct(f.ece_floor)})" if f.ece_floor is not None else ""),
             *collapse_cells(f.collapse), *[online(f, h) for h in PAIR_ONLINE_POINTS]]
            for r in runs if r.protocol == PAIRS for f in r.folds or ()]


def _has_corpus_figures(runs: Sequence[Run]) -> bool:
    """True when a run tests on more than one corpus (one corpus's row would only repeat the summary) or is a ``pairs`` run."""
    return any(len(r.corpora) > 1 or (r.protocol == PAIRS and r.folds) for r in runs)


def _corpora_section(doc: Doc, runs: Sequence[Run]) -> None:
    """Per test corpus: run × corpus figures, and each fold of the ``pairs`` runs (train corpus → test corpus)."""
    if not _has_corpus_figures(runs):
        return
    doc.h(2, "Per test corpus")
    rows = _corpus_rows(runs)
    if rows:
        doc.p("Each run's test clips split by the corpus they come from: UA, WA, F1 and ECE of that corpus's clips, "
              "mean ± std over the folds that test on it (a corpus tested in one fold only has std 0). The last two "
              "columns say whether the answers collapse onto one class whatever was said: the most often predicted "
              "class and its share of the corpus's clips, and the entropy of the predicted labels beside its ceiling "
              "(log2 of the classes the corpus has). Runs that did not "
              "record per-corpus figures (a model, a metrics.json written before them) are not listed.")
        doc.table(["run", "test corpus", "clips", "UA %", "WA %", "F1 %", "ECE %", *COLLAPSE_HEADERS], rows)
    pairs = _pairs_rows(runs)
    if pairs:
        doc.h(3, "Cross-corpus pairs")
        doc.p("Protocol `pairs`: each fold trains on one whole corpus and tests on another (the four shared classes, "
              "test side balanced per class). Figures of the single fold, no std. The last two columns are the labelled "
              f"`{ONLINE_MODE}` mode (an adaptive model only; – otherwise): UA after 10 clips of the test speaker, and "
              "with all the speaker's clips before each.")
        doc.table(["run", "fold", "train corpus", "test corpus", "test clips", "UA %", "WA %", "F1 %", "ECE %",
                   *COLLAPSE_HEADERS, f"UA % after 10 clips ({ONLINE_MODE})", f"UA % after all ({ONLINE_MODE})"], pairs)


# ----------------------------------------------------------------------------------------------
# the online-adaptive curve: a labelled mode, in its own section
# ----------------------------------------------------------------------------------------------
ONLINE_EXPLAINED = (
    f"Mode `{ONLINE_MODE}`, not strict: these figures are never comparable with the strict ones above. Each test "
    "speaker's clips are streamed in a seeded random order, and each clip is standardised with the statistics of that "
    "speaker's clips before it only (labels never used). 'Clips heard' k counts the clips at position k or later, each "
    "standardised with the k clips just before it; 'all' counts every clip, each with all the clips before it. "
    "UA and ECE in %, mean ± std over the folds."
)


ONLINE_HEADING = "Online-adaptive mode (labelled, not strict)"


def _heard_order(heard: str) -> tuple[int, int, str]:
    """Sort key of a curve point: ``0, 5, 10, 20``, then ``all``, then anything else."""
    if heard.isdigit():
        return (0, int(heard), "")
    return (1, 0, "") if heard == "all" else (2, 0, heard)


def _curve_rows(name: str, points: Sequence[OnlinePointFigures], corpus: str | None = None) -> list[list[str]]:
    """Rows of one curve, in order of clips heard: ``[name, (corpus,) heard, UA %, ECE %]``."""
    lead = [name] if corpus is None else [name, corpus]
    return [[*lead, p.heard, pct(p.figures.ua), ece_cell(p.figures.ece, p.figures.ece_pooled, p.figures.ece_floor),
             *collapse_cells(p.figures.collapse)]
            for p in sorted(points, key=lambda p: _heard_order(p.heard))]


def _online_rows(runs: Sequence[Run]) -> list[list[str]]:
    return [row for r in runs if r.online for row in _curve_rows(r.name, r.online.points)]


def _online_corpus_rows(runs: Sequence[Run]) -> list[list[str]]:
    return [row for r in runs if r.online for c, pts in r.online.corpora.items() for row in _curve_rows(r.name, pts, c)]


def _online_section(doc: Doc, runs: Sequence[Run]) -> None:
    """Run × clips heard (UA ± std, ECE) of the online-adaptive mode, and per test corpus when recorded."""
    rows = _online_rows(runs)
    if not rows:
        return
    doc.h(2, ONLINE_HEADING)
    doc.p(ONLINE_EXPLAINED)
    doc.table(["run", "clips heard", f"UA % ({ONLINE_MODE})", f"ECE % ({ONLINE_MODE})", *COLLAPSE_HEADERS], rows)
    per_corpus = _online_corpus_rows(runs)
    if per_corpus:
        doc.h(3, "Online-adaptive mode per test corpus")
        doc.p(f"The same `{ONLINE_MODE}` curve over each test corpus's clips (ECE: – where the run did not record it per corpus).")
        doc.table(["run", "test corpus", "clips heard", f"UA % ({ONLINE_MODE})", f"ECE % ({ONLINE_MODE})", *COLLAPSE_HEADERS], per_corpus)


# ----------------------------------------------------------------------------------------------
# confusion matrices and details
# ----------------------------------------------------------------------------------------------
def _confusion_section(doc: Doc, runs: Sequence[Run], figdir: Path, progress: bool) -> list[Path]:
    from tqdm import tqdm

    doc.h(2, "Confusion matrices")
    doc.p("Rows are the true emotion, columns the prediction, summed over the test folds; colour is the fraction of the row.")
    written = []
    for r in tqdm(runs, desc="confusion matrices", unit="run", file=sys.stderr, disable=not progress):
        if r.confusion is None:
            doc.p(f"{r.name}: confusion matrix {NOT_AVAILABLE} (a model's `config.json` records summary figures only)."
                  if r.is_model else f"{r.name}: no confusion matrix in its metrics.json.")
            continue
        labels = list(r.labels) or list(EMOTIONS)[: len(r.confusion)]
        name = f"confusion-{_slug(r.name)}.png"
        title = f"{r.name}: {r.model} / {r.protocol} / {r.evaluation}\nUA {pct(r.ua)} %"
        written.append(figures.plot_confusion([list(row) for row in r.confusion], labels, figdir / name, title))
        doc.img(f"{FIGURES}/{name}", f"{r.name} — confusion matrix")
    return written


def _run_details(r: Run) -> list[list[str]]:
    c, p = r.costs, r.provenance
    rows = [
        ["source", p.source.value], ["folder", str(r.path)], ["model (recipe)", r.model], ["protocol", _text(r.protocol)],
        ["evaluation", r.evaluation], ["data", _text(p.data)], ["clips", _text(r.n_utterances)], ["labels", ", ".join(r.labels)],
        ["parameters", f"{c.num_parameters:,}" if c.num_parameters is not None else "–"],
        ["training time (all folds)", human_seconds(c.train_seconds)], ["CPU ms per clip", _num(c.cpu_ms_per_clip)],
        ["CPU ms per stream window (one thread)", _num(c.cpu_ms_per_window)],
        ["final model", p.final_model or "none"], ["created", _text(p.created)], ["emomon version", _text(p.emomon_version)],
    ]
    if p.settings:
        rows.append(["recipe settings", json.dumps(dict(p.settings), sort_keys=True, default=str)])
    return rows


def _model_details(r: Run) -> list[list[str]]:
    p = r.provenance
    rows = [
        ["source", p.source.value], ["folder", str(r.path)], ["model (recipe)", r.model], ["architecture", _text(p.architecture)],
        ["protocol", _text(r.protocol_detail or r.protocol)], ["evaluation", r.evaluation], ["trained on", _text(p.data)],
        ["clips", _text(r.n_utterances)], ["labels", ", ".join(r.labels)], ["UA %", pct(r.ua)], ["WA %", pct(r.wa)],
        ["F1 %", pct(r.f1)], ["streamed UA %", pct(r.streamed_ua)], ["file UA %", pct(r.file_ua)], ["ECE %", ece_cell(r.ece, r.ece_pooled, r.ece_floor)],
        ["command", _text(p.command)],
        ["license", _text(p.license)], ["description", _text(p.description)],
    ]
    if p.settings:
        rows.append(["settings", json.dumps(dict(p.settings), sort_keys=True, default=str)])
    rerun = "; its command reproduces one" if p.command else ""
    rows.append(["per-class recall, confusion matrix, per-fold rows, costs",
                 f"{NOT_AVAILABLE} (not recorded in a model's config.json; the `emomon train` run folder that made it has them{rerun})"])
    return rows


def _fold_rows(folds: Sequence[FoldResult]) -> list[list[str]]:
    return [[f.fold, ", ".join(f.test_speakers), _text(f.n_train), _text(f.n_test), pct(f.ua), pct(f.wa), pct(f.f1),
             human_seconds(f.train_seconds)] for f in folds]


def _details_section(doc: Doc, runs: Sequence[Run]) -> None:
    doc.h(2, "Runs in detail")
    for r in runs:
        doc.h(3, r.name)
        doc.table(["parameter", "value"], _model_details(r) if r.is_model else _run_details(r))
        if r.folds:
            doc.table(["fold", "test speakers", "train", "test", "UA %", "WA %", "F1 %", "training time"], _fold_rows(r.folds))


# ----------------------------------------------------------------------------------------------
# make_report: its steps
# ----------------------------------------------------------------------------------------------
def _load_exploration_data(data: str | Path | None, corpus: str) -> list | None:
    """The clips of ``--data`` (read before anything is drawn, so a bad folder fails first), or ``None``."""
    if data is None:
        return None
    from .corpora import load_corpus

    return load_corpus(corpus, data)


def _introduction(doc: Doc, runs: Sequence[Run], title: str) -> None:
    """The title and the paragraph that defines UA, WA and F1."""
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    doc.h(1, title)
    doc.p(f"{len(runs)} run{'s' if len(runs) != 1 else ''}, generated {now}. UA = unweighted accuracy (mean of the per-class "
          "recalls), WA = weighted accuracy (plain accuracy), F1 = macro F1; all in %, mean ± std over the folds of each run's protocol.")


def _write_sections(doc: Doc, runs: Sequence[Run], figdir: Path, progress: bool) -> list[Path]:
    """Every section about the runs, in order; the figures written."""
    written = _summary_section(doc, runs, figdir)
    _seed_section(doc)
    _recall_section(doc, runs)
    _streaming_section(doc, runs)
    _corpora_section(doc, runs)
    _online_section(doc, runs)
    written += _confusion_section(doc, runs, figdir, progress)
    _details_section(doc, runs)
    return written


def _write_documents(doc: Doc, out: Path, title: str) -> tuple[Path, Path]:
    """``out/report.md`` and ``out/report.html`` (figures embedded)."""
    md_path, html_path = out / REPORT_MD, out / REPORT_HTML
    atomic_write_text(md_path, doc.markdown())
    atomic_write_text(html_path, doc.html(out, title))
    log.info("report: %s, %s", md_path, html_path)
    return md_path, html_path


def make_report(
    run_paths: Sequence[str | Path],
    out: str | Path,
    *,
    data: str | Path | None = None,
    corpus: str = "auto",
    force: bool = False,
    progress: bool = True,
    eda_max: int | None = None,
    title: str = "emomon — model comparison",
) -> ReportResult:
    """Write ``out/report.md``, ``out/report.html`` and ``out/figures/*.png`` comparing the runs.

    ``run_paths``: ``emomon train`` output folders (or their ``metrics.json``), shipped model
    names or model directories (see :func:`load_run`).
    """
    out = Path(out).expanduser()
    check_out(out, force)
    runs = load_runs(run_paths)
    utts = _load_exploration_data(data, corpus)
    figdir = out / FIGURES
    figdir.mkdir(parents=True, exist_ok=True)
    doc = Doc()
    _introduction(doc, runs, title)
    written = _write_sections(doc, runs, figdir, progress)
    if utts is not None:
        written += _exploration(doc, utts, figdir, str(data), progress=progress, eda_max=eda_max)
    md_path, html_path = _write_documents(doc, out, title)
    return ReportResult(markdown=md_path, html=html_path, figures=written)


def _exploration(doc: Doc, utts: list, figdir: Path, data: str, *, progress: bool, eda_max: int | None) -> list[Path]:
    """The seed's exploratory figures for ``utts``: amplitude variation, clip length, a mel spectrogram."""
    import numpy as np

    chosen = list(utts)
    if eda_max is not None and len(chosen) > eda_max:
        chosen = sorted(random.Random(0).sample(chosen, eda_max), key=lambda u: u.path)
    stats = figures.clip_stats(chosen, progress=progress)
    doc.h(2, "Exploring the data")
    doc.p(f"{len(stats)} clips of `{data}`" + (f" (a random sample of {len(utts)})" if len(chosen) < len(utts) else "")
          + ", decoded to mono 16 kHz. As in the seed study: amplitude variation is the standard deviation of the samples, "
          "length is the clip's duration.")
    rows = []
    for e in EMOTIONS:
        s = [x for x in stats if x.emotion == e]
        if s:
            secs = np.array([x.seconds for x in s])
            amps = np.array([x.amplitude_std for x in s])
            rows.append([e, str(len(s)), f"{secs.mean():.2f}", f"{np.median(secs):.2f}", f"{amps.mean():.4f}", f"{np.median(amps):.4f}"])
    doc.table(["emotion", "clips", "mean length s", "median length s", "mean amplitude std", "median amplitude std"], rows)
    written = [
        figures.plot_by_emotion(stats, "amplitude_std", figdir / "amplitude_by_emotion.png", kind="box",
                                ylabel="std of samples", title="Amplitude variation per emotion"),
        figures.plot_by_emotion(stats, "seconds", figdir / "length_by_emotion.png", kind="violin",
                                ylabel="seconds", title="Clip length per emotion"),
        figures.plot_waveform_mel(chosen[0], figdir / "mel_spectrogram.png"),
    ]
    doc.img(f"{FIGURES}/amplitude_by_emotion.png", "Amplitude variation (std of samples) per emotion")
    doc.img(f"{FIGURES}/length_by_emotion.png", "Clip length per emotion")
    doc.img(f"{FIGURES}/mel_spectrogram.png", f"Waveform and log-mel spectrogram of {Path(chosen[0].path).name}")
    return written

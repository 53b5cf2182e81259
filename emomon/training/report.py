"""``emomon report``: compare training runs in ``report.md`` and ``report.html``.

Each run is an ``emomon train`` output folder (or its ``metrics.json``; the contract is in the
project notes), or a trained model: a shipped model's name (``default``) or a model directory
(``config.json`` + ``model.safetensors``), whose figures come from the ``meta`` of its
``config.json``. Both are read into the same typed :class:`Run`; what a model does not carry
(per-class recall, confusion matrix, per-fold rows, costs) is marked as not available.

The report holds a summary table (UA/WA/F1 mean ± std over folds, as percentages, with the
protocol and evaluation mode spelled out: *speaker-independent, strict*, *speaker-independent,
speaker-norm* or *speaker-dependent*), the seed study's figures next to them (accuracy on a
random split — said so), per-class recall, per-fold tables, parameters, training time, CPU ms
per clip and per stream window, and confusion matrices as PNG files (linked from the Markdown,
embedded in the HTML). With ``data`` it adds the seed's exploratory figures for that corpus.
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

from ..errors import DataError
from ..labels import EMOTIONS
from . import figures

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
class Stat:
    """A figure as a fraction: its mean over folds and the std (``None`` when not given)."""

    mean: float
    std: float | None = None


@dataclass(frozen=True)
class FoldRow:
    """One fold of a run: its test speakers, sizes, figures and training time."""

    fold: str
    test_speakers: tuple[str, ...]
    n_train: int | None
    n_test: int | None
    ua: Stat | None
    wa: Stat | None
    f1: Stat | None
    train_seconds: float | None


@dataclass(frozen=True)
class NoiseRow:
    """UA on noisy copies of the test clips: noise ``kind`` at ``snr_db``."""

    kind: str
    snr_db: float
    ua: Stat | None


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
    """One compared run: an ``emomon train`` output folder, or a trained model's recorded figures.

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
    ua: Stat | None
    wa: Stat | None
    f1: Stat | None
    provenance: Provenance
    protocol_detail: str | None = None
    streamed_ua: Stat | None = None
    file_ua: Stat | None = None
    file_unanswered: int | None = None
    ece: Stat | None = None
    noise: tuple[NoiseRow, ...] = ()
    per_class_recall: Mapping[str, Stat] | None = None
    folds: tuple[FoldRow, ...] | None = None
    confusion: tuple[tuple[int, ...], ...] | None = None
    costs: Costs = Costs()

    @property
    def evaluation(self) -> str:
        return evaluation_label(self.speaker_independent, self.mode)

    @property
    def is_model(self) -> bool:
        """True when the figures come from a model's ``config.json`` rather than a ``metrics.json``."""
        return self.provenance.source is not Source.RUN


@dataclass(frozen=True)
class ReportResult:
    """Files written by :func:`make_report`."""

    markdown: Path
    html: Path
    figures: list[Path] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# parsing JSON values into typed fields
# ----------------------------------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_stat(v: Any) -> Stat | None:
    """``{"mean": m, "std": s}`` or a bare fraction → :class:`Stat`; anything else → ``None``."""
    if isinstance(v, Stat):
        return v
    if isinstance(v, Mapping) and _is_number(v.get("mean")):
        std = v.get("std")
        return Stat(float(v["mean"]), float(std) if _is_number(std) else None)
    if _is_number(v):
        return Stat(float(v))
    return None


def _opt_int(v: Any) -> int | None:
    return int(v) if _is_number(v) else None


def _opt_float(v: Any) -> float | None:
    return float(v) if _is_number(v) else None


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def _parse_folds(rows: Any) -> tuple[FoldRow, ...]:
    return tuple(
        FoldRow(fold=str(f.get("fold", "?")), test_speakers=tuple(map(str, f.get("test_speakers") or ())),
                n_train=_opt_int(f.get("n_train")), n_test=_opt_int(f.get("n_test")), ua=parse_stat(f.get("ua")),
                wa=parse_stat(f.get("wa")), f1=parse_stat(f.get("f1")), train_seconds=_opt_float(f.get("train_seconds")))
        for f in rows or () if isinstance(f, Mapping)
    )


def _parse_noise(rows: Any) -> tuple[NoiseRow, ...]:
    return tuple(
        NoiseRow(kind=str(c["kind"]), snr_db=float(c["snr_db"]), ua=parse_stat(c.get("ua")))
        for c in rows or () if isinstance(c, Mapping) and "kind" in c and _is_number(c.get("snr_db"))
    )


def _parse_confusion(cm: Any) -> tuple[tuple[int, ...], ...] | None:
    if not cm:
        return None
    return tuple(tuple(int(x) for x in row) for row in cm)


# ----------------------------------------------------------------------------------------------
# reading runs: metrics.json
# ----------------------------------------------------------------------------------------------
def run_from_metrics(name: str, folder: Path, m: Mapping[str, Any]) -> Run:
    """The :class:`Run` an ``emomon train`` ``metrics.json`` (already parsed) describes."""
    recall = {str(k): s for k, v in (m.get("per_class_recall") or {}).items() if (s := parse_stat(v)) is not None}
    folds = _parse_folds(m.get("folds"))
    return Run(
        name=name, path=folder, model=str(m["model"]), protocol=str(m["protocol"]),
        speaker_independent=bool(m.get("speaker_independent", m["protocol"] != "random")), mode=_opt_str(m.get("mode")),
        labels=tuple(m.get("labels") or recall), n_utterances=_opt_int(m.get("n_utterances")), n_folds=len(folds) or None,
        ua=parse_stat(m.get("ua")), wa=parse_stat(m.get("wa")), f1=parse_stat(m.get("f1")),
        streamed_ua=parse_stat((m.get("streamed") or {}).get("ua")), ece=parse_stat(m.get("ece")),
        file_ua=parse_stat((m.get("file") or {}).get("ua")), file_unanswered=_opt_int((m.get("file") or {}).get("unanswered")),
        noise=_parse_noise(m.get("noise")), per_class_recall=recall, folds=folds, confusion=_parse_confusion(m.get("confusion")),
        costs=Costs(num_parameters=_opt_int(m.get("num_parameters")), train_seconds=_opt_float(m.get("train_seconds")),
                    cpu_ms_per_clip=_opt_float(m.get("cpu_ms_per_clip")), cpu_ms_per_window=_opt_float(m.get("cpu_ms_per_window"))),
        provenance=Provenance(source=Source.RUN, data=_opt_str(m.get("data")), created=_opt_str(m.get("created")),
                              emomon_version=_opt_str(m.get("emomon_version")), final_model=_opt_str(m.get("final_model")),
                              settings=dict(m.get("extra") or {})),
    )


def load_metrics_run(mpath: Path, name: str | None = None) -> Run:
    """The run whose ``metrics.json`` is ``mpath``."""
    try:
        metrics = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(str(mpath), f"cannot read ({exc})") from None
    if not isinstance(metrics, dict):
        raise DataError(str(mpath), "not a metrics object")
    missing = [k for k in ("model", "protocol", "ua", "wa", "f1") if k not in metrics]
    if missing:
        raise DataError(str(mpath), f"missing {', '.join(missing)} (not an `emomon train` metrics.json)")
    folder = mpath.parent
    return run_from_metrics(name or folder.name or str(metrics["model"]), folder, metrics)


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


def run_from_model_config(name: str, directory: Path, config: ModelConfig, source: Source) -> Run:
    """The :class:`Run` a trained model's ``config.json`` describes, from its ``meta``.

    Reads ``ua``/``wa``/``f1``/``ece``/``streamed_ua`` as ``{mean, std}`` (or the bare ``cv_ua``/
    ``cv_wa`` that ``emomon train`` writes into its final model), ``protocol``, ``recipe``,
    ``n_utterances``, ``trained_on``, ``command``, ``license``, ``description``. Final models are
    trained in strict mode only, hence ``strict`` when the meta names a protocol but no mode.
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
        ua=parse_stat(meta.get("ua", meta.get("cv_ua"))), wa=parse_stat(meta.get("wa", meta.get("cv_wa"))),
        f1=parse_stat(meta.get("f1")), streamed_ua=parse_stat(meta.get("streamed_ua")), ece=parse_stat(meta.get("ece")),
        file_ua=parse_stat(meta.get("file_ua")), file_unanswered=_opt_int(meta.get("file_unanswered")),
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


def pct(v: Stat | Mapping[str, Any] | float | None) -> str:
    """``{"mean": 0.45, "std": 0.02}`` (or a :class:`Stat`) → ``"45.0 ± 2.0"``; a bare fraction → ``"45.0"``; else ``"–"``."""
    s = parse_stat(v)
    if s is None:
        return "–"
    return f"{100 * s.mean:.1f}" + (f" ± {100 * s.std:.1f}" if s.std is not None else "")


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
          "whole-clip UA. ECE: expected calibration error of the whole-clip probabilities (15 bins). "
          "Noise: each fold's model on noisy copies of its test clips (white, pink, babble of other speakers) at the given SNR.")
    conds = sorted({(c.kind, c.snr_db) for r in runs for c in r.noise}, key=lambda c: (c[0], -c[1]))
    headers = ["run", "UA %", "streamed UA %", "file UA %", "no answer", "ECE %", *[f"{k} {snr:g} dB UA %" for k, snr in conds]]
    rows = []
    for r in runs:
        by_cond = {(c.kind, c.snr_db): c for c in r.noise}
        absent = NOT_AVAILABLE if r.is_model else "–"
        rows.append([r.name, pct(r.ua), pct(r.streamed_ua), pct(r.file_ua), _text(r.file_unanswered), pct(r.ece),
                     *[pct(by_cond[c].ua) if c in by_cond else absent for c in conds]])
    doc.table(headers, rows)


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
        ["F1 %", pct(r.f1)], ["streamed UA %", pct(r.streamed_ua)], ["file UA %", pct(r.file_ua)], ["ECE %", pct(r.ece)],
        ["command", _text(p.command)],
        ["license", _text(p.license)], ["description", _text(p.description)],
    ]
    if p.settings:
        rows.append(["settings", json.dumps(dict(p.settings), sort_keys=True, default=str)])
    rerun = "; its command reproduces one" if p.command else ""
    rows.append(["per-class recall, confusion matrix, per-fold rows, costs",
                 f"{NOT_AVAILABLE} (not recorded in a model's config.json; the `emomon train` run folder that made it has them{rerun})"])
    return rows


def _fold_rows(folds: Sequence[FoldRow]) -> list[list[str]]:
    return [[f.fold, ", ".join(f.test_speakers), _text(f.n_train), _text(f.n_test), pct(f.ua), pct(f.wa), pct(f.f1),
             human_seconds(f.train_seconds)] for f in folds]


def _details_section(doc: Doc, runs: Sequence[Run]) -> None:
    doc.h(2, "Runs in detail")
    for r in runs:
        doc.h(3, r.name)
        doc.table(["parameter", "value"], _model_details(r) if r.is_model else _run_details(r))
        if r.folds:
            doc.table(["fold", "test speakers", "train", "test", "UA %", "WA %", "F1 %", "training time"], _fold_rows(r.folds))


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
    utts = None
    if data is not None:  # fail on a bad --data before drawing anything
        from .corpora import load_corpus

        utts = load_corpus(corpus, data)
    figdir = out / FIGURES
    figdir.mkdir(parents=True, exist_ok=True)
    doc = Doc()
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    doc.h(1, title)
    doc.p(f"{len(runs)} run{'s' if len(runs) != 1 else ''}, generated {now}. UA = unweighted accuracy (mean of the per-class "
          "recalls), WA = weighted accuracy (plain accuracy), F1 = macro F1; all in %, mean ± std over the folds of each run's protocol.")
    written = _summary_section(doc, runs, figdir)
    _seed_section(doc)
    _recall_section(doc, runs)
    _streaming_section(doc, runs)
    written += _confusion_section(doc, runs, figdir, progress)
    _details_section(doc, runs)
    if utts is not None:
        written += _exploration(doc, utts, figdir, str(data), progress=progress, eda_max=eda_max)

    md_path, html_path = out / REPORT_MD, out / REPORT_HTML
    md_path.write_text(doc.markdown(), encoding="utf-8")
    html_path.write_text(doc.html(out, title), encoding="utf-8")
    log.info("report: %s, %s", md_path, html_path)
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

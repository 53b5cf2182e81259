"""``emomon report``: compare training runs in ``report.md`` and ``report.html``.

Each run is an ``emomon train`` output folder (or its ``metrics.json``; the contract is in the
project notes). The report holds a summary table (UA/WA/F1 mean ± std over folds, as
percentages, with the protocol and evaluation mode spelled out: *speaker-independent, strict*,
*speaker-independent, speaker-norm* or *speaker-dependent*), the seed study's figures next to
them (accuracy on a random split — said so), per-class recall, per-fold tables, parameters,
training time, CPU ms per clip and per stream window, and confusion matrices as PNG files (linked from the Markdown,
embedded in the HTML). With ``data`` it adds the seed's exploratory figures for that corpus.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import logging
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..errors import DataError
from ..labels import EMOTIONS
from . import figures

log = logging.getLogger(__name__)

METRICS = "metrics.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
FIGURES = "figures"


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


@dataclass(frozen=True)
class Run:
    """One run folder and its parsed ``metrics.json``."""

    name: str
    path: Path
    metrics: dict[str, Any]

    @property
    def evaluation(self) -> str:
        return evaluation_label(self.metrics)


@dataclass(frozen=True)
class ReportResult:
    """Files written by :func:`make_report`."""

    markdown: Path
    html: Path
    figures: list[Path] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# reading runs
# ----------------------------------------------------------------------------------------------
def load_run(path: str | Path, name: str | None = None) -> Run:
    """The run at ``path`` (a folder holding ``metrics.json``, or the file itself)."""
    p = Path(path).expanduser()
    mpath = p if p.is_file() else p / METRICS
    if not p.exists():
        raise DataError(str(p), "no such run folder")
    if not mpath.is_file():
        raise DataError(str(p), f"no {METRICS} here (not an `emomon train` output folder)")
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
    return Run(name=name or folder.name or str(metrics["model"]), path=folder, metrics=metrics)


def load_runs(paths: Sequence[str | Path]) -> list[Run]:
    """:func:`load_run` for each path; duplicate folder names get the model name / a number added."""
    if not paths:
        raise DataError("report", "give at least one run folder")
    runs = [load_run(p) for p in paths]
    seen: dict[str, int] = {}
    out = []
    for r in runs:
        name = r.name
        if sum(x.name == name for x in runs) > 1:
            name = f"{name} ({r.metrics['model']})"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} #{seen[name]}"
        out.append(Run(name, r.path, r.metrics))
    return out


# ----------------------------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------------------------
def evaluation_label(m: dict[str, Any]) -> str:
    """``speaker-independent, strict`` / ``speaker-independent, speaker-norm`` / ``speaker-dependent``."""
    if not m.get("speaker_independent", m.get("protocol") != "random"):
        return "speaker-dependent (a speaker's clips on both sides)"
    if m.get("mode") == "speaker-norm":
        return "speaker-independent, speaker-norm (uses test speakers' unlabelled feature statistics)"
    return "speaker-independent, strict"


def _stat(v: Any) -> tuple[float | None, float | None]:
    if isinstance(v, dict):
        return v.get("mean"), v.get("std")
    if isinstance(v, (int, float)):
        return float(v), None
    return None, None


def pct(v: Any) -> str:
    """``{"mean": 0.45, "std": 0.02}`` → ``"45.0 ± 2.0"``; a bare fraction → ``"45.0"``; else ``"–"``."""
    mean, std = _stat(v)
    if mean is None:
        return "–"
    return f"{100 * mean:.1f}" + (f" ± {100 * std:.1f}" if std is not None else "")


def human_seconds(s: Any) -> str:
    if not isinstance(s, (int, float)):
        return "–"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def human_count(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return "–"
    if n >= 1e6:
        return f"{n / 1e6:.1f} M"
    if n >= 1e4:
        return f"{n / 1e3:.0f} k"
    return f"{int(n):,}"


def _num(v: Any, fmt: str = "{:.1f}") -> str:
    return fmt.format(v) if isinstance(v, (int, float)) else "–"


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
    present = {lab for r in runs for lab in (r.metrics.get("labels") or r.metrics.get("per_class_recall", {}).keys())}
    return [e for e in EMOTIONS if e in present] + sorted(present - set(EMOTIONS))


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
    """Write ``out/report.md``, ``out/report.html`` and ``out/figures/*.png`` comparing the runs."""
    out = Path(out).expanduser()
    check_out(out, force)
    runs = load_runs(run_paths)
    utts = None
    if data is not None:  # fail on a bad --data before drawing anything
        from .corpora import load_corpus

        utts = load_corpus(corpus, data)
    figdir = out / FIGURES
    figdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    doc = Doc()
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    doc.h(1, title)
    doc.p(f"{len(runs)} run{'s' if len(runs) != 1 else ''}, generated {now}. UA = unweighted accuracy (mean of the per-class "
          "recalls), WA = weighted accuracy (plain accuracy), F1 = macro F1; all in %, mean ± std over the folds of each run's protocol.")

    # summary --------------------------------------------------------------------------------
    doc.h(2, "Summary")
    rows = []
    for r in runs:
        m = r.metrics
        rows.append([
            r.name, str(m.get("model", "–")), str(m.get("protocol", "–")), r.evaluation, str(len(m.get("folds") or []) or "–"),
            str(m.get("n_utterances", "–")), pct(m.get("ua")), pct(m.get("wa")), pct(m.get("f1")),
            human_count(m.get("num_parameters")), human_seconds(m.get("train_seconds")), _num(m.get("cpu_ms_per_clip")),
            _num(m.get("cpu_ms_per_window")),
        ])
    doc.table(["run", "model", "protocol", "evaluation", "folds", "clips", "UA %", "WA %", "F1 %", "parameters", "training time",
               "CPU ms/clip", "CPU ms/window"], rows)
    if any(not r.metrics.get("speaker_independent", True) for r in runs):
        doc.p("Speaker-dependent runs put clips of the same speakers in training and test sets: their figures are higher "
              "than what a new speaker gets and must not be compared with the speaker-independent ones.")
    if any(r.metrics.get("mode") == "speaker-norm" for r in runs):
        doc.p("Speaker-norm runs normalise features with each test speaker's own (unlabelled) statistics, which a live "
              "monitor only has after hearing that speaker for a while.")
    bars = [figures.Bar(r.name, _stat(r.metrics.get("ua"))[0], _stat(r.metrics.get("ua"))[1] or 0.0,
                        _stat(r.metrics.get("wa"))[0], _stat(r.metrics.get("wa"))[1] or 0.0) for r in runs]
    bars += [figures.Bar(s.name.replace("seed: ", ""), None, 0.0, s.accuracy, 0.0, seed=True) for s in SEED_RESULTS]
    written.append(figures.plot_summary(bars, figdir / "summary.png"))
    doc.img(f"{FIGURES}/summary.png", "UA and WA per run, with the seed study's accuracies (random split)")

    # seed -----------------------------------------------------------------------------------
    doc.h(2, "The seed study, for reference")
    doc.table(["model", "accuracy %", "split", "parameters", "notes"],
              [[s.name, f"{100 * s.accuracy:.1f}", "random (speaker-dependent)", human_count(s.parameters), s.notes] for s in SEED_RESULTS])
    doc.p(f"The seed study reports accuracy on a {SEED_SPLIT}. Its numbers are comparable only to the WA of a "
          "speaker-dependent (`random` protocol) run, not to the speaker-independent UA above.")

    # per-class recall -----------------------------------------------------------------------
    labels = _labels_of(runs)
    doc.h(2, "Per-class recall (%)")
    doc.table(["emotion", *[r.name for r in runs]],
              [[lab, *[pct((r.metrics.get("per_class_recall") or {}).get(lab)) for r in runs]] for lab in labels])

    # streaming, calibration, noise ----------------------------------------------------------
    if any(r.metrics.get(k) for r in runs for k in ("streamed", "ece", "noise")):
        doc.h(2, "Streaming, calibration and noise")
        doc.p("Streamed decision: a clip's label from the mean of its non-silent 3 s stream windows (what `file --stream` "
              "shows), beside the whole-clip UA. ECE: expected calibration error of the whole-clip probabilities (15 bins). "
              "Noise: each fold's model on noisy copies of its test clips (white, pink, babble of other speakers) at the given SNR.")
        conds = sorted({(c["kind"], c["snr_db"]) for r in runs for c in r.metrics.get("noise") or []},
                       key=lambda c: (c[0], -c[1]))
        headers = ["run", "UA %", "streamed UA %", "ECE %", *[f"{k} {snr:g} dB UA %" for k, snr in conds]]
        rows = []
        for r in runs:
            m = r.metrics
            by_cond = {(c["kind"], c["snr_db"]): c for c in m.get("noise") or []}
            rows.append([r.name, pct(m.get("ua")), pct((m.get("streamed") or {}).get("ua")), pct(m.get("ece")),
                         *[pct(by_cond[c]["ua"]) if c in by_cond else "–" for c in conds]])
        doc.table(headers, rows)

    # confusion matrices ---------------------------------------------------------------------
    doc.h(2, "Confusion matrices")
    doc.p("Rows are the true emotion, columns the prediction, summed over the test folds; colour is the fraction of the row.")
    from tqdm import tqdm

    for r in tqdm(runs, desc="confusion matrices", unit="run", file=sys.stderr, disable=not progress):
        cm = r.metrics.get("confusion")
        if not cm:
            doc.p(f"{r.name}: no confusion matrix in its metrics.json.")
            continue
        rl = r.metrics.get("labels") or list(EMOTIONS)[: len(cm)]
        name = f"confusion-{_slug(r.name)}.png"
        ua = pct(r.metrics.get("ua"))
        written.append(figures.plot_confusion(cm, rl, figdir / name, f"{r.name}: {r.metrics.get('model')} / {r.metrics.get('protocol')} / {r.evaluation}\nUA {ua} %"))
        doc.img(f"{FIGURES}/{name}", f"{r.name} — confusion matrix")

    # details --------------------------------------------------------------------------------
    doc.h(2, "Runs in detail")
    for r in runs:
        m = r.metrics
        doc.h(3, r.name)
        params = [
            ["folder", str(r.path)], ["model (recipe)", str(m.get("model"))], ["protocol", str(m.get("protocol"))],
            ["evaluation", r.evaluation], ["data", str(m.get("data", "–"))], ["clips", str(m.get("n_utterances", "–"))],
            ["labels", ", ".join(m.get("labels") or [])], ["parameters", f"{m['num_parameters']:,}" if isinstance(m.get("num_parameters"), int) else "–"],
            ["training time (all folds)", human_seconds(m.get("train_seconds"))], ["CPU ms per clip", _num(m.get("cpu_ms_per_clip"))],
            ["CPU ms per stream window (one thread)", _num(m.get("cpu_ms_per_window"))],
            ["final model", str(m.get("final_model") or "none")], ["created", str(m.get("created", "–"))],
            ["emomon version", str(m.get("emomon_version", "–"))],
        ]
        extra = m.get("extra")
        if extra:
            params.append(["recipe settings", json.dumps(extra, sort_keys=True, default=str)])
        doc.table(["parameter", "value"], params)
        folds = m.get("folds") or []
        if folds:
            doc.table(["fold", "test speakers", "train", "test", "UA %", "WA %", "F1 %", "training time"], [
                [str(f.get("fold", "?")), ", ".join(map(str, f.get("test_speakers") or [])), str(f.get("n_train", "–")), str(f.get("n_test", "–")),
                 pct(f.get("ua")), pct(f.get("wa")), pct(f.get("f1")), human_seconds(f.get("train_seconds"))]
                for f in folds
            ])

    # exploration ----------------------------------------------------------------------------
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

"""The results of a training run: one typed home for what ``metrics.json`` holds.

The runner builds a :class:`RunResults` and writes :meth:`RunResults.to_dict`; the report reads
``metrics.json`` back with :meth:`RunResults.from_dict`. The JSON layout (the project's metrics
contract) is::

    {model, protocol, speaker_independent, mode, labels, data, n_utterances,
     ua/wa/f1/ece: {mean, std}, ece_pooled, ece_floor, collapse, per_class_recall: {label: {mean, std}}, folds: [FoldResult...],
     confusion, num_parameters, train_seconds, wall_seconds, cpu_ms_per_clip, cpu_ms_per_window,
     final_model, created, emomon_version, extra,
     streamed/file: Figures (other decisions), noise: [NoiseFigures...],
     corpora: {corpus: Figures} (per test corpus), online_adaptive: OnlineAdaptive (a labelled mode)}

``collapse`` (``{label, share, entropy, entropy_max}``, :class:`~emomon.training.metrics.Collapse`)
is beside every set of figures (the run, each decision, test corpus and curve point: all its
folds' answers pooled) and every fold row: how much the answers pile onto one class.
Fractions are in ``[0, 1]``; ``std`` is the population std over folds; ``None`` = not measured.
``ece`` is the mean ± std of each fold's ECE; ``ece_pooled`` the ECE of all the folds' test clips
together, and ``ece_floor`` what a perfectly calibrated model would show on those clips (ECE is
biased upwards on small sets: a few hundred clips put the floor at several points).
Files written before a key existed read back with that key empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import DataError
from ..records import rounded
from .metrics import Collapse, FoldMetrics, MeanStd, Summary


def _r(x: float | None) -> float | None:
    """``x`` rounded to 6 digits for JSON; ``None`` for ``None``, NaN or infinity (:func:`~emomon.records.rounded`)."""
    return rounded(x, 6)


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


@dataclass
class Score:
    """Mean and population std over folds (``None`` when not measured)."""

    mean: float | None
    std: float | None = None

    @classmethod
    def of(cls, m: MeanStd) -> "Score":
        return cls(_r(m.mean), _r(m.std))

    def to_dict(self) -> dict[str, float | None]:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def parse(cls, v: Any) -> "Score | None":
        """A ``{"mean", "std"}`` dict or a bare number; ``None`` for anything else."""
        if isinstance(v, Mapping) and _num(v.get("mean")) is not None:
            return cls(_num(v["mean"]), _num(v.get("std")))
        return cls(_num(v)) if _num(v) is not None else None


def rounded_collapse(c: Collapse | None) -> Collapse | None:
    """``c`` with its figures rounded as JSON keeps them (:func:`_r`), so results read back compare equal."""
    if c is None:
        return None
    return Collapse(c.label, *(float("nan") if _r(v) is None else float(_r(v)) for v in (c.share, c.entropy, c.entropy_max)))


def collapse_dict(c: Collapse) -> dict[str, Any]:
    """``{"label", "share", "entropy", "entropy_max"}`` (rounded; JSON's form of a :class:`Collapse`)."""
    return {"label": c.label, "share": _r(c.share), "entropy": _r(c.entropy), "entropy_max": _r(c.entropy_max)}


def parse_collapse(v: Any) -> Collapse | None:
    """A :class:`Collapse` from its JSON form; ``None`` when absent (a file written before it) or malformed."""
    if not isinstance(v, Mapping) or _num(v.get("share")) is None:
        return None
    entropy, ceiling = _num(v.get("entropy")), _num(v.get("entropy_max"))
    return Collapse(str(v["label"]) if v.get("label") is not None else None, float(v["share"]),
                    float("nan") if entropy is None else entropy, float("nan") if ceiling is None else ceiling)


def _calibration_dict(x: "Figures | RunResults") -> dict[str, Any]:
    """The calibration and collapse entries (``ece``, ``ece_pooled``, ``ece_floor``, ``collapse``)
    of a :class:`Figures`' or a :class:`RunResults`' dict: those that are set."""
    d: dict[str, Any] = {}
    if x.ece is not None:
        d["ece"] = x.ece.to_dict()
    for key in ("ece_pooled", "ece_floor"):
        if getattr(x, key) is not None:
            d[key] = getattr(x, key)
    if x.collapse is not None:
        d["collapse"] = collapse_dict(x.collapse)
    return d


@dataclass
class Row:
    """Metrics of one test set (a fold, a fold's decision, a fold's test corpus)."""

    ua: float | None
    wa: float | None
    f1: float | None
    n: int | None = None
    unanswered: int | None = None
    collapse: Collapse | None = None

    @classmethod
    def of(cls, m: FoldMetrics, unanswered: bool = False) -> "Row":
        return cls(_r(m.ua), _r(m.wa), _r(m.f1), m.n, m.unanswered if unanswered else None, rounded_collapse(m.collapse))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"ua": self.ua, "wa": self.wa, "f1": self.f1}
        if self.n is not None:
            d["n"] = self.n
        if self.unanswered is not None:
            d["unanswered"] = self.unanswered
        if self.collapse is not None:
            d["collapse"] = collapse_dict(self.collapse)
        return d

    @classmethod
    def parse(cls, v: Any) -> "Row":
        v = v if isinstance(v, Mapping) else {}
        n, un = v.get("n"), v.get("unanswered")
        return cls(_num(v.get("ua")), _num(v.get("wa")), _num(v.get("f1")), int(n) if _num(n) is not None else None,
                   int(un) if _num(un) is not None else None, parse_collapse(v.get("collapse")))


@dataclass
class Figures:
    """Metrics aggregated over folds: a decision, a noise condition, a test corpus, a curve point."""

    ua: Score
    wa: Score
    f1: Score
    per_class_recall: dict[str, Score] = field(default_factory=dict)
    ece: Score | None = None
    unanswered: int | None = None
    what: str | None = None
    n: int | None = None
    ece_pooled: float | None = None  # ECE of all the folds' test clips together
    ece_floor: float | None = None  # what a perfectly calibrated model would show on them (ECE's noise floor)
    collapse: Collapse | None = None  # of all the folds' answers pooled

    @classmethod
    def of(cls, s: Summary, **kw: Any) -> "Figures":
        return cls(Score.of(s.ua), Score.of(s.wa), Score.of(s.f1), {k: Score.of(v) for k, v in s.per_class_recall.items()},
                   collapse=rounded_collapse(s.collapse), **kw)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"ua": self.ua.to_dict(), "wa": self.wa.to_dict(), "f1": self.f1.to_dict(),
                             "per_class_recall": {k: v.to_dict() for k, v in self.per_class_recall.items()}}
        for key in ("unanswered", "what", "n"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        d.update(_calibration_dict(self))
        return d

    @classmethod
    def parse(cls, v: Any) -> "Figures | None":
        if not isinstance(v, Mapping) or Score.parse(v.get("ua")) is None:
            return None
        recall = {str(k): Score.parse(x) or Score(None) for k, x in (v.get("per_class_recall") or {}).items()}
        empty = Score(None)
        un, n = v.get("unanswered"), v.get("n")
        return cls(Score.parse(v.get("ua")) or empty, Score.parse(v.get("wa")) or empty, Score.parse(v.get("f1")) or empty, recall,
                   Score.parse(v.get("ece")), int(un) if _num(un) is not None else None,
                   str(v["what"]) if v.get("what") else None, int(n) if _num(n) is not None else None,
                   _num(v.get("ece_pooled")), _num(v.get("ece_floor")), parse_collapse(v.get("collapse")))


@dataclass
class NoiseFigures:
    """The fold models tested on noisy copies of their test clips."""

    kind: str
    snr_db: float
    figures: Figures

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "snr_db": self.snr_db, **self.figures.to_dict()}


@dataclass
class EpochRecord:
    """One epoch of a neural recipe's training: its mean training loss, seconds, and the validation
    loss and UA (held-out training speakers or clips) when it validated. Epoch 0, when there is
    one, is the starting point validated before any step (e.g. a linear probe): no training loss."""

    epoch: int
    train_loss: float | None
    seconds: float | None = None
    val_loss: float | None = None
    val_ua: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("epoch", self.epoch), ("train_loss", self.train_loss), ("seconds", self.seconds),
                                  ("val_loss", self.val_loss), ("val_ua", self.val_ua)) if v is not None}

    @classmethod
    def parse(cls, v: Mapping[str, Any]) -> "EpochRecord":
        return cls(int(v.get("epoch", 0)), _num(v.get("train_loss")), _num(v.get("seconds")),
                   _num(v.get("val_loss")), _num(v.get("val_ua")))


@dataclass
class FoldResult:
    """One fold: its sides, whole-clip metrics and the other decisions' rows."""

    fold: str
    test_speakers: list[str]
    n_train: int | None
    n_test: int | None
    ua: float | None
    wa: float | None
    f1: float | None
    per_class_recall: dict[str, float | None] = field(default_factory=dict)
    train_seconds: float | None = None
    ece: float | None = None
    ece_floor: float | None = None
    decisions: dict[str, Row] = field(default_factory=dict)  # "streamed", "file"
    noise: dict[str, Row] = field(default_factory=dict)  # "white@10dB"
    corpora: dict[str, Row] = field(default_factory=dict)  # per test corpus
    online: dict[str, Row] = field(default_factory=dict)  # per curve point ("0", "5", ..., "all")
    history: list[EpochRecord] = field(default_factory=list)  # neural recipes: the fold's training curve
    collapse: Collapse | None = None  # of the fold's whole-clip answers

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"fold": self.fold, "test_speakers": self.test_speakers, "n_train": self.n_train, "n_test": self.n_test,
                             "ua": self.ua, "wa": self.wa, "f1": self.f1, "per_class_recall": self.per_class_recall,
                             "train_seconds": self.train_seconds, "ece": self.ece}
        if self.ece_floor is not None:
            d["ece_floor"] = self.ece_floor
        if self.collapse is not None:
            d["collapse"] = collapse_dict(self.collapse)
        d.update({k: r.to_dict() for k, r in self.decisions.items()})
        for key in ("noise", "corpora", "online"):
            if getattr(self, key):
                d[key] = {k: r.to_dict() for k, r in getattr(self, key).items()}
        if self.history:
            d["history"] = [e.to_dict() for e in self.history]
        return d

    @classmethod
    def parse(cls, v: Mapping[str, Any]) -> "FoldResult":
        n_train, n_test = v.get("n_train"), v.get("n_test")
        return cls(
            fold=str(v.get("fold", "?")),
            test_speakers=[str(v["test_speakers"])] if isinstance(v.get("test_speakers"), str) else [str(s) for s in v.get("test_speakers") or ()],
            n_train=int(n_train) if _num(n_train) is not None else None, n_test=int(n_test) if _num(n_test) is not None else None,
            ua=_num(v.get("ua")), wa=_num(v.get("wa")), f1=_num(v.get("f1")),
            per_class_recall={str(k): _num(x) for k, x in (v.get("per_class_recall") or {}).items()},
            train_seconds=_num(v.get("train_seconds")), ece=_num(v.get("ece")), ece_floor=_num(v.get("ece_floor")),
            decisions={k: Row.parse(v[k]) for k in ("streamed", "file") if isinstance(v.get(k), Mapping)},
            noise={str(k): Row.parse(x) for k, x in (v.get("noise") or {}).items()},
            corpora={str(k): Row.parse(x) for k, x in (v.get("corpora") or {}).items()},
            online={str(k): Row.parse(x) for k, x in (v.get("online") or {}).items()},
            history=[EpochRecord.parse(e) for e in v.get("history") or () if isinstance(e, Mapping)],
            collapse=parse_collapse(v.get("collapse")),
        )


ONLINE_MODE = "online-adaptive"


@dataclass
class OnlinePointFigures:
    """UA etc. of the clips classified after ``heard`` clips of their speaker (``"all"``: all before)."""

    heard: str
    figures: Figures

    def to_dict(self) -> dict[str, Any]:
        return {"heard": self.heard, **self.figures.to_dict()}


@dataclass
class OnlineAdaptive:
    """The labelled online-adaptive mode: the curve of UA against clips heard (its own section)."""

    points: list[OnlinePointFigures]
    order: str = "each test speaker's clips in a seeded random order; each clip standardised with the clips before it only"
    mode: str = ONLINE_MODE
    corpora: dict[str, list[OnlinePointFigures]] = field(default_factory=dict)

    def point(self, heard: str) -> Figures | None:
        return next((p.figures for p in self.points if p.heard == heard), None)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"mode": self.mode, "order": self.order, "points": [p.to_dict() for p in self.points]}
        if self.corpora:
            d["corpora"] = {c: [p.to_dict() for p in ps] for c, ps in self.corpora.items()}
        return d

    @classmethod
    def parse(cls, v: Any) -> "OnlineAdaptive | None":
        if not isinstance(v, Mapping):
            return None

        def pts(rows: Any) -> list[OnlinePointFigures]:
            return [OnlinePointFigures(str(p["heard"]), f) for p in rows or () if isinstance(p, Mapping) and "heard" in p
                    and (f := Figures.parse(p)) is not None]

        return cls(pts(v.get("points")), str(v.get("order") or cls.order), str(v.get("mode") or ONLINE_MODE),
                   {str(c): pts(ps) for c, ps in (v.get("corpora") or {}).items()})


@dataclass
class RunResults:
    """Everything a run measured (see the module docstring for the JSON layout)."""

    model: str
    protocol: str
    speaker_independent: bool
    mode: str
    labels: list[str]
    data: str
    n_utterances: int | None
    ua: Score
    wa: Score
    f1: Score
    per_class_recall: dict[str, Score]
    folds: list[FoldResult]
    confusion: list[list[int]] | None = None
    ece: Score | None = None
    ece_pooled: float | None = None
    ece_floor: float | None = None
    num_parameters: int | None = None
    train_seconds: float | None = None
    wall_seconds: float | None = None
    cpu_ms_per_clip: float | None = None
    cpu_ms_per_window: float | None = None
    final_model: str | None = None
    created: str | None = None
    emomon_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    decisions: dict[str, Figures] = field(default_factory=dict)  # "streamed", "file"
    noise: list[NoiseFigures] = field(default_factory=list)
    corpora: dict[str, Figures] = field(default_factory=dict)
    online_adaptive: OnlineAdaptive | None = None
    protocol_label: str | None = None
    collapse: Collapse | None = None  # of every fold's whole-clip answers pooled

    @property
    def streamed(self) -> Figures | None:
        return self.decisions.get("streamed")

    @property
    def file(self) -> Figures | None:
        return self.decisions.get("file")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "model": self.model, "protocol": self.protocol, "speaker_independent": self.speaker_independent, "mode": self.mode,
            "labels": self.labels, "data": self.data, "n_utterances": self.n_utterances,
            "ua": self.ua.to_dict(), "wa": self.wa.to_dict(), "f1": self.f1.to_dict(),
            "per_class_recall": {k: v.to_dict() for k, v in self.per_class_recall.items()},
            "folds": [f.to_dict() for f in self.folds], "confusion": self.confusion,
            "num_parameters": self.num_parameters, "train_seconds": self.train_seconds, "wall_seconds": self.wall_seconds,
            "cpu_ms_per_clip": self.cpu_ms_per_clip, "cpu_ms_per_window": self.cpu_ms_per_window, "final_model": self.final_model,
            "created": self.created, "emomon_version": self.emomon_version, "extra": self.extra,
        }
        d.update(_calibration_dict(self))
        d.update({k: f.to_dict() for k, f in self.decisions.items()})
        if self.noise:
            d["noise"] = [n.to_dict() for n in self.noise]
        if self.corpora:
            d["corpora"] = {k: f.to_dict() for k, f in self.corpora.items()}
        if self.online_adaptive is not None:
            d["online_adaptive"] = self.online_adaptive.to_dict()
        if self.protocol_label:
            d["protocol_label"] = self.protocol_label
        return d

    @classmethod
    def from_dict(cls, m: Mapping[str, Any], where: str = "metrics.json") -> "RunResults":
        """Parse a metrics dict; :class:`DataError` naming ``where`` when it is not one or is malformed."""
        if not isinstance(m, Mapping) or "model" not in m or "protocol" not in m:
            raise DataError(where, "not an emomon metrics.json (no model/protocol)")
        try:
            return cls._parse(m)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(where, f"malformed metrics ({type(exc).__name__}: {exc})") from None

    @classmethod
    def _parse(cls, m: Mapping[str, Any]) -> "RunResults":
        recall = {str(k): Score.parse(v) or Score(None) for k, v in (m.get("per_class_recall") or {}).items()}
        empty = Score(None)
        noise = [NoiseFigures(str(c["kind"]), float(c["snr_db"]), f) for c in m.get("noise") or ()
                 if isinstance(c, Mapping) and "kind" in c and _num(c.get("snr_db")) is not None and (f := Figures.parse(c)) is not None]
        cm = m.get("confusion")
        confusion = [[int(x) for x in row] for row in cm] if isinstance(cm, list) and all(isinstance(r, list) for r in cm) else None
        n_utt, n_par = m.get("n_utterances"), m.get("num_parameters")
        return cls(
            model=str(m["model"]), protocol=str(m["protocol"]),
            speaker_independent=bool(m["protocol"] != "random" if m.get("speaker_independent") is None else m["speaker_independent"]), mode=str(m.get("mode") or "strict"),
            labels=[str(x) for x in m.get("labels") or recall], data=str(m.get("data") or ""),
            n_utterances=int(n_utt) if _num(n_utt) is not None else None,
            ua=Score.parse(m.get("ua")) or empty, wa=Score.parse(m.get("wa")) or empty, f1=Score.parse(m.get("f1")) or empty,
            per_class_recall=recall, folds=[FoldResult.parse(f) for f in m.get("folds") or () if isinstance(f, Mapping)],
            confusion=confusion, ece=Score.parse(m.get("ece")), ece_pooled=_num(m.get("ece_pooled")), ece_floor=_num(m.get("ece_floor")),
            num_parameters=int(n_par) if _num(n_par) is not None else None,
            train_seconds=_num(m.get("train_seconds")), wall_seconds=_num(m.get("wall_seconds")),
            cpu_ms_per_clip=_num(m.get("cpu_ms_per_clip")), cpu_ms_per_window=_num(m.get("cpu_ms_per_window")),
            final_model=str(m["final_model"]) if m.get("final_model") else None,
            created=str(m["created"]) if m.get("created") else None,
            emomon_version=str(m["emomon_version"]) if m.get("emomon_version") else None,
            extra=dict(m.get("extra") or {}),
            decisions={k: f for k in ("streamed", "file") if (f := Figures.parse(m.get(k))) is not None},
            noise=noise, corpora={str(k): f for k, v in (m.get("corpora") or {}).items() if (f := Figures.parse(v)) is not None},
            online_adaptive=OnlineAdaptive.parse(m.get("online_adaptive")),
            protocol_label=str(m["protocol_label"]) if m.get("protocol_label") else None,
            collapse=parse_collapse(m.get("collapse")),
        )

"""Table cells of the report: percentages with their std, ECE with its floor, durations, counts, labels.

Every function here turns one typed figure (a :class:`~emomon.training.results.Score`, a fraction,
a number of seconds, a :class:`~emomon.training.metrics.Collapse`) into the text of one cell, with
``–`` for what was not measured.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..metrics import Collapse
from ..results import Score

NOT_AVAILABLE = "n/a"
"""The cell of a figure the run's source cannot carry (a model's ``config.json``)."""

ECE_EXPLAINED = ("ECE: expected calibration error of the whole-clip probabilities (15 bins), of all the folds' test clips "
                 "pooled, with its floor (what a perfectly calibrated model would show on as many clips: ECE is biased upwards "
                 "on small sets) and the mean ± std of the folds' own ECE.")

COLLAPSE_HEADERS = ["largest predicted class, % of clips", "predicted-label entropy / ceiling (bits)"]
"""Headers of the two :func:`collapse_cells` columns."""


def _is_number(v: Any) -> bool:
    """True for an ``int`` or ``float`` (not a ``bool``)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


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


def ece_cell(folds: Score | None, pooled: float | None, floor: float | None) -> str:
    """``"4.6 (floor 2.8; folds 6.8 ± 1.7)"``; the folds' mean ± std alone for runs that did not record the pooled ECE."""
    if pooled is None:
        return pct(folds)
    return f"{100 * pooled:.1f} (floor {pct(floor)}; folds {pct(folds)})"


def human_seconds(s: float | None) -> str:
    """``"42.0 s"``, ``"3.5 min"`` or ``"2.10 h"``; ``"–"`` when not a number."""
    if not _is_number(s):
        return "–"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def human_count(n: float | None) -> str:
    """``"95.0 M"``, ``"377 k"`` or ``"1,234"``; ``"–"`` when not a number."""
    if not _is_number(n):
        return "–"
    if n >= 1e6:
        return f"{n / 1e6:.1f} M"
    if n >= 1e4:
        return f"{n / 1e3:.0f} k"
    return f"{int(n):,}"


def collapse_cells(c: Collapse | None) -> list[str]:
    """``["disgust 70.4", "1.21 / 2.81"]``: the most often predicted class with its share % of the
    answers, and the entropy of the predicted labels against its ceiling (bits); ``–`` when not recorded."""
    if c is None or c.label is None:
        return ["–", "–"]
    return [f"{c.label} {100 * c.share:.1f}", f"{c.entropy:.2f} / {c.entropy_max:.2f}"]


def _num(v: float | None, fmt: str = "{:.1f}") -> str:
    """``v`` through ``fmt``; ``"–"`` when not a number."""
    return fmt.format(v) if _is_number(v) else "–"


def _text(v: Any) -> str:
    """``str(v)``; ``"–"`` for ``None`` or an empty string."""
    return "–" if v is None or v == "" else str(v)


def _slug(name: str) -> str:
    """A file-name-safe form of a run's name (``"a b/c"`` → ``"a-b-c"``); ``"run"`` when nothing is left."""
    s = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.")
    return s or "run"

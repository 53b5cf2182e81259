"""What an interrupted ``emomon train`` leaves behind so that the same command resumes it.

OUT/folds/ holds the run's state, every file written atomically (:mod:`emomon.atomic`) as
strict JSON (no NaN/Infinity) and read back into typed records, never unpickled::

    OUT/folds/_settings.json  RunSettings: what the results depend on, and their digest
    OUT/folds/<fold>.json     FoldFile: one finished fold's outcome (the fold id, ':' as %3A)
    OUT/folds/_final.json     FinalRecord: OUT/model is complete

A fold's outcome is what the runner aggregates (its test clips' probabilities, the other
decisions' predictions, the online-adaptive points, the noisy-copy predictions, its training
time), so a rerun of the same command reuses every finished fold, trains only the missing ones
(and the final model when it is missing) and writes the same metrics as an uninterrupted run.
A rerun with other settings (recipe, options, protocol, folds, labels, mode, seed, epochs,
noise, data, compute device, emomon version) is refused (:class:`~emomon.errors.DataError`)
unless ``--force``, which starts again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from ..atomic import atomic_write_text
from ..errors import DataError
from ..records import Utterance
from .cache import file_digest
from .protocols import Fold
from .results import EpochRecord

log = logging.getLogger(__name__)

FORMAT = 2
"""The layout of the state files; a file of another format is not reused (format 1 stamped
the data with file times, so a fresh copy of the same corpus looked like other data)."""
STATE_DIRNAME = "folds"
SETTINGS_NAME = "_settings.json"
FINAL_NAME = "_final.json"

T = TypeVar("T")


# -- the records ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSettings:
    """Everything a fold's outcome depends on besides the fold's own clips (see the module doc)."""

    recipe: str
    options: dict[str, Any]
    protocol: str
    mode: str
    labels: list[str]
    seed: int
    epochs: int | None
    noise: list[str]
    data: str
    data_digest: str
    compute: str
    emomon_version: str

    @property
    def digest(self) -> str:
        """SHA-256 of the settings' canonical JSON, without ``data`` (the directories as typed:
        ``data_digest`` stands for what they hold, so another spelling of the same path, or the
        same corpus copied elsewhere, resumes the run)."""
        return _digest({k: v for k, v in dataclasses.asdict(self).items() if k != "data"})

    def differences(self, other: "RunSettings") -> list[str]:
        """What differs from ``other`` (the earlier run's), one phrase each."""
        out = []
        for f in dataclasses.fields(self):
            old, new = getattr(other, f.name), getattr(self, f.name)
            if old == new or f.name == "data":
                continue
            if f.name == "data_digest":
                out.append("the data's files (added, removed or changed)")
            elif f.name == "options" and self.recipe != other.recipe:
                continue  # another recipe: its options differ as a matter of course
            elif f.name == "options":
                keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
                out += [f"--set {k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys]
            else:
                out.append(f"{f.name}: {old!r} -> {new!r}")
        return out


@dataclass
class OnlinePointOutcome:
    """One point of the online-adaptive curve: the clips it counts and their probabilities."""

    heard: str
    counted: list[int]
    probs: list[list[float]]


@dataclass
class NoiseOutcome:
    """The fold's model on noisy copies of its test clips: the predicted label indices."""

    kind: str
    snr_db: float
    pred: list[int]


@dataclass
class FoldOutcome:
    """What one fold measured, before aggregation: rows in the order of ``test_ids``.

    ``decisions``: per decision (``streamed``, ``file``) the predicted label index of each clip
    (-1: no answer). ``num_parameters``: the fold's model's size; ``cpu_ms_*``: measured on the
    last fold's model when the run trains no final model (then they and its size are reported).
    ``history``: the training curve of a neural recipe's model (empty for the others).
    """

    fold: str
    test_ids: list[str]
    probs: list[list[float]]
    train_seconds: float
    decisions: dict[str, list[int]] = field(default_factory=dict)
    online: list[OnlinePointOutcome] = field(default_factory=list)
    noise: list[NoiseOutcome] = field(default_factory=list)
    num_parameters: int | None = None
    cpu_ms_per_clip: float | None = None
    cpu_ms_per_window: float | None = None
    history: list[EpochRecord] = field(default_factory=list)


@dataclass
class FoldFile:
    """OUT/folds/<fold>.json: a fold's outcome, the settings digest and the fold's split digest."""

    format: int
    settings: str
    split: str
    outcome: FoldOutcome


@dataclass
class SettingsFile:
    """OUT/folds/_settings.json."""

    format: int
    digest: str
    settings: RunSettings


@dataclass
class FinalRecord:
    """OUT/folds/_final.json: OUT/model was saved whole by a run with these settings."""

    format: int
    settings: str
    train_seconds: float


# -- strict JSON <-> records -------------------------------------------------------------------
def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not strict JSON")


def to_json(record: Any) -> str:
    """``record`` (a dataclass) as strict JSON text; ``ValueError`` for NaN or infinity."""
    return json.dumps(dataclasses.asdict(record), allow_nan=False, sort_keys=True, default=str) + "\n"


def from_json(cls: type[T], text: str) -> T:
    """The ``cls`` record in ``text``; ``ValueError`` naming the first thing that does not fit."""
    return typed(cls, json.loads(text, parse_constant=_reject_constant), cls.__name__)


def typed(tp: Any, value: Any, where: str) -> Any:
    """``value`` (parsed JSON) checked against the type ``tp``: dataclasses (exactly their
    fields), ``list[T]``, ``dict[str, T]``, ``T | None``, ``int``, ``float``, ``str``, ``bool``, ``Any``."""
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return _typed_record(tp, value, where)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return typed(inner, value, where)
    if origin is list and isinstance(value, list):
        return [typed(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict and isinstance(value, dict):
        return {str(k): typed(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and isinstance(value, tp) and (tp is bool or not isinstance(value, bool)):
        return value
    raise ValueError(f"{where}: expected {getattr(tp, '__name__', tp)}, got {type(value).__name__}")


def _typed_record(cls: Any, value: Any, where: str) -> Any:
    """A dataclass from a JSON object holding exactly its fields (those with defaults may be absent)."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}")
    kw = {}
    for name, f in fields.items():
        if name in value:
            kw[name] = typed(hints[name], value[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ValueError(f"{where}: no {name!r}")
    return cls(**kw)


def settings_mismatch(path: Path, cls: type[Any], fmt: int, digest: str, differences: Callable[[Any], list[str]]) -> str | None:
    """How the settings recorded in ``path`` (a ``cls`` record: ``format``, ``digest``,
    ``settings``) differ from settings of ``digest`` in layout ``fmt``: ``None`` when they are
    the same, else one phrase naming up to four differences (``differences(earlier)`` lists
    them). An unreadable file is a :class:`DataError`. Shared by ``emomon train``'s and
    ``emomon batch``'s state."""
    try:
        earlier = from_json(cls, path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(str(path), f"unreadable ({exc}); use --force to start again") from None
    if earlier.format == fmt and earlier.digest == digest:
        return None
    diff = differences(earlier.settings) if earlier.format == fmt else [f"state format {earlier.format}"]
    return "; ".join(diff[:4] + ([f"and {len(diff) - 4} more"] if len(diff) > 4 else []))


# -- digests -------------------------------------------------------------------------------------
def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def data_digest(utts: Sequence[Utterance], content: Callable[[Path], str] | None = None) -> str:
    """A digest of the clips (id, label, speaker, corpus) and their files' contents.

    Contents, not paths or file times: a corpus copied afresh (a new machine, CI, ``cp`` without
    ``-p``) or named by another path resumes its run; an edited file does not. ``content`` maps a
    path to its SHA-256 (the feature cache's memoised :meth:`~FeatureCache.content_digest`, so
    a run hashes each file once); an unreadable file counts as ``None``.
    """
    content = content or file_digest
    rows = []
    for u in sorted(utts, key=lambda u: u.id):
        try:
            stamp = content(Path(u.path))
        except OSError:
            stamp = None
        rows.append([u.id, u.emotion, u.speaker, u.corpus, stamp])
    return _digest(rows)


def split_digest(fold: Fold) -> str:
    """A digest of the fold's train and test clips (another ``--k`` or ``--folds`` changes it)."""
    return _digest({"id": fold.id, "train": sorted(u.id for u in fold.train), "test": [u.id for u in fold.test]})


def fold_filename(fold_id: str) -> str:
    """``"ravdess:01"`` → ``"ravdess%3A01.json"``: characters other than ``A-Za-z0-9._-``, and a
    leading ``.`` or ``_`` (kept for the state's own files), are %-escaped."""
    escape = lambda m: "".join(f"%{b:02X}" for b in m.group().encode())  # noqa: E731
    return re.sub(r"^[._]|[^A-Za-z0-9._-]", escape, fold_id) + ".json"


# -- the state folder ----------------------------------------------------------------------------
def has_state(out: Path) -> bool:
    """Whether OUT holds the state of a run (its settings file)."""
    return (out / STATE_DIRNAME / SETTINGS_NAME).is_file()


class RunState:
    """OUT/folds/ of one run: checked against this run's settings, then read and written fold by fold."""

    def __init__(self, out: Path, settings: RunSettings) -> None:
        self.out = out
        self.dir = out / STATE_DIRNAME
        self.settings = settings
        self.digest = settings.digest

    @classmethod
    def open(cls, out: Path, settings: RunSettings) -> "RunState":
        """The state under ``out`` for ``settings``: created when absent; :class:`DataError` when
        it holds the results of a run with other settings (the caller clears it for ``--force``)."""
        state = cls(out, settings)
        path = state.dir / SETTINGS_NAME
        if path.is_file():
            state._check_settings(path)
        else:
            if state.dir.is_dir() and any(state.dir.iterdir()):
                raise DataError(str(state.dir), f"holds files but no {SETTINGS_NAME}: not the state of an emomon run "
                                                "(move it away, or use --force to start again)")
            state.dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, to_json(SettingsFile(FORMAT, state.digest, settings)))
        return state

    def _check_settings(self, path: Path) -> None:
        """:class:`DataError` unless ``path`` records this run's settings (one line saying what differs)."""
        shown = settings_mismatch(path, SettingsFile, FORMAT, self.digest, self.settings.differences)
        if shown is None:
            return
        raise DataError(str(self.out), f"holds the unfinished results of a run with other settings ({shown}): "
                                       "rerun with those settings to resume it, or use --force to start again")

    def path(self, fold: Fold) -> Path:
        return self.dir / fold_filename(fold.id)

    def load(self, fold: Fold) -> FoldOutcome | None:
        """The fold's outcome saved by an earlier run with these settings, or ``None`` (to train).

        A file that cannot be read is logged and trained again; one whose fold was split
        otherwise (another ``--k`` or ``--folds``) is a :class:`DataError`.
        """
        path = self.path(fold)
        if not path.is_file():
            return None
        try:
            saved = from_json(FoldFile, path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            log.warning("%s: unreadable (%s); training fold %s again", path, exc, fold.id)
            return None
        if saved.format != FORMAT or saved.settings != self.digest or saved.outcome.fold != fold.id:
            log.warning("%s: not this run's (other settings); training fold %s again", path, fold.id)
            return None
        if saved.split != split_digest(fold) or saved.outcome.test_ids != [u.id for u in fold.test]:
            raise DataError(str(path), f"fold {fold.id} was split otherwise by the earlier run (another --k or --folds?): "
                                       "rerun with those settings to resume it, or use --force to start again")
        return saved.outcome

    def save(self, fold: Fold, outcome: FoldOutcome) -> Path:
        """Write the fold's outcome (atomically)."""
        path = self.path(fold)
        atomic_write_text(path, to_json(FoldFile(FORMAT, self.digest, split_digest(fold), outcome)))
        return path

    def final(self) -> FinalRecord | None:
        """The record of a final model this run's settings saved whole, or ``None``."""
        path = self.dir / FINAL_NAME
        try:
            record = from_json(FinalRecord, path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            log.warning("%s: unreadable (%s); training the final model again", path, exc)
            return None
        return record if record.format == FORMAT and record.settings == self.digest else None

    def mark_final(self, train_seconds: float) -> None:
        """Record that OUT/model is complete (after it was saved)."""
        atomic_write_text(self.dir / FINAL_NAME, to_json(FinalRecord(FORMAT, self.digest, train_seconds)))

    def forget_final(self) -> None:
        """Before the final model is (re)written: OUT/model is not complete until :meth:`mark_final`."""
        (self.dir / FINAL_NAME).unlink(missing_ok=True)

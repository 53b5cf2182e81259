"""What lets an interrupted ``emomon batch`` resume: OUT/_batch.json and the shards' own metadata.

``OUT/_batch.json`` (strict JSON, written atomically) records the job's :class:`BatchSettings`:
everything a row depends on — the model (and a digest of its files), its labels, the compute
device, precision and backend asked for, the analysis options, the shard size and the inputs
(their count and a digest of their sorted paths and sizes) — and the emomon version. A rerun with the same settings skips
every shard file whose metadata names these settings, its index and its row count
(:func:`~emomon.batch.parquet.read_meta`); a rerun with other settings is refused
(:class:`~emomon.errors.DataError`, one line saying what differs) unless ``force``, which
removes the earlier job's files (the state file, ``part-*.parquet``, leftover temporary files)
and nothing else. A folder holding shard files but no state file is refused too: they are not
this job's to overwrite. The Ray settings (address, CPUs, actors, batch size) do not change a
row and may differ between runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..errors import DataError
from ..training.resume import settings_mismatch, to_json
from .inputs import SHARD_PREFIX, SHARD_SUFFIX, Shard
from .parquet import read_meta, shard_files

log = logging.getLogger(__name__)

FORMAT = 1
STATE_NAME = "_batch.json"


@dataclass(frozen=True)
class BatchSettings:
    """Everything the rows of a batch job depend on (see the module doc)."""

    model: str
    model_digest: str
    labels: list[str]
    compute: str
    precision: str
    backend: str
    options: dict[str, Any]
    shard_size: int
    files: int
    inputs_digest: str
    emomon_version: str

    @property
    def digest(self) -> str:
        """SHA-256 of the settings' canonical JSON."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def differences(self, other: "BatchSettings") -> list[str]:
        """What differs from ``other`` (the earlier run's), one phrase each."""
        out = []
        for f in dataclasses.fields(self):
            old, new = getattr(other, f.name), getattr(self, f.name)
            if old == new:
                continue
            if f.name == "inputs_digest":
                out.append("the input files (added, removed or changed in size)")
            elif f.name == "model_digest":
                out.append("the model's files")
            elif f.name == "options":
                out += [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
            else:
                out.append(f"{f.name}: {old!r} -> {new!r}")
        return out


@dataclass
class StateFile:
    """OUT/_batch.json."""

    format: int
    digest: str
    settings: BatchSettings


def _ours(out: Path) -> list[Path]:
    """The files an emomon batch job writes in ``out`` (the state, shards, temporary shards)."""
    temps = out.glob(f".{SHARD_PREFIX}*{SHARD_SUFFIX}.*.tmp")
    return [p for p in [out / STATE_NAME, *shard_files(out), *temps] if p.is_file()]


class BatchState:
    """OUT/ of one batch job: its settings checked, its finished shards recognised."""

    def __init__(self, out: Path, settings: BatchSettings) -> None:
        self.out = out
        self.settings = settings
        self.digest = settings.digest

    @classmethod
    def open(cls, out: str | Path, settings: BatchSettings, force: bool = False) -> "BatchState":
        """The state in ``out`` for ``settings``: created when absent, checked when present
        (:class:`DataError` for other settings, unless ``force``: then the earlier job's files go)."""
        state = cls(Path(out).expanduser(), settings)
        path = state.out / STATE_NAME
        if state.out.exists() and not state.out.is_dir():
            raise DataError(str(state.out), "not a folder (--out names the folder the shards are written to)")
        if force:
            state.clear()
        elif path.is_file():
            state._check(path)
            state._drop_temporaries()
            return state
        elif shard_files(state.out):
            raise DataError(str(state.out), f"holds {SHARD_PREFIX}*{SHARD_SUFFIX} files but no {STATE_NAME}: not an emomon "
                                            "batch job's (choose another --out, or use --force to replace them)")
        try:
            state.out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, to_json(StateFile(FORMAT, state.digest, settings)))
        except OSError as exc:
            raise DataError(str(state.out), f"cannot write ({exc.strerror or exc})") from None
        return state

    def _check(self, path: Path) -> None:
        """:class:`DataError` unless ``path`` records these settings (one line: what differs)."""
        shown = settings_mismatch(path, StateFile, FORMAT, self.digest, self.settings.differences)
        if shown is None:
            return
        shown = shown or "the settings' digest"
        raise DataError(str(self.out), f"holds the results of a batch job with other settings ({shown}): rerun with those "
                                       "settings to resume it, choose another --out, or use --force to start again")

    def clear(self) -> None:
        """Remove the earlier job's files (``--force``); other files stay."""
        for p in _ours(self.out) if self.out.is_dir() else []:
            log.info("removing %s (--force)", p)
            p.unlink()

    def _drop_temporaries(self) -> None:
        """Remove the temporary files of shards a killed run was writing (never finished ones)."""
        for p in self.out.glob(f".{SHARD_PREFIX}*{SHARD_SUFFIX}.*.tmp"):
            log.info("removing %s (a shard an earlier run did not finish writing)", p)
            p.unlink(missing_ok=True)

    def path(self, shard: Shard) -> Path:
        return self.out / shard.name

    def done(self, shard: Shard) -> int | None:
        """The error rows of ``shard`` when a finished file of this job holds it, else ``None``."""
        path = self.path(shard)
        if not path.is_file():
            return None
        meta = read_meta(path)
        if meta is None or meta.settings != self.digest or meta.shard != shard.index or meta.rows != len(shard.items):
            if meta is not None:
                log.warning("%s: not this job's shard %d; it is written again", path, shard.index)
            return None
        return meta.errors

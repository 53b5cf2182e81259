"""What a batch job analyses, and how it is cut into shards.

An argument is a CSV/JSONL **manifest** (by its suffix: a ``path`` column, or key, naming one
audio file a row; relative paths are relative to the manifest's folder; other columns are
ignored) or anything ``emomon file`` takes: a file, a folder (searched recursively) or a glob
(:func:`~emomon.timeline.inputs.expand_inputs`). The files are **sorted** (component by component)
and each listed once, then cut into shards of ``shard_size`` files in that order
(:func:`plan_shards`): the same inputs and shard size always give the same shards, which is what
lets an interrupted job skip the shards it finished.

A folder that cannot be read inside the tree is an item with ``error`` set (a row of the results,
as in ``emomon file``); an argument that names nothing (no such file, an empty folder, a pattern
that matches nothing) or a manifest that cannot be read is a :class:`~emomon.errors.DataError`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import DataError
from ..manifests import csv_columns, csv_rows, json_rows

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".csv", ".jsonl")
SHARD_PREFIX = "part-"
SHARD_SUFFIX = ".parquet"


@dataclass(frozen=True)
class BatchItem:
    """One file to analyse: its ``path`` as listed, its size in bytes when the driver can see it
    (part of the inputs' digest), and ``error`` when it is known to name nothing before any
    analysis (a folder that cannot be read)."""

    path: str
    size: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Shard:
    """The ``index``-th slice of the sorted inputs, written as one Parquet file :attr:`name`."""

    index: int
    items: tuple[BatchItem, ...]

    @property
    def name(self) -> str:
        return shard_name(self.index)


def shard_name(index: int) -> str:
    """``3`` → ``part-00003.parquet``."""
    return f"{SHARD_PREFIX}{index:05d}{SHARD_SUFFIX}"


def is_manifest(path: str | Path) -> bool:
    """Whether an argument is a manifest (a ``.csv`` or ``.jsonl`` file)."""
    return Path(path).suffix.lower() in MANIFEST_SUFFIXES and Path(path).is_file()


def _manifest_rows(manifest: Path) -> Iterator[tuple[int, dict]]:
    """``(line number, row)`` of a CSV (header row) or JSONL manifest, keys lower-cased."""
    with open(manifest, newline="", encoding="utf-8-sig") as f:
        if manifest.suffix.lower() == ".csv":
            reader = csv.DictReader(f)
            if "path" not in csv_columns(reader):
                raise DataError(str(manifest), "no path column (a manifest lists one audio file a row under 'path')")
            yield from csv_rows(reader)
            return
        for n, row in json_rows(f, manifest, "each line must be a JSON object with a 'path'"):
            yield n, {str(k).lower(): v for k, v in row.items()}


def read_manifest(manifest: str | Path) -> list[str]:
    """The paths a manifest lists, in its order (relative ones joined to the manifest's folder).

    :class:`DataError` when it cannot be read, has no ``path`` column, or a row has none.
    """
    manifest = Path(manifest).expanduser()
    paths = []
    try:
        for n, row in _manifest_rows(manifest):
            value = row.get("path")
            if not isinstance(value, str) or not value.strip():
                raise DataError(f"{manifest}:{n}", "no path in this row")
            p = Path(value.strip()).expanduser()
            paths.append(str(p if p.is_absolute() else manifest.parent / p))
    except OSError as exc:
        raise DataError(str(manifest), f"cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise DataError(str(manifest), "not a text file (a manifest is UTF-8 CSV or JSON lines)") from None
    if not paths:
        raise DataError(str(manifest), "lists no files")
    return paths


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _expand(args: Sequence[str]) -> list[BatchItem]:
    """Files, folders and globs as ``emomon file`` reads them; an argument naming nothing is a
    :class:`DataError`, a folder that cannot be read inside the tree an item with its error."""
    from ..timeline.inputs import expand_inputs

    items = []
    for path, why in expand_inputs(args):
        if why is not None and path in args:
            raise DataError(path, why)
        items.append(BatchItem(path, _size(path)) if why is None else BatchItem(path, None, why))
    return items


def list_inputs(inputs: str | Path | Sequence[str | Path]) -> list[BatchItem]:
    """The items of ``inputs`` (manifests, files, folders, globs), sorted, each path once."""
    args = [str(inputs)] if isinstance(inputs, (str, Path)) else [str(a) for a in inputs]
    if not args:
        raise DataError("inputs", "none given (a folder, files, globs or a CSV/JSONL manifest)")
    items: list[BatchItem] = []
    plain = [a for a in args if not is_manifest(a)]
    if plain:
        items += _expand(plain)
    for arg in args:
        if is_manifest(arg):
            items += [BatchItem(p, _size(p)) for p in read_manifest(arg)]
    unique: dict[str, BatchItem] = {}
    for item in items:
        if item.path in unique:
            log.debug("%s: listed more than once; analysed once", item.path)
        unique.setdefault(item.path, item)
    return sorted(unique.values(), key=lambda it: Path(it.path).parts)


def plan_shards(items: Sequence[BatchItem], shard_size: int) -> list[Shard]:
    """``items`` (sorted) cut into shards of ``shard_size`` in order (the last may be shorter)."""
    if shard_size < 1:
        raise DataError("shard_size", f"must be at least 1 (got {shard_size})")
    return [Shard(i, tuple(items[a:a + shard_size])) for i, a in enumerate(range(0, len(items), shard_size))]


def inputs_digest(items: Sequence[BatchItem]) -> str:
    """SHA-256 of the listed paths, their sizes and their known errors, in order: another list
    of files, or a file whose size changed, gives another digest (file times are not part of
    it, so a fresh copy of the same files at the same paths resumes)."""
    rows = [[it.path, it.size, it.error] for it in items]
    return hashlib.sha256(json.dumps(rows).encode("utf-8")).hexdigest()

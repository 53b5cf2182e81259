"""The rows of CSV and JSON-lines manifests, read the one way for ``emomon batch``'s inputs
(:mod:`emomon.batch.inputs`) and the generic corpus (:mod:`emomon.training.corpora.generic`).

Each gives ``(line number, row)``; what a row must hold is the caller's to check. A malformed
line is a :class:`~emomon.errors.DataError` naming ``manifest:line``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import DataError


def csv_columns(reader: csv.DictReader) -> set[str]:
    """The column names of a CSV manifest's header row, stripped and lower-cased."""
    return {c.strip().lower() for c in (reader.fieldnames or [])}


def csv_rows(reader: csv.DictReader) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, row)`` of a CSV manifest after its header row, keys stripped and lower-cased."""
    for n, row in enumerate(reader, 2):
        yield n, {k.strip().lower(): v for k, v in row.items() if k is not None}


def json_rows(lines: Iterable[str], manifest: Path, not_object: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` of a JSON-lines manifest, blank lines skipped; a line that is not
    JSON, or ``not_object`` (the why) one that is not a JSON object, is a :class:`DataError`."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{manifest}:{n}", f"not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{manifest}:{n}", not_object)
        yield n, row

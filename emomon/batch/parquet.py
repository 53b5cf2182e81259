"""The Parquet form of :class:`~emomon.records.FileResult`: one row per file, one file per shard.

Columns, for a model with labels ``L1..Ln`` (the shipped ones: the eight RAVDESS emotions)::

    path: string            duration: double        speech: double
    label: string           reason: string          uncertain: bool
    L1 .. Ln: double        (the file's scores; null without speech or on error)
    segments: list<struct<start: double, end: double, label: string, uncertain: bool,
                          scores: struct<L1: double, .., Ln: double>>>
    error: string           (why the file could not be analysed; then only path is set)

Values are the full-precision floats ``emomon file`` computes (its JSON rounds them). Each
shard file carries, in its schema metadata under ``emomon.batch``, the job's settings digest,
its index and how many rows and error rows it holds (:class:`ShardMeta`): a file counts as a
finished shard only when all of that matches. Shards are written through
:func:`~emomon.atomic.atomic_path`, so a shard is either whole or absent.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from ..atomic import atomic_path
from ..errors import DataError, ModelError
from ..records import FileResult, Segment
from .inputs import SHARD_PREFIX, SHARD_SUFFIX

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

META_KEY = b"emomon.batch"
FIXED_COLUMNS = ("path", "duration", "speech", "label", "reason", "uncertain", "segments", "error")


@dataclass(frozen=True)
class ShardMeta:
    """What a shard file says about itself (its schema metadata)."""

    settings: str  # the job's settings digest
    shard: int
    rows: int
    errors: int
    labels: list[str]


def check_labels(labels: Sequence[str]) -> None:
    """:class:`ModelError` when a label would collide with a fixed column."""
    clash = sorted(set(labels) & set(FIXED_COLUMNS))
    if clash:
        raise ModelError("labels", f"{', '.join(clash)} cannot be a score column of the batch results "
                                   f"(the columns {', '.join(FIXED_COLUMNS)} are fixed)")


def result_schema(labels: Sequence[str]) -> "pa.Schema":
    """The Parquet schema of results for a model with ``labels``."""
    import pyarrow as pa

    check_labels(labels)
    scores = pa.struct([(lab, pa.float64()) for lab in labels])
    segment = pa.struct([("start", pa.float64()), ("end", pa.float64()), ("label", pa.string()),
                         ("uncertain", pa.bool_()), ("scores", scores)])
    return pa.schema([("path", pa.string()), ("duration", pa.float64()), ("speech", pa.float64()),
                      ("label", pa.string()), ("reason", pa.string()), ("uncertain", pa.bool_()),
                      *[(lab, pa.float64()) for lab in labels],
                      ("segments", pa.list_(segment)), ("error", pa.string())])


def _row(result: FileResult, labels: Sequence[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"path": result.path, "duration": result.duration, "speech": result.speech,
                           "label": result.label, "reason": result.reason, "uncertain": result.uncertain,
                           "error": result.error}
    for lab in labels:
        row[lab] = None if result.scores is None else result.scores[lab]
    row["segments"] = [{"start": s.start, "end": s.end, "label": s.label, "uncertain": s.uncertain,
                        "scores": {lab: s.scores[lab] for lab in labels}} for s in result.segments]
    return row


def to_table(results: Sequence[FileResult], labels: Sequence[str]) -> "pa.Table":
    """``results`` as a table of :func:`result_schema`."""
    import pyarrow as pa

    return pa.Table.from_pylist([_row(r, labels) for r in results], schema=result_schema(labels))


def _result(row: dict[str, Any], labels: Sequence[str]) -> FileResult:
    scores = None if row["label"] is None or row["error"] is not None else {lab: row[lab] for lab in labels}
    segments = [Segment(s["start"], s["end"], s["label"], dict(s["scores"]), s["uncertain"]) for s in row["segments"] or []]
    return FileResult(path=row["path"], duration=row["duration"], speech=row["speech"], label=row["label"],
                      scores=scores, segments=segments, reason=row["reason"], uncertain=row["uncertain"],
                      error=row["error"])


def from_table(table: "pa.Table", labels: Sequence[str]) -> list[FileResult]:
    """The :class:`FileResult` of each row of ``table``, in order."""
    return [_result(row, labels) for row in table.to_pylist()]


def write_shard(path: Path, table: "pa.Table", meta: ShardMeta) -> None:
    """Write one shard atomically, ``meta`` in its schema metadata."""
    import pyarrow.parquet as pq

    table = table.replace_schema_metadata({META_KEY: json.dumps(asdict(meta)).encode("utf-8")})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_meta(path: Path) -> ShardMeta | None:
    """A shard file's :class:`ShardMeta`; ``None`` when it is unreadable, not Parquet, not a
    shard of emomon's, or holds another number of rows than it says (logged)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
        raw = (meta.metadata or {}).get(META_KEY)
        fields = json.loads(raw) if raw is not None else None
        shard = ShardMeta(**fields) if isinstance(fields, dict) else None
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with it, it is not a finished shard
        log.warning("%s: not a readable shard (%s); it is written again", path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return None
    if shard is None or shard.rows != meta.num_rows:
        log.warning("%s: not a whole emomon shard; it is written again", path)
        return None
    return shard


def shard_files(out: str | Path) -> list[Path]:
    """The shard files in ``out``, sorted."""
    return sorted(Path(out).glob(f"{SHARD_PREFIX}*{SHARD_SUFFIX}"))


def read_results(out: str | Path) -> Iterator[FileResult]:
    """Every result a batch job wrote to ``out``, shard by shard in input order."""
    import pyarrow.parquet as pq

    files = shard_files(out)
    if not files:
        raise DataError(str(out), "holds no batch results (part-*.parquet)")
    for path in files:
        meta = read_meta(path)
        if meta is None:
            raise DataError(str(path), "not a whole shard of an emomon batch job")
        yield from from_table(pq.read_table(path), meta.labels)

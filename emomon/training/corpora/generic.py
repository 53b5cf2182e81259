"""Generic layouts for any corpus: one folder per label, or a CSV/JSONL manifest.

**Folder layout** (corpus name ``folder``): ``root/<label>/*.wav``. The folder name is the label,
matched case-insensitively through :data:`~emomon.training.corpora.base.LABEL_ALIASES`
(``anger`` → angry, ``fear`` → fearful, ``ps``/``surprise`` → surprised, ...). Folders whose name
is not a known label are skipped with a logged count. Speakers:

* ``root/<label>/<speaker>/*.wav`` — the sub-folder is the speaker;
* ``root/<label>/*.wav`` — speaker unknown: **each file is its own speaker**
  (``folder:<label>/<stem>``), so speaker-independent protocols degrade to clip-level splits;
  a warning says so. Use a manifest to give speakers.

**Manifest** (corpus name ``manifest``): a ``.csv`` (header row) or ``.jsonl`` (one object a line)
file with columns ``path``, ``label``, ``speaker`` and optionally ``gender``, ``intensity``,
``text`` (or ``statement``), ``id`` and ``corpus`` (so that one manifest can list several
corpora: each row keeps its corpus, and its speaker is named within it). Paths are relative to the manifest's folder (absolute
paths are kept). ``root`` is the manifest file or a folder holding ``manifest.csv`` /
``manifest.jsonl``. Labels go through the same aliases; unknown labels are skipped with a
logged count; an empty ``speaker`` makes the row its own speaker. A missing audio file is an
error (the manifest is wrong), naming the first missing path.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator

from ...errors import DataError
from ...manifests import csv_columns, csv_rows, json_rows
from ...records import Utterance
from .base import AUDIO_SUFFIXES, SkipLog, audio_files, canonical_label, corpus_utterance, finish, log, require_dir

FOLDER = "folder"
MANIFEST = "manifest"
MANIFEST_NAMES = ("manifest.csv", "manifest.jsonl")


def read_folder(root: str | Path) -> list[Utterance]:
    """Clips of a ``root/<label>/[<speaker>/]*.wav`` layout, sorted by path."""
    root = require_dir(root)
    skips = SkipLog(FOLDER)
    utts: list[Utterance] = []
    own_speaker = 0
    for p in sorted(root.iterdir()):
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file() and not p.name.startswith("."):
            skips.skip("not in a label folder (root/<label>/*.wav)", p)
    for label_dir in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        emotion = canonical_label(label_dir.name)
        files = list(audio_files(label_dir))
        if emotion is None:
            for _ in files:
                skips.skip(f"folder {label_dir.name!r} is not a known label")
            continue
        for p in files:
            rel = p.relative_to(label_dir)
            if len(rel.parts) >= 2:
                speaker = f"{FOLDER}:{rel.parts[0]}"
            else:
                speaker = f"{FOLDER}:{label_dir.name}/{p.stem}"
                own_speaker += 1
            utts.append(
                Utterance(
                    id=f"{FOLDER}:{p.relative_to(root).with_suffix('').as_posix()}",
                    path=str(p),
                    emotion=emotion,
                    speaker=speaker,
                    corpus=FOLDER,
                    extra={"source_label": label_dir.name},
                )
            )
    if own_speaker:
        log.warning(
            "%s: %d clip%s without a speaker folder: each is its own speaker, so speaker-independent splits are clip-level",
            FOLDER, own_speaker, "" if own_speaker == 1 else "s",
        )
    return finish(utts, root, FOLDER, "one folder per label: root/<label>/*.wav", skips)


def find_manifest(root: str | Path) -> Path:
    """The manifest file ``root`` names or holds; :class:`DataError` when there is none."""
    p = Path(root).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        for name in MANIFEST_NAMES:
            if (p / name).is_file():
                return p / name
        raise DataError(str(p), f"no {' or '.join(MANIFEST_NAMES)} in this folder")
    raise DataError(str(p), "no such file or directory")


def _rows(manifest: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = manifest.suffix.lower()
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as f:
            if suffix == ".jsonl":
                yield from json_rows(f, manifest, "each line must be a JSON object")
            elif suffix == ".csv":
                reader = csv.DictReader(f)
                missing = {"path", "label"} - csv_columns(reader)
                if missing:
                    raise DataError(str(manifest), f"missing column{'s' if len(missing) > 1 else ''} {', '.join(sorted(missing))} (need path,label,speaker)")
                yield from csv_rows(reader)
            else:
                raise DataError(str(manifest), "a manifest must be .csv or .jsonl")
    except OSError as exc:
        raise DataError(str(manifest), f"cannot read ({exc.strerror or exc})") from None


def _gender(value: Any) -> str | None:
    g = str(value or "").strip().lower()
    return {"m": "male", "f": "female"}.get(g, g) or None


def read_manifest(root: str | Path) -> list[Utterance]:
    """Clips listed by a CSV/JSONL manifest (``path,label,speaker``), in manifest order."""
    manifest = find_manifest(root)
    base = manifest.parent
    skips = SkipLog(MANIFEST)
    utts: list[Utterance] = []
    missing: list[str] = []
    for n, row in _rows(manifest):
        path_s = str(row.get("path") or "").strip()
        label_s = str(row.get("label") or "").strip()
        if not path_s or not label_s:
            raise DataError(f"{manifest}:{n}", "empty path or label")
        emotion = canonical_label(label_s)
        if emotion is None:
            skips.skip(f"label {label_s!r} is not in the label set")
            continue
        path = Path(path_s).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            missing.append(path_s)
            continue
        rel = Path(path_s).with_suffix("").as_posix()
        speaker = str(row.get("speaker") or "").strip()
        corpus = str(row.get("corpus") or "").strip() or MANIFEST
        text = row.get("text") or row.get("statement")
        utts.append(
            corpus_utterance(
                corpus, path, row.get("id") or rel, speaker or rel, emotion,  # no speaker: each clip its own
                gender=_gender(row.get("gender")),
                intensity=(str(row["intensity"]).strip() or None) if row.get("intensity") else None,
                statement=str(text) if text else None,
                extra={"source_label": label_s, "row": n},
            )
        )
    if missing:
        raise DataError(str(manifest), f"{len(missing)} listed file{'s' if len(missing) > 1 else ''} missing (first: {missing[0]}; paths are relative to the manifest)")
    return finish(utts, manifest, MANIFEST, "rows path,label,speaker", skips)


def looks_like_folder_layout(root: Path) -> bool:
    """True when at least one sub-folder of ``root`` is a known label holding audio."""
    return any(d.is_dir() and canonical_label(d.name) is not None and next(audio_files(d), None) is not None for d in root.iterdir())

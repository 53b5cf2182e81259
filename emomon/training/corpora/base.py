"""Helpers shared by the corpus readers: finding audio files, label aliases, skip accounting.

Every reader maps its corpus's own labels onto :data:`~emomon.labels.EMOTIONS` with a documented
dict; a clip whose label has no canonical counterpart (EmoDB's boredom, ...) is skipped and the
count is logged once per corpus and label. :func:`readable_clips` (what training runs on)
skips the clips whose files are not audio, are broken or empty, hold NaN/Inf samples or are
shorter than :data:`~emomon.defaults.MIN_CLIP_S`, logging a count per reason.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from ... import defaults
from ...errors import AudioError, DataError
from ...labels import EMOTIONS
from ...records import Utterance

log = logging.getLogger("emomon.training.corpora")

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".m4a", ".opus", ".aiff", ".aif", ".au", ".webm"})
"""File suffixes the readers accept as audio (decoding is :func:`emomon.audio.decode_audio`'s job)."""

LABEL_ALIASES: dict[str, str] = {
    **{e: e for e in EMOTIONS},
    "neu": "neutral",
    "neutrality": "neutral",
    "relaxed": "calm",
    "happiness": "happy",
    "joy": "happy",
    "hap": "happy",
    "sadness": "sad",
    "anger": "angry",
    "ang": "angry",
    "mad": "angry",
    "fear": "fearful",
    "afraid": "fearful",
    "fea": "fearful",
    "disgusted": "disgust",
    "dis": "disgust",
    "surprise": "surprised",
    "sur": "surprised",
    "ps": "surprised",
    "pleasant_surprise": "surprised",
    "pleasant_surprised": "surprised",
    "pleasant surprise": "surprised",
    "pleasantsurprise": "surprised",
}
"""Spellings accepted by the generic readers (folder names, manifest labels), case-insensitive."""


def canonical_label(name: str) -> str | None:
    """The canonical emotion for a free-form label (``"Anger"`` → ``"angry"``), or ``None``."""
    key = name.strip().lower().replace("-", "_")
    return LABEL_ALIASES.get(key) or LABEL_ALIASES.get(key.replace("_", " "))


def require_dir(root: str | Path) -> Path:
    """``root`` as a :class:`Path`; :class:`DataError` when it is not an existing directory."""
    p = Path(root).expanduser()
    if not p.exists():
        raise DataError(str(p), "no such directory")
    if not p.is_dir():
        raise DataError(str(p), "is not a directory")
    return p


def audio_files(root: Path) -> Iterator[Path]:
    """Audio files under ``root`` (any depth, hidden files and folders ignored), sorted by path."""
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts):
            yield p


class SkipLog:
    """Counts files skipped per reason (with the first file of each) and logs the totals once (``log.warning``)."""

    def __init__(self, corpus: str) -> None:
        self.corpus = corpus
        self.counts: Counter[str] = Counter()
        self.first: dict[str, str] = {}

    def skip(self, reason: str, path: str | Path | None = None) -> None:
        """Count one file skipped for ``reason`` (``path``: which, logged at debug level)."""
        self.counts[reason] += 1
        if path is not None:
            self.first.setdefault(reason, str(path))
            log.debug("%s: skipped %s: %s", self.corpus, path, reason)

    def report(self) -> None:
        for reason, n in sorted(self.counts.items()):
            first = f" (the first: {self.first[reason]})" if n > 1 and reason in self.first else \
                f" ({self.first[reason]})" if reason in self.first else ""
            log.warning("%s: skipped %d clip%s: %s%s", self.corpus, n, "" if n == 1 else "s", reason, first)


MISNAMED = "misnamed"
"""The start of the reason counted for an audio file whose name a corpus reader cannot parse."""


def corpus_utterance(corpus: str, path: Path, key: str, speaker: str, emotion: str, **fields: object) -> Utterance:
    """The :class:`Utterance` of a clip of ``corpus``: its id (``corpus:key``) and speaker
    (``corpus:speaker``) named within the corpus, so that no two corpora share one; ``fields``
    the rest (gender, intensity, statement, extra)."""
    return Utterance(id=f"{corpus}:{key}", path=str(path), emotion=emotion, speaker=f"{corpus}:{speaker}", corpus=corpus, **fields)


def parse_files(files: Iterable[Path], parse: Callable[[Path], Utterance | None], skips: SkipLog, expected: str) -> list[Utterance]:
    """``parse(p)`` of every file; a file it gives nothing for without counting a reason of its own
    (an unknown label...) is counted in ``skips`` as misnamed (``expected`` names the layout)."""
    utts = []
    for p in files:
        before = sum(skips.counts.values())
        u = parse(p)
        if u is not None:
            utts.append(u)
        elif sum(skips.counts.values()) == before:
            skips.skip(f"{MISNAMED} (expected {expected})", p)
    return utts


def unique_ids(utts: Iterable[Utterance]) -> list[Utterance]:
    """``utts`` with duplicate ids made unique by a ``#2``, ``#3``... suffix (order kept)."""
    from dataclasses import replace

    seen: Counter[str] = Counter()
    out = []
    for u in utts:
        seen[u.id] += 1
        out.append(u if seen[u.id] == 1 else replace(u, id=f"{u.id}#{seen[u.id]}"))
    return out


def finish(utts: list[Utterance], root: Path, corpus: str, expected: str, skips: SkipLog | None = None) -> list[Utterance]:
    """Log skips and return ``utts``; :class:`DataError` naming the ``expected`` layout when empty."""
    if skips is not None:
        skips.report()
    if not utts:
        extra = ""
        if skips is not None and skips.counts:
            extra = f" (all {sum(skips.counts.values())} matching clips were skipped: {', '.join(skips.counts)})"
        raise DataError(str(root), f"no {corpus} clips ({expected}){extra}")
    return unique_ids(utts)


SKIP_REASONS = ("not an audio file", "cannot decode audio", "non-finite sample", "empty file", "no samples", "no audio stream",
                "no such file", "too short", "too long")
"""The kinds of unusable clip :func:`readable_clips` counts apart (the start of each error's reason)."""


def clip_problem(path: str | Path, min_seconds: float = defaults.MIN_CLIP_S, max_seconds: float = defaults.MAX_CLIP_S) -> str | None:
    """Why the audio file ``path`` cannot be trained on (one line), or ``None`` when it can: read to
    its end (:func:`emomon.audio.scan_audio`), it must be audio, finite and from ``min_seconds`` to
    ``max_seconds`` long. A clip whose header says it is too long is refused before it is decoded
    (training decodes a clip whole: one utterance, one label)."""
    from ...audio import probe_duration, scan_audio

    header = probe_duration(str(path))
    if header is not None and header > max_seconds:
        return _too_long(header, max_seconds)
    try:
        rate, samples = scan_audio(path)
    except AudioError as exc:
        return exc.why
    if samples == 0:
        return "no samples"
    if samples < min_seconds * rate:
        return f"too short ({samples / rate:.3f} s; at least {min_seconds:g} s)"
    if samples > max_seconds * rate:
        return _too_long(samples / rate, max_seconds)
    return None


def _too_long(seconds: float, max_seconds: float) -> str:
    return f"too long ({seconds:.1f} s; at most {max_seconds:g} s: a training clip is one utterance with one label)"


def _kind(problem: str) -> str:
    """The kind of a :func:`clip_problem` (one of :data:`SKIP_REASONS`, else the problem itself)."""
    for kind in SKIP_REASONS:
        if kind in problem:
            return "non-finite samples (NaN/Inf)" if kind == "non-finite sample" else kind
    return problem


def readable_clips(utts: Sequence[Utterance], name: str, min_seconds: float = defaults.MIN_CLIP_S) -> list[Utterance]:
    """The clips of ``utts`` whose files can be trained on (:func:`clip_problem`), in order; the
    others are skipped, logged per kind with their count and the first file (``log.warning``).
    :class:`DataError` naming ``name`` when none is left."""
    t0 = time.monotonic()
    kept: list[Utterance] = []
    first: dict[str, str] = {}
    skips = SkipLog(name)
    for u in utts:
        problem = clip_problem(u.path, min_seconds)
        if problem is None:
            kept.append(u)
            continue
        kind = _kind(problem)
        skips.skip(kind)
        first.setdefault(kind, f"{u.path}: {problem}")
        log.debug("%s: skipped %s: %s", name, u.path, problem)
    for kind, n in sorted(skips.counts.items()):
        log.warning("%s: skipped %d clip%s: %s (%s%s)", name, n, "" if n == 1 else "s", kind, "" if n == 1 else "the first: ", first[kind])
    log.info("%s: %d of %d clips readable (checked in %.1f s)", name, len(kept), len(utts), time.monotonic() - t0)
    if utts and not kept:
        raise DataError(name, f"none of its {len(utts)} clips can be read ({', '.join(sorted(skips.counts))})")
    return kept

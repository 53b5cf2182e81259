"""RAVDESS speech and song: ``MM-VV-EE-II-SS-RR-AA.wav`` (or ``.flac``) under ``Actor_NN/``.

Fields: modality, vocal channel (01 speech, 02 song), emotion (01..08 in
:data:`~emomon.labels.EMOTIONS` order), intensity (01 normal, 02 strong), statement
(01 "Kids are talking by the door", 02 "Dogs are sitting by the door"), repetition, actor
(odd male, even female). The label set is RAVDESS's own: the mapping is the identity.

Label mapping (:data:`EMOTION_MAP`; nothing is skipped):

====  =========
code  emomon
====  =========
01    neutral
02    calm
03    happy
04    sad
05    angry
06    fearful
07    disgust
08    surprised
====  =========

Registry names: ``ravdess`` (speech, vocal channel 01), ``ravdess-song`` (song, channel 02; it has
no disgust and no surprised), ``ravdess-all`` (both; speakers are the same 24 actors).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from ...errors import DataError
from ...labels import EMOTIONS
from ...records import Utterance
from .base import MISNAMED, SkipLog, audio_files, corpus_utterance, log, require_dir

NAME_RE = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
INTENSITIES = {"01": "normal", "02": "strong"}
CHANNELS = {"01": "speech", "02": "song"}
EMOTION_MAP: dict[str, str] = {f"{i + 1:02d}": e for i, e in enumerate(EMOTIONS)}
EXPECTED = "names like 03-01-05-01-01-01-07.wav"


def parse_ravdess_name(path: str | Path) -> Utterance | None:
    """The :class:`Utterance` a RAVDESS file name describes, or ``None`` if it is not one."""
    p = Path(path)
    m = NAME_RE.match(p.stem)
    if not m or p.suffix.lower() not in (".wav", ".flac"):
        return None
    modality, channel, emo, intensity, statement, rep, actor = m.groups()
    code = int(emo)
    if not 1 <= code <= len(EMOTIONS) or channel not in CHANNELS:
        return None
    return corpus_utterance(
        "ravdess", p, p.stem, f"{int(actor):02d}", EMOTIONS[code - 1],
        gender="male" if int(actor) % 2 == 1 else "female",
        intensity=INTENSITIES.get(intensity),
        statement=STATEMENTS.get(statement),
        extra={"actor": int(actor), "channel": CHANNELS[channel], "repetition": int(rep), "modality": int(modality)},
    )


def iter_ravdess(root: str | Path, channels: tuple[str, ...] = ("speech",), skips: SkipLog | None = None) -> Iterator[Utterance]:
    """Every RAVDESS clip under ``root`` (any depth, hidden files and folders ignored), of the given
    vocal ``channels``, sorted by path. An audio file whose name does not parse is counted in
    ``skips`` (misnamed); clips of the other channel are left out (logged at info level)."""
    root = require_dir(root)
    other = 0
    for p in audio_files(root):
        utt = parse_ravdess_name(p)
        if utt is None:
            if skips is not None:
                skips.skip(f"{MISNAMED} (expected {EXPECTED})", p)
        elif utt.extra["channel"] in channels:
            yield utt
        else:
            other += 1
    if other:
        log.info("ravdess: %d clip%s of vocal channel %s left out (not %s)", other, "" if other == 1 else "s",
                 "/".join(sorted(set(CHANNELS.values()) - set(channels))), "/".join(channels))


def read_ravdess(root: str | Path, channels: tuple[str, ...] = ("speech",)) -> list[Utterance]:
    """All clips of :func:`iter_ravdess`, misnamed files counted in the log; :class:`DataError` when there are none."""
    skips = SkipLog("ravdess" if channels == ("speech",) else f"ravdess ({'/'.join(channels)})")
    utts = list(iter_ravdess(root, channels, skips))
    skips.report()
    if not utts:
        extra = f" ({sum(skips.counts.values())} misnamed audio files skipped)" if skips.counts else ""
        raise DataError(str(root), f"no RAVDESS {'/'.join(channels)} clips ({EXPECTED}){extra}")
    return utts


def is_ravdess_name(path: Path) -> bool:
    """True when ``path`` is named like a RAVDESS clip (either vocal channel)."""
    return parse_ravdess_name(path) is not None


def read_ravdess_song(root: str | Path) -> list[Utterance]:
    """The song clips (vocal channel 02) under ``root``."""
    return read_ravdess(root, channels=("song",))


def read_ravdess_all(root: str | Path) -> list[Utterance]:
    """Speech and song clips under ``root``."""
    return read_ravdess(root, channels=("speech", "song"))

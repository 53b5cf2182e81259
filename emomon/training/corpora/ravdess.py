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

NAME_RE = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
INTENSITIES = {"01": "normal", "02": "strong"}
CHANNELS = {"01": "speech", "02": "song"}
EMOTION_MAP: dict[str, str] = {f"{i + 1:02d}": e for i, e in enumerate(EMOTIONS)}


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
    return Utterance(
        id=f"ravdess:{p.stem}",
        path=str(p),
        emotion=EMOTIONS[code - 1],
        speaker=f"ravdess:{int(actor):02d}",
        corpus="ravdess",
        gender="male" if int(actor) % 2 == 1 else "female",
        intensity=INTENSITIES.get(intensity),
        statement=STATEMENTS.get(statement),
        extra={"actor": int(actor), "channel": CHANNELS[channel], "repetition": int(rep), "modality": int(modality)},
    )


def iter_ravdess(root: str | Path, channels: tuple[str, ...] = ("speech",)) -> Iterator[Utterance]:
    """Every RAVDESS clip under ``root`` (any depth), of the given vocal ``channels``, sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(str(root), "no such directory")
    for p in sorted(root.rglob("*")):
        if p.is_file():
            utt = parse_ravdess_name(p)
            if utt is not None and utt.extra["channel"] in channels:
                yield utt


def read_ravdess(root: str | Path, channels: tuple[str, ...] = ("speech",)) -> list[Utterance]:
    """All clips of :func:`iter_ravdess`; raises :class:`DataError` when there are none."""
    utts = list(iter_ravdess(root, channels))
    if not utts:
        raise DataError(str(root), f"no RAVDESS {'/'.join(channels)} clips (names like 03-01-05-01-01-01-07.wav)")
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

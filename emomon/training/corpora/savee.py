"""SAVEE (Surrey Audio-Visual Expressed Emotion): four male speakers DC, JE, JK, KL.

Two layouts are read: speaker folders (``AudioData/DC/a01.wav``) and flat names with the speaker
as a prefix (``ALL/DC_a01.wav``). The name is an emotion code and a sentence number (``a01``,
``sa03``, ``n30``). Every speaker is male; there is no intensity.

Label mapping (SAVEE has no calm; nothing is skipped):

=====  =========
code   emomon
=====  =========
a      angry
d      disgust
f      fearful
h      happy
n      neutral
sa     sad
su     surprised
=====  =========
"""

from __future__ import annotations

import re
from pathlib import Path

from ...records import Utterance
from .base import SkipLog, audio_files, corpus_utterance, finish, parse_files, require_dir

CORPUS = "savee"
SPEAKERS = ("DC", "JE", "JK", "KL")
NAME_RE = re.compile(r"^(?:(DC|JE|JK|KL)_)?(sa|su|a|d|f|h|n)(\d{2})$")
EMOTION_MAP: dict[str, str] = {
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
}
EXPECTED = "speaker folders DC, JE, JK, KL with names like a01.wav, or flat names like DC_a01.wav"


def parse_savee_name(path: str | Path) -> Utterance | None:
    """The :class:`Utterance` a SAVEE path describes (speaker from the prefix or the folder), or ``None``."""
    p = Path(path)
    m = NAME_RE.match(p.stem)
    if not m:
        return None
    speaker, code, number = m.groups()
    speaker = speaker or (p.parent.name.upper() if p.parent.name.upper() in SPEAKERS else None)
    if speaker is None:
        return None
    return corpus_utterance(
        CORPUS, p, f"{speaker}_{code}{number}", speaker, EMOTION_MAP[code],
        gender="male",
        intensity=None,
        statement=f"{code}{number}",
        extra={"sentence": int(number), "emotion_code": code},
    )


def is_savee_name(path: Path) -> bool:
    return parse_savee_name(path) is not None


def read_savee(root: str | Path) -> list[Utterance]:
    """Every SAVEE clip under ``root`` (any depth), sorted by path."""
    root = require_dir(root)
    skips = SkipLog(CORPUS)
    utts = parse_files(audio_files(root), parse_savee_name, skips, EXPECTED)
    return finish(utts, root, CORPUS, EXPECTED, skips)

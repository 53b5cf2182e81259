"""TESS (Toronto emotional speech set): ``OAF_<word>_<emotion>.wav`` / ``YAF_<word>_<emotion>.wav``.

Two female speakers, ``OAF`` (older) and ``YAF`` (younger), say "Say the word <word>" in seven
emotions; folders are usually ``OAF_angry/``, ``YAF_pleasant_surprised/`` and so on. The emotion is
the last ``_`` field of the file name; when that is not a known emotion the folder name's emotion
is used. Every speaker is female; there is no intensity.

Label mapping (TESS has no calm):

=============================================  =========
TESS                                           emomon
=============================================  =========
angry                                          angry
disgust                                        disgust
fear                                           fearful
happy                                          happy
neutral                                        neutral
sad                                            sad
ps, pleasant_surprise(d), "pleasant surprise"  surprised
=============================================  =========
"""

from __future__ import annotations

import re
from pathlib import Path

from ...records import Utterance
from .base import SkipLog, audio_files, corpus_utterance, finish, parse_files, require_dir

CORPUS = "tess"
NAME_RE = re.compile(r"^(OAF|YAF)_(.+)$", re.IGNORECASE)
EMOTION_MAP: dict[str, str] = {
    "angry": "angry",
    "anger": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fearful",
    "fearful": "fearful",
    "happy": "happy",
    "happiness": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "sadness": "sad",
    "ps": "surprised",
    "pleasant_surprise": "surprised",
    "pleasant_surprised": "surprised",
    "pleasant surprise": "surprised",
    "surprise": "surprised",
    "surprised": "surprised",
}
EXPECTED = "names like OAF_back_angry.wav or YAF_young_ps.wav"


def _emotion_of(text: str) -> str | None:
    t = text.strip().lower()
    if t in EMOTION_MAP:
        return EMOTION_MAP[t]
    for suffix in ("pleasant_surprised", "pleasant_surprise", "ps"):
        if t.endswith("_" + suffix):
            return "surprised"
    return EMOTION_MAP.get(t.rsplit("_", 1)[-1])


def is_tess_name(path: Path) -> bool:
    return NAME_RE.match(path.stem) is not None


def parse_tess_name(path: str | Path, skips: SkipLog | None = None) -> Utterance | None:
    """The :class:`Utterance` a TESS file name (or its folder) describes, or ``None``."""
    p = Path(path)
    m = NAME_RE.match(p.stem)
    if not m:
        return None
    speaker, rest = m.group(1).upper(), m.group(2)
    emotion = _emotion_of(rest)
    word = rest.split("_", 1)[0]
    if emotion is None:
        fm = NAME_RE.match(p.parent.name)
        emotion = _emotion_of(fm.group(2)) if fm else None
    if emotion is None:
        if skips is not None:
            skips.skip("no known emotion in the name", p)
        return None
    return corpus_utterance(
        CORPUS, p, f"{speaker}_{rest}", speaker, emotion,
        gender="female",
        intensity=None,
        statement=f"Say the word {word}",
        extra={"word": word, "age": "older" if speaker == "OAF" else "younger"},
    )


def read_tess(root: str | Path) -> list[Utterance]:
    """Every TESS clip under ``root`` (any depth), sorted by path."""
    root = require_dir(root)
    skips = SkipLog(CORPUS)
    utts = parse_files(audio_files(root), lambda p: parse_tess_name(p, skips), skips, EXPECTED)
    return finish(utts, root, CORPUS, EXPECTED, skips)

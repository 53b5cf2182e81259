"""EmoDB (Berlin Database of Emotional Speech): ``03a01Fa.wav`` under ``wav/``.

Fields: speaker (two digits), text code (``a01``..``b10``), emotion letter (German initial),
version letter. Speaker genders follow the EmoDB documentation: male 03, 10, 11, 12, 15;
female 08, 09, 13, 14, 16. There is no intensity.

Label mapping (EmoDB has no calm and no surprise):

======  ================  =========
letter  German (English)  emomon
======  ================  =========
W       Wut (anger)       angry
L       Langeweile        skipped (boredom is not in the label set; the count is logged)
E       Ekel (disgust)    disgust
A       Angst (fear)      fearful
F       Freude (joy)      happy
T       Trauer (sadness)  sad
N       neutral           neutral
======  ================  =========
"""

from __future__ import annotations

import re
from pathlib import Path

from ...records import Utterance
from .base import SkipLog, audio_files, corpus_utterance, finish, parse_files, require_dir

CORPUS = "emodb"
NAME_RE = re.compile(r"^(\d{2})([ab]\d{2})([WLEAFTN])([a-z])$")
EMOTION_MAP: dict[str, str | None] = {
    "W": "angry",
    "L": None,  # boredom: not in the label set
    "E": "disgust",
    "A": "fearful",
    "F": "happy",
    "T": "sad",
    "N": "neutral",
}
SOURCE_LABELS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}
MALE = frozenset({"03", "10", "11", "12", "15"})
FEMALE = frozenset({"08", "09", "13", "14", "16"})
TEXTS = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}
EXPECTED = "names like 03a01Fa.wav"


def is_emodb_name(path: Path) -> bool:
    return NAME_RE.match(path.stem) is not None


def parse_emodb_name(path: str | Path, skips: SkipLog | None = None) -> Utterance | None:
    """The :class:`Utterance` an EmoDB file name describes, or ``None`` (also for boredom)."""
    p = Path(path)
    m = NAME_RE.match(p.stem)
    if not m:
        return None
    speaker, text, letter, version = m.groups()
    emotion = EMOTION_MAP[letter]
    if emotion is None:
        if skips is not None:
            skips.skip(f"{SOURCE_LABELS[letter]} ({letter}) is not in the label set", p)
        return None
    gender = "male" if speaker in MALE else "female" if speaker in FEMALE else None
    return corpus_utterance(
        CORPUS, p, p.stem, speaker, emotion,
        gender=gender,
        intensity=None,
        statement=TEXTS.get(text, text),
        extra={"text": text, "emotion_code": letter, "version": version},
    )


def read_emodb(root: str | Path) -> list[Utterance]:
    """Every EmoDB clip under ``root`` (any depth) in the label set, sorted by path."""
    root = require_dir(root)
    skips = SkipLog(CORPUS)
    utts = parse_files(audio_files(root), lambda p: parse_emodb_name(p, skips), skips, EXPECTED)
    return finish(utts, root, CORPUS, EXPECTED, skips)

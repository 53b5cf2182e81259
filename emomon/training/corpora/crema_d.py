"""CREMA-D: ``SSSS_TTT_EEE_II.wav`` (e.g. ``1001_DFA_ANG_XX.wav``), usually under ``AudioWAV/``.

Fields: speaker (actor ``1001``..``1091``), sentence code (12 sentences), emotion, intensity
(``LO`` low, ``MD`` medium, ``HI`` high, ``XX`` unspecified). Gender is read from CREMA-D's
``VideoDemographics.csv`` (columns ``ActorID``, ``Sex``) when it lies anywhere under ``root`` or in
its parent folder; otherwise it is ``None``.

Label mapping (CREMA-D has no calm and no surprise; nothing is skipped):

=====  =========
code   emomon
=====  =========
ANG    angry
DIS    disgust
FEA    fearful
HAP    happy
NEU    neutral
SAD    sad
=====  =========
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ...records import Utterance
from .base import SkipLog, audio_files, corpus_utterance, finish, log, parse_files, require_dir

CORPUS = "crema-d"
NAME_RE = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})$")
EMOTION_MAP: dict[str, str] = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
INTENSITIES = {"LO": "low", "MD": "medium", "HI": "high", "XX": None, "X": None}
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
EXPECTED = "names like 1001_DFA_ANG_XX.wav"


def is_crema_d_name(path: Path) -> bool:
    return NAME_RE.match(path.stem) is not None


def read_demographics(root: Path) -> dict[str, str]:
    """Actor id → ``"male"``/``"female"`` from ``VideoDemographics.csv`` when one is found."""
    candidates = list(root.rglob("VideoDemographics.csv"))[:1] or [p for p in [root.parent / "VideoDemographics.csv"] if p.is_file()]
    if not candidates:
        return {}
    genders: dict[str, str] = {}
    try:
        with open(candidates[0], newline="", encoding="utf-8-sig") as f:
            for row in csv.DictReader(f):
                actor, sex = (row.get("ActorID") or "").strip(), (row.get("Sex") or "").strip().lower()
                if actor and sex in ("male", "female"):
                    genders[actor] = sex
    except (OSError, csv.Error) as exc:
        log.warning("%s: cannot read %s (%s); genders unknown", CORPUS, candidates[0], exc)
    return genders


def parse_crema_d_name(path: str | Path, genders: dict[str, str] | None = None, skips: SkipLog | None = None) -> Utterance | None:
    """The :class:`Utterance` a CREMA-D file name describes, or ``None``."""
    p = Path(path)
    m = NAME_RE.match(p.stem)
    if not m:
        return None
    actor, sentence, emo, intensity = m.groups()
    emotion = EMOTION_MAP.get(emo)
    if emotion is None:
        if skips is not None:
            skips.skip(f"emotion code {emo} is not in the label set", p)
        return None
    return corpus_utterance(
        CORPUS, p, p.stem, actor, emotion,
        gender=(genders or {}).get(actor),
        intensity=INTENSITIES.get(intensity),
        statement=SENTENCES.get(sentence, sentence),
        extra={"actor": actor, "sentence": sentence, "emotion_code": emo, "intensity_code": intensity},
    )


def read_crema_d(root: str | Path) -> list[Utterance]:
    """Every CREMA-D clip under ``root`` (any depth), sorted by path."""
    root = require_dir(root)
    genders = read_demographics(root)
    skips = SkipLog(CORPUS)
    utts = parse_files(audio_files(root), lambda p: parse_crema_d_name(p, genders, skips), skips, EXPECTED)
    return finish(utts, root, CORPUS, EXPECTED, skips)

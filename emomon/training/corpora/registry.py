"""Corpus registry: :func:`load_corpus` by name, :func:`corpus_names`, :func:`detect_corpus`.

Names: ``ravdess`` (speech), ``ravdess-song``, ``ravdess-all``, ``crema-d``, ``tess``, ``savee``,
``emodb``, ``folder`` (``root/<label>/*.wav``), ``manifest`` (CSV/JSONL) and ``auto`` (guess with
:func:`detect_corpus`). A few spellings are accepted as aliases (``cremad``, ``emo-db``...).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Callable

from ...errors import DataError
from ...records import Utterance
from . import crema_d, emodb, generic, ravdess, savee, tess
from .base import audio_files, log


@dataclass(frozen=True)
class CorpusInfo:
    """A registered reader: ``read(root) -> list[Utterance]`` and a one-line description."""

    name: str
    read: Callable[[str | Path], list[Utterance]]
    description: str


CORPORA: dict[str, CorpusInfo] = {
    c.name: c
    for c in (
        CorpusInfo("ravdess", ravdess.read_ravdess, "RAVDESS speech: Actor_NN/03-01-EE-II-SS-RR-AA.wav|flac"),
        CorpusInfo("ravdess-song", ravdess.read_ravdess_song, "RAVDESS song (vocal channel 02; no disgust, no surprised)"),
        CorpusInfo("ravdess-all", ravdess.read_ravdess_all, "RAVDESS speech and song"),
        CorpusInfo("crema-d", crema_d.read_crema_d, "CREMA-D: 1001_DFA_ANG_XX.wav (no calm, no surprised)"),
        CorpusInfo("tess", tess.read_tess, "TESS: OAF_back_angry.wav, YAF_young_ps.wav (no calm)"),
        CorpusInfo("savee", savee.read_savee, "SAVEE: DC/a01.wav or DC_a01.wav (no calm)"),
        CorpusInfo("emodb", emodb.read_emodb, "EmoDB: 03a01Fa.wav (boredom skipped; no calm, no surprised)"),
        CorpusInfo("folder", generic.read_folder, "one folder per label: root/<label>/[<speaker>/]*.wav"),
        CorpusInfo("manifest", generic.read_manifest, "CSV/JSONL manifest with path,label,speaker (paths relative to it)"),
    )
}
ALIASES = {
    "ravdess-speech": "ravdess",
    "cremad": "crema-d",
    "crema": "crema-d",
    "crema_d": "crema-d",
    "emo-db": "emodb",
    "berlin": "emodb",
    "csv": "manifest",
    "jsonl": "manifest",
    "folders": "folder",
}
AUTO = "auto"
DETECT_SAMPLE = 5000  # audio files looked at by detect_corpus


def corpus_names() -> list[str]:
    """Registered corpus names (``auto`` not included)."""
    return list(CORPORA)


def resolve_corpus_name(name: str) -> str:
    """Canonical registry name for ``name`` (aliases, case); :class:`DataError` when unknown."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key != AUTO and key not in CORPORA:
        raise DataError(name, f"unknown corpus (known: {', '.join([*CORPORA, AUTO])})")
    return key


def _name_scores(files: list[Path]) -> Counter[str]:
    scores: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    for p in files:
        r = ravdess.parse_ravdess_name(p)
        if r is not None:
            scores["ravdess"] += 1
            channels[r.extra["channel"]] += 1
        elif crema_d.is_crema_d_name(p):
            scores["crema-d"] += 1
        elif emodb.is_emodb_name(p):
            scores["emodb"] += 1
        elif tess.is_tess_name(p):
            scores["tess"] += 1
        elif savee.is_savee_name(p):
            scores["savee"] += 1
    if scores["ravdess"] and not channels["speech"]:
        scores["ravdess-song"] = scores.pop("ravdess")
    return scores


def detect_corpus(root: str | Path) -> str:
    """Guess the corpus at ``root`` from its file names (or a manifest / label folders).

    A ``.csv``/``.jsonl`` file, or a folder holding ``manifest.csv``/``manifest.jsonl``, is a
    ``manifest``; otherwise the named corpus matching most audio file names wins (``ravdess``
    when RAVDESS speech clips are present, ``ravdess-song`` when only song clips are); failing
    that, label-named sub-folders mean ``folder``. Raises :class:`DataError` when nothing fits.
    """
    p = Path(root).expanduser()
    if p.is_file():
        if p.suffix.lower() in (".csv", ".jsonl"):
            return "manifest"
        raise DataError(str(p), "a file is only a corpus when it is a .csv or .jsonl manifest")
    if not p.is_dir():
        raise DataError(str(p), "no such directory")
    if any((p / n).is_file() for n in generic.MANIFEST_NAMES):
        return "manifest"
    files = list(islice(audio_files(p), DETECT_SAMPLE))
    if not files:
        raise DataError(str(p), "no audio files (.wav, .flac, ...) under this folder")
    scores = _name_scores(files)
    if scores:
        name, n = scores.most_common(1)[0]
        log.info("%s: %d of %d audio names look like %s", p, n, len(files), name)
        return name
    if generic.looks_like_folder_layout(p):
        return "folder"
    raise DataError(
        str(p),
        "cannot tell which corpus this is from its file names; pass the corpus name "
        f"({', '.join(CORPORA)}) or arrange it as root/<label>/*.wav",
    )


def load_corpus(name: str, root: str | Path) -> list[Utterance]:
    """Utterances of corpus ``name`` (or ``auto``) under ``root``; :class:`DataError` on failure."""
    key = resolve_corpus_name(name)
    if key == AUTO:
        key = detect_corpus(root)
        log.info("%s: detected corpus %s", root, key)
    return CORPORA[key].read(root)

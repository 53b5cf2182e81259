"""Corpus readers: each yields typed :class:`~emomon.records.Utterance` records.

Every reader maps its corpus's labels onto :data:`emomon.labels.EMOTIONS` with a documented dict
(``EMOTION_MAP`` in each module, tabulated in its docstring). Use :func:`load_corpus` with a name
from :func:`corpus_names` (or ``"auto"``, which calls :func:`detect_corpus`).
"""

from .crema_d import read_crema_d
from .emodb import read_emodb
from .generic import read_folder, read_manifest
from .ravdess import iter_ravdess, parse_ravdess_name, read_ravdess, read_ravdess_all, read_ravdess_song
from .registry import CORPORA, CorpusInfo, corpus_names, detect_corpus, load_corpus, resolve_corpus_name
from .savee import read_savee
from .tess import read_tess

__all__ = [
    "CORPORA",
    "CorpusInfo",
    "corpus_names",
    "detect_corpus",
    "iter_ravdess",
    "load_corpus",
    "parse_ravdess_name",
    "read_crema_d",
    "read_emodb",
    "read_folder",
    "read_manifest",
    "read_ravdess",
    "read_ravdess_all",
    "read_ravdess_song",
    "read_savee",
    "read_tess",
    "resolve_corpus_name",
]

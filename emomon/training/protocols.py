"""Cross-validation protocols: which utterances train and which test, fold by fold.

Speaker-independent protocols (``emobox``, ``loso``, ``kfold-speaker``, ``loco``, ``pairs``)
never put a speaker in both the train and the test side of a fold (asserted). ``random`` splits
utterances, not speakers: it is *speaker-dependent*, only made on explicit request, and labelled so.

With several corpora: ``emobox`` splits RAVDESS by its six folds and adds every other corpus to
every fold's training side; ``loco`` leaves one corpus out per fold; ``pairs`` trains on one
corpus and tests on another, for every ordered pair, on the four classes all corpora share
(:data:`CROSS_CORPUS_LABELS`) with balanced test sets (EmoBox's cross-corpus track).
"""

from __future__ import annotations

import json
import logging
import random as _random
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import DataError
from ..records import Utterance

log = logging.getLogger(__name__)

PROTOCOLS: tuple[str, ...] = ("emobox", "loso", "kfold-speaker", "random", "loco", "pairs")
CROSS_CORPUS_LABELS: tuple[str, ...] = ("angry", "happy", "neutral", "sad")
"""The classes of the ``pairs`` protocol (EmoBox's cross-corpus track)."""
SPEAKER_DEPENDENT_LABEL = "speaker-dependent"

# EmoBox (Ma et al., Interspeech 2024, arXiv 2406.07162) 6-fold split of RAVDESS speech:
# fold -> the 4 test actors; the other 20 actors train.
EMOBOX_RAVDESS_FOLDS: dict[str, list[int]] = {
    "1": [1, 11, 20, 21],
    "2": [4, 10, 12, 14],
    "3": [8, 9, 19, 23],
    "4": [3, 5, 7, 24],
    "5": [2, 15, 16, 18],
    "6": [6, 13, 17, 22],
}


@dataclass(frozen=True)
class Fold:
    """One fold: ``train`` and ``test`` utterances, the test side's speakers."""

    id: str
    train: tuple[Utterance, ...]
    test: tuple[Utterance, ...]
    test_speakers: tuple[str, ...]
    speaker_independent: bool = True

    @property
    def train_speakers(self) -> tuple[str, ...]:
        return tuple(sorted({u.speaker for u in self.train}))


def _check_disjoint(fold: Fold) -> None:
    overlap = {u.speaker for u in fold.train} & {u.speaker for u in fold.test}
    if overlap:
        raise AssertionError(f"fold {fold.id}: speakers in both train and test: {sorted(overlap)}")


def _make(fid: str, utts: Sequence[Utterance], test_speakers: set[str]) -> Fold:
    fold = Fold(
        id=fid,
        train=tuple(u for u in utts if u.speaker not in test_speakers),
        test=tuple(u for u in utts if u.speaker in test_speakers),
        test_speakers=tuple(sorted(test_speakers)),
    )
    _check_disjoint(fold)
    if not fold.test or not fold.train:
        raise DataError(f"fold {fid}", f"empty {'test' if not fold.test else 'train'} side (speakers {sorted(test_speakers)})")
    return fold


def speakers_of(utts: Sequence[Utterance]) -> list[str]:
    """Sorted distinct speakers of ``utts``."""
    return sorted({u.speaker for u in utts})


def read_folds_table(path: str | Path | None = None) -> dict[str, list]:
    """The EmoBox fold table: ``{fold: [speaker, ...]}`` from a JSON file or the shipped copy.

    The file holds ``{"folds": {"1": [1, 11, 20, 21], ...}}`` (or the mapping itself); entries
    are actor numbers or full speaker ids (``"ravdess:01"``).
    """
    if path is None:
        return {k: list(v) for k, v in EMOBOX_RAVDESS_FOLDS.items()}
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(str(p), f"cannot read the folds table ({exc})") from None
    table = data.get("folds", data) if isinstance(data, dict) else None
    if not isinstance(table, dict) or not table or not all(isinstance(v, list) for v in table.values()):
        raise DataError(str(p), 'expected {"folds": {"1": [speakers...], ...}}')
    return {str(k): list(v) for k, v in table.items()}


def _match_speaker(entry: object, speakers: Sequence[str]) -> str:
    """The corpus speaker id named by a folds-table entry (actor number or full id)."""
    if isinstance(entry, str) and entry in speakers:
        return entry
    try:
        n = int(str(entry).rsplit(":", 1)[-1])
    except ValueError:
        n = None
    for s in speakers:
        tail = s.rsplit(":", 1)[-1]
        if n is not None and tail.isdigit() and int(tail) == n:
            return s
    raise DataError(f"speaker {entry!r}", "in the folds table but not in the data")


def emobox_folds(utts: Sequence[Utterance], table: Mapping[str, list] | None = None, corpus: str | None = None) -> list[Fold]:
    """EmoBox folds (default table: RAVDESS's) of ``corpus``'s speakers (default: ``ravdess`` when
    present, else the only corpus); speakers not listed in any fold, and every other corpus,
    always train."""
    table = table or EMOBOX_RAVDESS_FOLDS
    corpora = sorted({u.corpus for u in utts})
    named = {str(e).rsplit(":", 1)[0] for entries in table.values() for e in entries if ":" in str(e)}
    if corpus is None and len(named) == 1:
        corpus = named.pop()  # full speaker ids name their corpus
    if corpus is None:
        if "ravdess" in corpora or len(corpora) > 1:
            corpus = "ravdess"
        else:
            corpus = corpora[0]
    spk = speakers_of([u for u in utts if u.corpus == corpus])
    if not spk:
        raise DataError("emobox", f"the fold table splits {corpus}, which is not in the data (corpora: {', '.join(corpora)})")
    return [_make(fid, utts, {_match_speaker(e, spk) for e in entries}) for fid, entries in table.items()]


def corpora_of(utts: Sequence[Utterance]) -> list[str]:
    """Sorted distinct corpora of ``utts``."""
    return sorted({u.corpus for u in utts})


def loco_folds(utts: Sequence[Utterance]) -> list[Fold]:
    """Leave one corpus out: one fold per corpus (fold id = the corpus), tested on all of it."""
    corpora = corpora_of(utts)
    if len(corpora) < 2:
        raise DataError("loco", f"needs at least 2 corpora, found {len(corpora)} (give --data CORPUS=DIR several times)")
    return [_make(c, utts, {u.speaker for u in utts if u.corpus == c}) for c in corpora]


def balanced(utts: Sequence[Utterance], seed: int = 0) -> tuple[Utterance, ...]:
    """``utts`` with every class cut down to the rarest class's count (a seeded random draw per
    class, original order kept)."""
    by_class: dict[str, list[int]] = {}
    for i, u in enumerate(utts):
        by_class.setdefault(u.emotion, []).append(i)
    n = min(len(v) for v in by_class.values())
    rng = _random.Random(seed)
    keep = {i for idx in by_class.values() for i in rng.sample(idx, n)}
    return tuple(u for i, u in enumerate(utts) if i in keep)


def pair_id(train_corpus: str, test_corpus: str) -> str:
    """The fold id of a ``pairs`` fold: ``"savee_to_ravdess"``."""
    return f"{train_corpus}_to_{test_corpus}"


def pairs_folds(utts: Sequence[Utterance], seed: int = 0, labels: Sequence[str] = CROSS_CORPUS_LABELS) -> list[Fold]:
    """Train on one corpus, test on another, every ordered pair; only ``labels``, on both sides,
    and each test side balanced (:func:`balanced`)."""
    kept = [u for u in utts if u.emotion in labels]
    corpora = corpora_of(kept)
    if len(corpora) < 2:
        raise DataError("pairs", f"needs at least 2 corpora with {'/'.join(labels)} clips, found {len(corpora)}")
    folds = []
    for a in corpora:
        for b in corpora:
            if a == b:
                continue
            train = tuple(u for u in kept if u.corpus == a)
            test = balanced([u for u in kept if u.corpus == b], seed)
            fold = Fold(pair_id(a, b), train, test, tuple(speakers_of(test)))
            _check_disjoint(fold)
            folds.append(fold)
    return folds


def loso_folds(utts: Sequence[Utterance]) -> list[Fold]:
    """Leave one speaker out: one fold per speaker (fold id = the speaker)."""
    spk = speakers_of(utts)
    if len(spk) < 2:
        raise DataError("loso", f"needs at least 2 speakers, found {len(spk)}")
    return [_make(s, utts, {s}) for s in spk]


def kfold_speaker_folds(utts: Sequence[Utterance], k: int = 5, seed: int = 0) -> list[Fold]:
    """``k`` folds of speakers (shuffled with ``seed``, dealt round-robin)."""
    spk = speakers_of(utts)
    if k < 2 or k > len(spk):
        raise DataError("kfold-speaker", f"k={k} needs 2 <= k <= number of speakers ({len(spk)})")
    order = list(spk)
    _random.Random(seed).shuffle(order)
    groups = [set(order[i::k]) for i in range(k)]
    return [_make(str(i + 1), utts, g) for i, g in enumerate(groups)]


def random_folds(utts: Sequence[Utterance], k: int = 5, seed: int = 0) -> list[Fold]:
    """``k`` stratified folds of shuffled utterances (each emotion dealt round-robin, so every fold
    holds about ``1/k`` of each class). SPEAKER-DEPENDENT: a speaker may train and test."""
    if k < 2 or k > len(utts):
        raise DataError("random", f"k={k} needs 2 <= k <= number of utterances ({len(utts)})")
    rng = _random.Random(seed)
    idx: list[int] = []
    for emotion in sorted({u.emotion for u in utts}):
        members = [j for j, u in enumerate(utts) if u.emotion == emotion]
        rng.shuffle(members)
        idx.extend(members)
    folds = []
    for i in range(k):
        test_idx = set(idx[i::k])
        test = tuple(utts[j] for j in sorted(test_idx))
        train = tuple(utts[j] for j in range(len(utts)) if j not in test_idx)
        folds.append(Fold(str(i + 1), train, test, tuple(speakers_of(test)), speaker_independent=False))
    log.warning("protocol random is %s: the same speakers train and test", SPEAKER_DEPENDENT_LABEL)
    return folds


def protocol_labels(protocol: str, labels: Sequence[str]) -> tuple[str, ...]:
    """The label set a run of ``protocol`` classifies: ``pairs`` keeps only the shared four classes."""
    if protocol == "pairs":
        return tuple(lab for lab in labels if lab in CROSS_CORPUS_LABELS)
    return tuple(labels)


def make_folds(
    protocol: str,
    utts: Sequence[Utterance],
    *,
    k: int = 5,
    seed: int = 0,
    folds_path: str | Path | None = None,
) -> list[Fold]:
    """Folds of ``protocol`` (one of :data:`PROTOCOLS`) over ``utts``."""
    if not utts:
        raise DataError("data", "no utterances")
    if protocol == "emobox":
        if folds_path is None and not any(u.corpus == "ravdess" for u in utts):
            raise DataError("emobox", "the shipped fold table is RAVDESS's; give --folds PATH for another corpus")
        return emobox_folds(utts, read_folds_table(folds_path))
    if protocol == "loco":
        return loco_folds(utts)
    if protocol == "pairs":
        return pairs_folds(utts, seed)
    if protocol == "loso":
        return loso_folds(utts)
    if protocol == "kfold-speaker":
        return kfold_speaker_folds(utts, k, seed)
    if protocol == "random":
        return random_folds(utts, k, seed)
    raise DataError(protocol, f"unknown protocol (known: {', '.join(PROTOCOLS)})")


def is_speaker_independent(protocol: str) -> bool:
    return protocol != "random"

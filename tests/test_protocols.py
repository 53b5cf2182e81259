"""Speaker-independent protocols: EmoBox folds, LOSO, k-fold by speaker, random (labelled)."""

from __future__ import annotations

from collections import Counter

import json
from pathlib import Path

import pytest

from emomon.errors import DataError
from emomon.labels import EMOTIONS
from emomon.records import Utterance
from emomon.training.protocols import EMOBOX_RAVDESS_FOLDS, Fold, _check_disjoint, make_folds, read_folds_table

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def fake_ravdess(actors: int = 24, per_emotion: int = 2) -> list[Utterance]:
    utts = []
    for a in range(1, actors + 1):
        for e, emo in enumerate(EMOTIONS):
            for r in range(per_emotion):
                stem = f"03-01-{e + 1:02d}-01-01-{r + 1:02d}-{a:02d}"
                utts.append(Utterance(id=f"ravdess:{stem}", path=f"/x/{stem}.wav", emotion=emo, speaker=f"ravdess:{a:02d}", corpus="ravdess"))
    return utts


def test_emobox_shipped_table_six_folds_disjoint():
    utts = fake_ravdess()
    folds = make_folds("emobox", utts)
    assert [f.id for f in folds] == ["1", "2", "3", "4", "5", "6"]
    tested = []
    for f in folds:
        assert len(f.test_speakers) == 4
        assert not set(f.test_speakers) & set(f.train_speakers)
        assert len(f.test) == 4 * 16 and len(f.train) == 20 * 16
        assert f.speaker_independent
        tested += f.test_speakers
    assert sorted(tested) == sorted({u.speaker for u in utts})  # every actor tested exactly once
    assert folds[0].test_speakers == ("ravdess:01", "ravdess:11", "ravdess:20", "ravdess:21")


def test_shipped_table_matches_shared_copy():
    path = SHARED / "data" / "emobox-ravdess-folds.json"
    if not path.is_file():
        pytest.skip("no ../shared data")
    assert read_folds_table(path) == EMOBOX_RAVDESS_FOLDS


def test_folds_file_is_read(tmp_path):
    p = tmp_path / "f.json"
    p.write_text(json.dumps({"folds": {"a": [1, 2], "b": ["ravdess:03"]}}))
    folds = make_folds("emobox", fake_ravdess(4), folds_path=p)
    assert [f.id for f in folds] == ["a", "b"]
    assert folds[1].test_speakers == ("ravdess:03",)
    assert "ravdess:04" in folds[0].train_speakers and "ravdess:04" in folds[1].train_speakers


def test_folds_file_unknown_speaker(tmp_path):
    p = tmp_path / "f.json"
    p.write_text(json.dumps({"folds": {"1": [99]}}))
    with pytest.raises(DataError):
        make_folds("emobox", fake_ravdess(4), folds_path=p)


def test_emobox_refuses_other_corpus_without_table():
    utts = [Utterance("x:1", "/x.wav", "sad", "crema:1", "crema"), Utterance("x:2", "/y.wav", "sad", "crema:2", "crema")]
    with pytest.raises(DataError):
        make_folds("emobox", utts)


def test_loso_one_fold_per_speaker():
    utts = fake_ravdess(5)
    folds = make_folds("loso", utts)
    assert len(folds) == 5
    for f in folds:
        assert f.test_speakers == (f.id,)
        assert {u.speaker for u in f.test} == {f.id}
        assert f.id not in f.train_speakers


def test_kfold_speaker_partitions_speakers():
    utts = fake_ravdess(10)
    folds = make_folds("kfold-speaker", utts, k=3, seed=1)
    assert len(folds) == 3
    seen = [s for f in folds for s in f.test_speakers]
    assert sorted(seen) == sorted({u.speaker for u in utts})
    for f in folds:
        assert not set(f.test_speakers) & set(f.train_speakers)
    assert [f.test_speakers for f in folds] == [f.test_speakers for f in make_folds("kfold-speaker", utts, k=3, seed=1)]
    with pytest.raises(DataError):
        make_folds("kfold-speaker", utts, k=11)


def test_random_is_labelled_speaker_dependent():
    utts = fake_ravdess(3)
    folds = make_folds("random", utts, k=4)
    assert len(folds) == 4
    assert all(not f.speaker_independent for f in folds)
    assert sum(len(f.test) for f in folds) == len(utts)
    ids = [u.id for f in folds for u in f.test]
    assert len(set(ids)) == len(utts)
    # speakers appear on both sides (that is what speaker-dependent means)
    assert set(folds[0].test_speakers) & set(folds[0].train_speakers)


def test_random_folds_are_stratified_by_emotion():
    utts = [u for u in fake_ravdess(24) if not (u.emotion == "neutral" and u.id.split("-")[5] == "02")]  # 24 neutral, 48 of the others
    assert Counter(u.emotion for u in utts)["neutral"] == 24
    for fold in make_folds("random", utts, k=5, seed=3):
        counts = Counter(u.emotion for u in fold.test)
        totals = Counter(u.emotion for u in utts)
        assert all(abs(counts[e] - totals[e] / 5) <= 1 for e in totals), counts  # 1/5 of each emotion, give or take one


def test_validation_split_by_speakers_or_stratified_clips():
    from emomon.training.loop import validation_split

    utts = fake_ravdess(10)
    tr, va = validation_split(utts, 0.2, "speakers", seed=1)
    assert len({u.speaker for u in va}) == 2 and not {u.speaker for u in va} & {u.speaker for u in tr}
    tr, va = validation_split(utts, 0.25, "clips", seed=1)
    assert len(va) == 8 * 5 and Counter(u.emotion for u in va) == Counter({e: 5 for e in EMOTIONS})  # a quarter of each
    assert {u.speaker for u in va} & {u.speaker for u in tr} and not {u.id for u in va} & {u.id for u in tr}
    assert validation_split(utts, 0.0, "clips") == (utts, [])


def test_overlap_assertion_fires():
    u = fake_ravdess(2)
    bad = Fold("x", tuple(u[:3]), tuple(u[3:5]), ("ravdess:01",))
    with pytest.raises(AssertionError):
        _check_disjoint(bad)


def test_unknown_protocol():
    with pytest.raises(DataError):
        make_folds("holdout", fake_ravdess(2))

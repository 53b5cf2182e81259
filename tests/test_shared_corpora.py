"""The corpus readers against the shared copies of EmoDB and SAVEE (their READMEs give the counts),
and the speaker protocols within each. Skipped where ../shared is absent; test_multicorpus.py and
test_corpora.py cover the same readers on synthesized clips."""

from __future__ import annotations

from collections import Counter

import pytest

from emomon.training.cli import load_corpora
from emomon.training.protocols import CROSS_CORPUS_LABELS, make_folds

from conftest import SHARED

DATA = SHARED / "data"
pytestmark = pytest.mark.skipif(not (DATA / "emodb").is_dir() or not (DATA / "savee").is_dir(), reason="needs ../shared/data/emodb and savee")


def test_emodb_counts_match_its_readme(caplog):
    with caplog.at_level("WARNING"):
        utts = load_corpora([f"emodb={DATA / 'emodb'}"])
    # README: anger 127, boredom 81, neutral 79, happiness 71, fear 69, sadness 62, disgust 46 (535)
    assert Counter(u.emotion for u in utts) == {"angry": 127, "neutral": 79, "happy": 71, "fearful": 69, "sad": 62, "disgust": 46}
    assert "skipped 81 clips: boredom" in caplog.text
    speakers = Counter(u.speaker for u in utts)
    assert len(speakers) == 10 and {u.gender for u in utts if u.speaker == "emodb:03"} == {"male"}
    folds = make_folds("loso", utts)
    assert len(folds) == 10 and all(len(f.test_speakers) == 1 and len(f.train) + len(f.test) == 454 for f in folds)


def test_savee_counts_match_its_readme():
    utts = load_corpora([f"savee={DATA / 'savee'}"])
    assert len(utts) == 480 and Counter(u.speaker for u in utts) == {f"savee:{s}": 120 for s in ("DC", "JE", "JK", "KL")}
    per = Counter(u.emotion for u in utts if u.speaker == "savee:DC")
    assert per == {"neutral": 30, "angry": 15, "disgust": 15, "fearful": 15, "happy": 15, "sad": 15, "surprised": 15}
    folds = make_folds("kfold-speaker", utts, k=4)
    assert len(folds) == 4 and sorted(s for f in folds for s in f.test_speakers) == sorted({u.speaker for u in utts})
    assert len(make_folds("loso", utts)) == 4


@pytest.mark.skipif(not (DATA / "ravdess-speech").is_dir(), reason="needs ../shared/data/ravdess-speech")
def test_the_three_corpora_in_one_run():
    utts = load_corpora([f"ravdess={DATA / 'ravdess-speech'}", f"emodb={DATA / 'emodb'}", f"savee={DATA / 'savee'}"])
    assert Counter(u.corpus for u in utts) == {"ravdess": 1440, "emodb": 454, "savee": 480}
    folds = make_folds("emobox", utts, folds_path=DATA / "emobox-ravdess-folds.json")
    assert all(len(f.test) == 240 and len(f.train) == 1200 + 454 + 480 for f in folds)
    pairs = {f.id: f for f in make_folds("pairs", [u for u in utts if u.emotion in CROSS_CORPUS_LABELS])}
    # balanced test sides: RAVDESS has 96 neutral clips and 192 of the others; SAVEE 120 neutral, 60 of the others
    assert Counter(u.emotion for u in pairs["savee_to_ravdess"].test) == {lab: 96 for lab in CROSS_CORPUS_LABELS}
    assert Counter(u.emotion for u in pairs["ravdess_to_savee"].test) == {lab: 60 for lab in CROSS_CORPUS_LABELS}

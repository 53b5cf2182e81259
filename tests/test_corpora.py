"""Corpus readers, the registry and corpus detection, on synthesized file trees."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emomon.errors import DataError
from emomon.labels import EMOTIONS
from emomon.training.corpora import (
    corpus_names,
    detect_corpus,
    load_corpus,
    parse_ravdess_name,
    read_ravdess,
)
from emomon.training.corpora.crema_d import EMOTION_MAP as CREMA_MAP
from emomon.training.corpora.emodb import EMOTION_MAP as EMODB_MAP

RAVDESS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ravdess-speech"


def touch_wav(path: Path, seconds: float = 0.05) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(16000 * seconds), dtype=np.float32), 16000)
    return path


def tree(root: Path, names: list[str]) -> Path:
    for n in names:
        touch_wav(root / n)
    return root


def test_every_mapping_targets_the_label_set() -> None:
    from emomon.training.corpora import crema_d, emodb, ravdess, savee, tess

    for mod in (crema_d, emodb, ravdess, savee, tess):
        targets = {v for v in mod.EMOTION_MAP.values() if v is not None}
        assert targets <= set(EMOTIONS), mod.__name__
    assert set(CREMA_MAP.values()) == {"angry", "disgust", "fearful", "happy", "neutral", "sad"}
    assert EMODB_MAP["L"] is None


def test_ravdess_speech_song_and_flac(tmp_path: Path) -> None:
    root = tree(tmp_path, ["Actor_01/03-01-05-02-01-01-01.flac", "Actor_02/03-01-08-01-02-02-02.wav",
                           "Actor_02/03-02-03-01-01-01-02.wav", "Actor_02/readme.wav"])
    speech = load_corpus("ravdess", root)
    assert [(u.emotion, u.speaker, u.gender, u.intensity) for u in speech] == [
        ("angry", "ravdess:01", "male", "strong"), ("surprised", "ravdess:02", "female", "normal")]
    song = load_corpus("ravdess-song", root)
    assert [u.emotion for u in song] == ["happy"] and song[0].extra["channel"] == "song"
    assert len(load_corpus("ravdess-all", root)) == 3
    assert parse_ravdess_name("03-01-09-01-01-01-01.wav") is None  # no emotion 09
    assert len(read_ravdess(root)) == 2  # the old public function still works


def test_crema_d(tmp_path: Path) -> None:
    root = tree(tmp_path / "AudioWAV", ["1001_DFA_ANG_XX.wav", "1001_IEO_HAP_HI.wav", "1002_TSI_FEA_LO.wav", "1002_ITS_NEU_XX.wav",
                                        "1003_WSI_DIS_MD.wav", "1003_MTI_SAD_XX.wav", "notes.wav"])
    (tmp_path / "VideoDemographics.csv").write_text("ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n1002,21,Female,Caucasian,Not Hispanic\n")
    utts = load_corpus("crema-d", root)
    by_id = {u.id: u for u in utts}
    assert len(utts) == 6
    u = by_id["crema-d:1001_DFA_ANG_XX"]
    assert (u.emotion, u.speaker, u.gender, u.intensity, u.statement) == ("angry", "crema-d:1001", "male", None, "Don't forget a jacket")
    assert by_id["crema-d:1002_TSI_FEA_LO"].emotion == "fearful" and by_id["crema-d:1002_TSI_FEA_LO"].gender == "female"
    assert by_id["crema-d:1002_TSI_FEA_LO"].intensity == "low"
    assert by_id["crema-d:1003_WSI_DIS_MD"].gender is None  # not in the demographics file
    assert Counter(u.emotion for u in utts) == Counter({"angry": 1, "happy": 1, "fearful": 1, "neutral": 1, "disgust": 1, "sad": 1})
    assert detect_corpus(root) == "crema-d" and load_corpus("cremad", root) == utts


def test_tess(tmp_path: Path) -> None:
    root = tree(tmp_path, ["OAF_angry/OAF_back_angry.wav", "OAF_Pleasant_surprise/OAF_bath_ps.wav", "YAF_fear/YAF_young_fear.wav",
                           "YAF_pleasant_surprised/YAF_chair_pleasant_surprised.wav", "YAF_sad/YAF_dog_sad.wav",
                           "OAF_disgust/OAF_neat_disgust.wav", "YAF_happy/YAF_page_happy.wav", "OAF_neutral/OAF_youth_neutral.wav"])
    utts = load_corpus("tess", root)
    got = {u.id: (u.emotion, u.speaker, u.gender) for u in utts}
    assert got["tess:OAF_back_angry"] == ("angry", "tess:OAF", "female")
    assert got["tess:OAF_bath_ps"][0] == "surprised"
    assert got["tess:YAF_chair_pleasant_surprised"][0] == "surprised"
    assert got["tess:YAF_young_fear"] == ("fearful", "tess:YAF", "female")
    assert {u.emotion for u in utts} == set(EMOTIONS) - {"calm"}
    assert next(u for u in utts if u.id == "tess:OAF_back_angry").statement == "Say the word back"
    assert detect_corpus(root) == "tess"


def test_savee_folders_and_flat(tmp_path: Path) -> None:
    folders = tree(tmp_path / "AudioData", ["DC/a01.wav", "DC/sa03.wav", "JE/su15.wav", "JK/n30.wav", "KL/d02.wav", "KL/f05.wav", "KL/h10.wav"])
    utts = load_corpus("savee", folders)
    got = {u.id: (u.emotion, u.speaker) for u in utts}
    assert got == {
        "savee:DC_a01": ("angry", "savee:DC"), "savee:DC_sa03": ("sad", "savee:DC"), "savee:JE_su15": ("surprised", "savee:JE"),
        "savee:JK_n30": ("neutral", "savee:JK"), "savee:KL_d02": ("disgust", "savee:KL"), "savee:KL_f05": ("fearful", "savee:KL"),
        "savee:KL_h10": ("happy", "savee:KL"),
    }
    assert all(u.gender == "male" for u in utts)
    flat = tree(tmp_path / "ALL", ["DC_a01.wav", "JE_sa02.wav", "KL_su03.wav"])
    assert [(u.emotion, u.speaker) for u in load_corpus("savee", flat)] == [("angry", "savee:DC"), ("sad", "savee:JE"), ("surprised", "savee:KL")]
    assert detect_corpus(folders) == "savee" and detect_corpus(flat) == "savee"


def test_emodb_skips_boredom_with_a_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tree(tmp_path / "wav", ["03a01Fa.wav", "03a01Wa.wav", "08a02Ec.wav", "09b01Ab.wav", "10b03Ta.wav", "16a07Na.wav",
                                   "11a01La.wav", "13b10Lb.wav"])
    with caplog.at_level(logging.WARNING):
        utts = load_corpus("emodb", root)
    assert len(utts) == 6
    assert "skipped 2 clips" in caplog.text and "boredom" in caplog.text
    got = {u.id: (u.emotion, u.speaker, u.gender) for u in utts}
    assert got["emodb:03a01Fa"] == ("happy", "emodb:03", "male")
    assert got["emodb:03a01Wa"][0] == "angry"
    assert got["emodb:08a02Ec"] == ("disgust", "emodb:08", "female")
    assert got["emodb:09b01Ab"][0] == "fearful" and got["emodb:10b03Ta"] == ("sad", "emodb:10", "male")
    assert got["emodb:16a07Na"] == ("neutral", "emodb:16", "female")
    assert next(u for u in utts if u.id == "emodb:03a01Fa").statement == "Der Lappen liegt auf dem Eisschrank."
    assert detect_corpus(root) == "emodb"


def test_emodb_only_boredom_is_an_error(tmp_path: Path) -> None:
    root = tree(tmp_path, ["11a01La.wav"])
    with pytest.raises(DataError, match="skipped"):
        load_corpus("emodb", root)


def test_folder_layout(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tree(tmp_path, ["Anger/x1.wav", "happy/spk1/a.wav", "happy/spk1/b.wav", "happy/spk2/c.flac", "boredom/z.wav",
                           "surprise/q.wav"])
    with caplog.at_level(logging.WARNING):
        utts = load_corpus("folder", root)
    got = {u.id: (u.emotion, u.speaker) for u in utts}
    assert got["folder:Anger/x1"] == ("angry", "folder:Anger/x1")  # own speaker
    assert got["folder:happy/spk1/a"] == ("happy", "folder:spk1")
    assert got["folder:happy/spk2/c"] == ("happy", "folder:spk2")
    assert got["folder:surprise/q"][0] == "surprised"
    assert not any(u.extra["source_label"] == "boredom" for u in utts)
    assert "skipped 1 clip" in caplog.text and "own speaker" in caplog.text
    assert detect_corpus(root) == "folder"


def test_manifest_csv_and_jsonl(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tree(tmp_path / "audio", ["a.wav", "b.wav", "c.wav"])
    csv_path = tmp_path / "manifest.csv"
    csv_path.write_text("path,label,speaker,gender\naudio/a.wav,Anger,s1,F\naudio/b.wav,fear,s2,\naudio/c.wav,boredom,s2,\n")
    with caplog.at_level(logging.WARNING):
        utts = load_corpus("manifest", csv_path)
    assert [(u.emotion, u.speaker, u.gender) for u in utts] == [("angry", "manifest:s1", "female"), ("fearful", "manifest:s2", None)]
    assert Path(utts[0].path) == tmp_path / "audio" / "a.wav"
    assert "skipped 1 clip" in caplog.text
    assert detect_corpus(tmp_path) == "manifest" and load_corpus("auto", tmp_path) == utts
    jl = tmp_path / "list.jsonl"
    jl.write_text(json.dumps({"path": "audio/c.wav", "label": "calm", "speaker": "x", "text": "hi"}) + "\n\n"
                  + json.dumps({"path": "audio/a.wav", "label": "ps"}) + "\n")
    utts = load_corpus("manifest", jl)
    assert [(u.emotion, u.speaker, u.statement) for u in utts] == [("calm", "manifest:x", "hi"), ("surprised", "manifest:audio/a", None)]


def test_manifest_errors(tmp_path: Path) -> None:
    bad = tmp_path / "m.csv"
    bad.write_text("file,emotion\na.wav,angry\n")
    with pytest.raises(DataError, match="missing column"):
        load_corpus("manifest", bad)
    missing = tmp_path / "n.csv"
    missing.write_text("path,label,speaker\nnope.wav,angry,s\n")
    with pytest.raises(DataError, match="missing.*nope.wav"):
        load_corpus("manifest", missing)
    with pytest.raises(DataError, match="no manifest"):
        load_corpus("manifest", tmp_path / "")


def test_registry_errors(tmp_path: Path) -> None:
    assert {"ravdess", "crema-d", "tess", "savee", "emodb", "folder", "manifest"} <= set(corpus_names())
    with pytest.raises(DataError, match="unknown corpus"):
        load_corpus("iemocap", tmp_path)
    with pytest.raises(DataError, match="no such directory"):
        load_corpus("crema-d", tmp_path / "missing")
    with pytest.raises(DataError, match="no such directory"):
        detect_corpus(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    for name in ("ravdess", "crema-d", "tess", "savee", "emodb", "folder"):
        with pytest.raises(DataError, match="no .*clips"):
            load_corpus(name, empty)
    with pytest.raises(DataError, match="no audio files"):
        detect_corpus(empty)
    tree(tmp_path / "odd", ["x/hello.wav"])
    with pytest.raises(DataError, match="cannot tell"):
        detect_corpus(tmp_path / "odd")


def test_detect_prefers_ravdess_speech(tmp_path: Path) -> None:
    root = tree(tmp_path, ["Actor_01/03-02-03-01-01-01-01.wav"])
    assert detect_corpus(root) == "ravdess-song"
    touch_wav(root / "Actor_01" / "03-01-03-01-01-01-01.wav")
    assert detect_corpus(root) == "ravdess"


@pytest.mark.skipif(not RAVDESS.is_dir(), reason="shared RAVDESS copy not present")
def test_shared_ravdess_detected_and_balanced() -> None:
    assert detect_corpus(RAVDESS) == "ravdess"
    utts = load_corpus("auto", RAVDESS)
    assert len(utts) == 1440 and len({u.speaker for u in utts}) == 24
    counts = Counter(u.emotion for u in utts)
    assert counts["neutral"] == 96 and all(counts[e] == 192 for e in EMOTIONS if e != "neutral")

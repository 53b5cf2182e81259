"""Speaker profiles (--profile NAME) and adaptation on the command line: where profiles live,
save/load round trips through `file --stream`, refusals, `file --adapt`, and `emomon profiles`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, make_adaptive_model_dir, synth_speechlike
from emomon.cli import main
from emomon.errors import ProfileError
from emomon.labels import EMOTIONS


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _json(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("EMOMON_DATA", str(d))
    return d


@pytest.fixture
def voices(tmp_path) -> tuple[Path, Path]:
    """Two recordings of a loud, high voice (the adaptive model's prior is a quiet, low one)."""
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    sf.write(a, synth_speechlike(1.0, f0=250, amp=0.5), SR)
    sf.write(b, synth_speechlike(1.5, f0=280, amp=0.6, seed=1), SR)
    return a, b


def _stream(capsys, model, *files, extra=()):
    return run(capsys, "file", *files, "--stream", "--fast", "--no-ui", "--model", model, "--vad", "off", *extra)


# -- the profiles module ------------------------------------------------------------------------
def test_data_dir_resolution(monkeypatch, tmp_path):
    from emomon.profiles import data_dir, profile_path

    monkeypatch.delenv("EMOMON_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "emomon"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".local" / "share" / "emomon"
    monkeypatch.setenv("EMOMON_DATA", str(tmp_path / "mine"))
    assert profile_path("anna") == tmp_path / "mine" / "profiles" / "anna.json"


@pytest.mark.parametrize("bad", ["../evil", "a/b", "", ".hidden", "a b", "x" * 65, "anna\n", "é"])
def test_profile_names_are_never_paths(bad):
    from emomon.profiles import check_name

    with pytest.raises(ProfileError):
        check_name(bad)
    assert check_name("Anna-2_b.v1") == "Anna-2_b.v1"


def test_save_load_round_trip_is_atomic(data, adaptive_model):
    from emomon.profiles import load_profile, save_profile

    p = load_profile("anna", adaptive_model)
    assert p.updated is None and p.stats.count == 0 and not p.path.exists()  # a new profile
    rows = np.random.default_rng(0).standard_normal((5, p.stats.dims))
    stats = p.stats + p.stats
    stats.add(rows, seconds=2.5)
    save_profile(p, stats)
    assert [f.name for f in p.path.parent.iterdir()] == ["anna.json"]  # no temporary file left
    q = load_profile("anna", adaptive_model)
    assert q.updated is not None and q.stats.count == 5 and q.seconds == pytest.approx(2.5)
    np.testing.assert_allclose(q.stats.sum, rows.sum(axis=0))
    np.testing.assert_allclose(q.stats.sumsq, np.square(rows).sum(axis=0))
    saved = json.loads(p.path.read_text())
    assert saved["name"] == "anna" and saved["model"]["dims"] == p.stats.dims and saved["model"]["layers"] == [1, 2]


# -- the command line ---------------------------------------------------------------------------
def test_stream_profile_round_trip(capsys, data, adaptive_model_dir, voices):
    a, b = voices
    log = data.parent / "log.jsonl"
    code, out, err = _stream(capsys, adaptive_model_dir, a, extra=("--profile", "anna", "--jsonl", log))
    assert code == 0, err
    first = _json(out)
    assert [r["adapted_s"] for r in first] == [0.25, 0.5, 0.75, 1.0]
    header = _json(log.read_text())[0]
    assert header["settings"]["adapt"] is True and header["settings"]["profile"] == "anna"
    path = data / "profiles" / "anna.json"
    saved = json.loads(path.read_text())
    assert saved["stats"]["count"] == 4 and saved["stats"]["seconds"] == 1.0
    assert f"profile anna saved: 1 s of speech heard in all ({path})" in err
    # the next session starts from the profile: the same audio, answered differently
    code, out, _ = _stream(capsys, adaptive_model_dir, a, extra=("--profile", "anna"))
    again = _json(out)
    assert [r["adapted_s"] for r in again] == [1.25, 1.5, 1.75, 2.0]
    assert max(abs(again[0]["scores"][k] - first[0]["scores"][k]) for k in EMOTIONS) > 1e-3
    # several streams: each its own lane, all starting from the profile, all added to it
    code, out, _ = _stream(capsys, adaptive_model_dir, a, b, extra=("--profile", "anna"))
    assert code == 0
    recs = _json(out)
    assert {r["stream"] for r in recs} == {str(a), str(b)}
    assert min(r["adapted_s"] for r in recs) == 2.25  # both lanes start from the profile's 2 s
    saved = json.loads(path.read_text())
    assert saved["stats"]["count"] == 8 + 4 + 6 and saved["stats"]["seconds"] == pytest.approx(2.0 + 1.0 + 1.5)


def test_no_adapt_gives_the_prior_answers(capsys, data, adaptive_model_dir, adaptive_model, voices):
    from emomon.audio import decode_audio
    from emomon.features.windows import clip_windows

    a, _ = voices
    code, out, _ = _stream(capsys, adaptive_model_dir, a, extra=("--no-adapt", "--precision", "fp32"))  # fp32 as below
    recs = _json(out)
    assert code == 0 and all(r["adapted_s"] is None for r in recs)
    wins = np.stack([w.samples for w in clip_windows(decode_audio(a, SR), SR, 1.0, 0.25)])
    prior = adaptive_model.predict_proba(wins)
    np.testing.assert_allclose([[r["scores"][k] for k in EMOTIONS] for r in recs], prior, atol=1e-5)
    code, out, _ = _stream(capsys, adaptive_model_dir, a)  # adapting (the default) answers otherwise
    assert np.abs(np.array([[r["scores"][k] for k in EMOTIONS] for r in _json(out)]) - prior).max() > 1e-3
    code, _, err = _stream(capsys, adaptive_model_dir, a, extra=("--no-adapt", "--profile", "anna"))
    assert code == 1 and err.strip() == "emomon: error: --profile: needs adaptation (drop --no-adapt)"


def test_a_profile_of_another_model_is_refused_and_kept(capsys, data, adaptive_model_dir, tiny_whisper_dir, tmp_path, voices):
    a, _ = voices
    assert _stream(capsys, adaptive_model_dir, a, extra=("--profile", "anna"))[0] == 0
    path = data / "profiles" / "anna.json"
    before = path.read_bytes()
    other = make_adaptive_model_dir(tmp_path / "other", tiny_whisper_dir, layers=(2,))
    code, out, err = _stream(capsys, other, a, extra=("--profile", "anna"))
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("emomon: error: profile anna: was made with another model (whisper-base layers [1, 2], 64 features")
    assert path.read_bytes() == before
    code, out, err = run(capsys, "file", a, "--adapt", "--model", other, "--profile", "anna", "-f", "json")
    assert code == 1 and out == "" and "was made with another model" in err and path.read_bytes() == before
    path.write_text("{not json")
    code, _, err = _stream(capsys, adaptive_model_dir, a, extra=("--profile", "anna"))
    assert code == 1 and "not a readable profile" in err and path.read_text() == "{not json"


def test_bad_profile_name_fails_before_anything(capsys, data, voices):
    a, _ = voices
    code, out, err = run(capsys, "file", a, "--stream", "--model", "no-such-model", "--profile", "../evil")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == ["emomon: error: profile name '../evil': use letters, digits, '-', '_' and '.' only "
                                        "(at most 64 characters, starting with a letter or digit; no path)"]
    assert not data.exists()


def test_a_model_that_cannot_adapt(capsys, data, test_model_dir, voices):
    a, _ = voices
    code, out, err = _stream(capsys, test_model_dir, a, extra=("--profile", "anna"))
    assert code == 1 and out == ""
    assert err.strip() == (f"emomon: error: --profile anna: model {test_model_dir} cannot adapt to the speaker "
                           "(it was not trained with speaker standardisation)")
    assert not data.exists()
    code, out, err = _stream(capsys, test_model_dir, a, extra=("--adapt",))
    assert code == 0 and all(r["adapted_s"] is None for r in _json(out))
    assert err.count("cannot adapt") == 1 and "emomon: note:" in err
    code, out, err = run(capsys, "file", a, "--adapt", "--model", test_model_dir, "-f", "json", "--vad", "off")
    assert code == 0 and err.count("cannot adapt") == 1 and _json(out)[0]["label"] in EMOTIONS
    code, out, err = _stream(capsys, test_model_dir, a)
    assert code == 0 and "cannot adapt" not in err  # not asked for: nothing to say


def _scores(res: dict) -> np.ndarray:
    return np.array([[s["scores"][k] for k in EMOTIONS] for s in res["segments"]])


def test_file_adapt_uses_the_statistics_of_all_the_files(capsys, data, adaptive_model_dir, tiny_whisper_dir, tmp_path, voices):
    a, b = voices
    args = ("--model", adaptive_model_dir, "-f", "json", "--vad", "off")
    plain = _json(run(capsys, "file", a, b, *args)[1])
    code, out, err = run(capsys, "file", a, b, *args, "--adapt")
    assert code == 0, err
    adapted = _json(out)
    assert [r["path"] for r in adapted] == [str(a), str(b)]
    assert [len(r["segments"]) for r in adapted] == [len(r["segments"]) for r in plain] == [1, 2]
    assert max(np.abs(_scores(x) - _scores(y)).max() for x, y in zip(adapted, plain)) > 1e-3
    # one session: a's answer depends on b's speech too, not on the order of the files
    swapped = _json(run(capsys, "file", b, a, *args, "--adapt")[1])
    np.testing.assert_allclose(_scores(swapped[1]), _scores(adapted[0]), atol=2e-6)
    alone = _json(run(capsys, "file", a, *args, "--adapt")[1])
    assert np.abs(_scores(alone[0]) - _scores(adapted[0])).max() > 1e-4
    # a prior worth (almost) infinitely many windows: adapting changes nothing
    stiff = make_adaptive_model_dir(tmp_path / "stiff", tiny_whisper_dir, prior_weight=1e12)
    args = ("--model", stiff, "-f", "json", "--vad", "off")
    for x, y in zip(_json(run(capsys, "file", a, b, *args, "--adapt")[1]), _json(run(capsys, "file", a, b, *args)[1])):
        np.testing.assert_allclose(_scores(x), _scores(y), atol=1e-5)
    code, _, err = run(capsys, "file", a, "--model", adaptive_model_dir, "--profile", "anna")
    assert code == 1 and err.strip() == "emomon: error: --profile: applies with --adapt (or --stream)"


def test_file_adapt_with_a_profile_and_the_profiles_command(capsys, data, adaptive_model_dir, voices):
    a, b = voices
    args = ("--model", adaptive_model_dir, "-f", "json", "--vad", "off", "--adapt", "--profile", "bob")
    code, first, err = run(capsys, "file", a, b, *args)
    assert code == 0 and "profile bob saved: 2 s of speech" in err
    saved = json.loads((data / "profiles" / "bob.json").read_text())
    assert saved["stats"]["count"] == 3 and saved["stats"]["seconds"] == pytest.approx(2.5)
    code, second, _ = run(capsys, "file", a, b, *args)  # starts from what the first session heard
    assert json.loads((data / "profiles" / "bob.json").read_text())["stats"]["count"] == 6
    assert first != second
    code, out, _ = run(capsys, "profiles")
    assert code == 0 and "bob" in out and "5 s" in out and "64 features" in out
    code, out, _ = run(capsys, "profiles", "--delete", "bob")
    assert code == 0 and not (data / "profiles" / "bob.json").exists()
    code, out, _ = run(capsys, "profiles")
    assert code == 0 and out.startswith("no profiles")
    code, _, err = run(capsys, "profiles", "--delete", "bob")
    assert code == 1 and err.startswith("emomon: error: profile bob: does not exist")


def test_profile_is_saved_when_the_session_is_interrupted(data, adaptive_model):
    from emomon.features.vad import VadOptions
    from emomon.profiles import load_profile
    from emomon.stream import FileSource, Monitor, MonitorConfig, run_session
    from emomon.stream.sinks import ProfileSaver

    class CtrlC:
        def __init__(self):
            self.n = 0

        def open(self, info):
            pass

        def write(self, rec):
            self.n += 1
            if self.n == 3:
                raise KeyboardInterrupt

        def close(self, summary):
            pass

    x = synth_speechlike(3.0, f0=250, amp=0.5)
    mon = Monitor(adaptive_model, FileSource(x, SR, realtime=True, source_rate=SR, name="mic"),
                  MonitorConfig(vad=VadOptions(method="off"), adapt=True), profile=load_profile("carl", adaptive_model))
    saver = ProfileSaver(mon)
    summary = run_session(mon, [saver, CtrlC()], "tiny")
    assert summary.completed is False and saver.saved == data / "profiles" / "carl.json"
    saved = load_profile("carl", adaptive_model)
    assert 3 <= saved.stats.count < 12 and saved.stats.count == mon.adapters["mic"].heard.count

import csv
import io
import json
import subprocess

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, emomon_command, help_imports, synth_speechlike
from emomon.audio import decode_audio
from emomon.cli import main
from emomon.labels import EMOTIONS
from emomon.stream import sources as sources_mod
from emomon.stream.sources import InputDevice


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def clips(tmp_path):
    d = tmp_path / "clips"
    (d / "sub").mkdir(parents=True)
    sf.write(d / "a.wav", synth_speechlike(1.0, f0=120), SR)
    sf.write(d / "sub" / "b.flac", synth_speechlike(1.5, f0=300, amp=0.6), SR)
    (d / "notes.txt").write_text("not audio")
    return d


def _json(out):
    return [json.loads(line) for line in out.splitlines()]


def test_file_json_one_object_per_file(capsys, test_model_dir, clips):
    code, out, err = run(capsys, "file", clips / "a.wav", clips / "sub" / "b.flac", "--model", test_model_dir, "--format", "json", "--vad", "off")
    assert code == 0 and err == ""
    lines = _json(out)
    assert [l["path"] for l in lines] == [str(clips / "a.wav"), str(clips / "sub" / "b.flac")]
    for l, dur in zip(lines, (1.0, 1.5)):
        assert set(l) == {"path", "duration", "speech", "label", "reason", "uncertain", "scores", "segments"}
        assert l["duration"] == pytest.approx(dur) and l["speech"] == pytest.approx(dur)
        assert set(l["scores"]) == set(EMOTIONS) and l["label"] == max(l["scores"], key=l["scores"].get)
        assert sum(l["scores"].values()) == pytest.approx(1.0, abs=1e-5)
        assert all(len(repr(v).split(".")[-1]) <= 6 for v in l["scores"].values())  # rounded to 6 digits
        assert l["segments"] and l["segments"][0]["start"] == 0.0 and l["segments"][-1]["end"] == pytest.approx(dur)


def test_a_short_clip_is_one_segment_with_its_whole_clip_answer(capsys, test_model_dir, test_model, clips):
    code, out, _ = run(capsys, "file", clips / "a.wav", "--model", test_model_dir, "-f", "json", "--vad", "off")
    (res,) = _json(out)
    whole = test_model.predict(str(clips / "a.wav"))
    assert len(res["segments"]) == 1 and res["label"] == whole.label
    assert res["scores"] == pytest.approx(whole.scores, abs=1e-6)


def test_silence_noise_and_tones_get_no_label(capsys, test_model_dir, tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(3 * SR) / SR
    for name, x in {"silence": np.zeros(3 * SR), "noise": 0.1 * rng.standard_normal(3 * SR), "tone": 0.3 * np.sin(2 * np.pi * 440 * t)}.items():
        sf.write(tmp_path / f"{name}.wav", x.astype(np.float32), SR)
    code, out, err = run(capsys, "file", tmp_path, "--model", test_model_dir, "-f", "json")
    assert code == 0 and err == ""
    for res in _json(out):
        assert res["label"] is None and res["scores"] is None and res["reason"] == "no speech", res
        assert res["segments"] == [] and res["speech"] == 0.0 and res["duration"] == pytest.approx(3.0)
    code, out, _ = run(capsys, "file", tmp_path / "tone.wav", "--model", test_model_dir)
    assert code == 0 and "no speech" in out
    code, out, _ = run(capsys, "file", tmp_path / "tone.wav", "--model", test_model_dir, "--stream", "--fast", "--no-ui")
    recs = _json(out)
    assert recs and all(r["label"] is None and r["reason"] == "no speech" and r["scores"] is None for r in recs)


def test_speech_is_segmented(capsys, test_model_dir, speech_clip, tmp_path):
    x = decode_audio(speech_clip, SR)
    gap = np.zeros(2 * SR, dtype=np.float32)
    sf.write(tmp_path / "talk.wav", np.concatenate([gap, x, gap, x, gap]), SR)
    code, out, _ = run(capsys, "file", tmp_path / "talk.wav", "--model", test_model_dir, "-f", "json")
    (res,) = _json(out)
    segs = res["segments"]
    # two sentences of 3.5 s, each split into 4 parts no longer than the toy model's 1 s window
    assert len(segs) == 8 and all(s["end"] - s["start"] <= 1.0 + 1e-6 for s in segs)
    assert res["speech"] == pytest.approx(sum(s["end"] - s["start"] for s in segs), abs=1e-3)
    assert 0.8 * 2 * len(x) / SR < res["speech"] < 2 * len(x) / SR + 0.6  # espeak's clip has its own short silences
    assert segs[0]["start"] == pytest.approx(2.0, abs=0.3) and segs[-1]["end"] == pytest.approx(4.0 + 2 * len(x) / SR, abs=0.4)
    weights = np.array([s["end"] - s["start"] for s in segs])
    mean = {k: float(weights @ np.array([s["scores"][k] for s in segs]) / weights.sum()) for k in EMOTIONS}
    assert res["scores"] == pytest.approx(mean, abs=1e-5)  # the file's scores: time-weighted mean of its segments'


def test_file_csv_per_file_and_per_segment(capsys, test_model_dir, clips):
    code, out, _ = run(capsys, "file", clips, "--model", test_model_dir, "-f", "csv", "--vad", "off")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["path", "duration", "speech", "label", "uncertain", "reason", "error", *EMOTIONS]
    assert sorted(r[0] for r in rows[1:]) == sorted([str(clips / "a.wav"), str(clips / "sub" / "b.flac")])  # notes.txt skipped
    code, out, _ = run(capsys, "file", clips / "sub" / "b.flac", "--model", test_model_dir, "-f", "csv", "--segments", "--vad", "off")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:3] == ["path", "start", "end"] and len(rows) == 3  # 1.5 s in two parts of at most 1 s
    assert [float(rows[1][1]), float(rows[2][2])] == pytest.approx([0.0, 1.5])
    code, out, _ = run(capsys, "file", f"{clips}/**/*.flac", "--model", test_model_dir, "-f", "json", "--vad", "off")
    assert code == 0 and [l["path"] for l in _json(out)] == [str(clips / "sub" / "b.flac")]


def test_file_table(capsys, test_model_dir, clips):
    code, out, _ = run(capsys, "file", clips / "a.wav", "--model", test_model_dir, "--vad", "off")
    assert code == 0 and any(lab in out for lab in EMOTIONS) and "1.00 s of 1.00 s" in out
    code, out, _ = run(capsys, "file", clips / "sub" / "b.flac", "--model", test_model_dir, "--vad", "off", "--segments")
    assert code == 0 and "0.00 s – 0.75 s" in out and "0.75 s – 1.50 s" in out


def test_failures_are_records_too(capsys, test_model_dir, clips, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF garbage" * 20)
    code, out, err = run(capsys, "file", clips / "a.wav", tmp_path / "missing.wav", bad, "--model", test_model_dir, "-f", "json", "--vad", "off")
    assert code == 1
    lines = _json(out)
    assert [l["path"] for l in lines] == [str(clips / "a.wav"), str(tmp_path / "missing.wav"), str(bad)]
    assert lines[1] == {"path": str(tmp_path / "missing.wav"), "error": "no such file"}
    assert lines[2]["error"] == "not an audio file (format not recognised)"
    errs = err.strip().splitlines()
    assert errs[0] == f"emomon: error: {tmp_path / 'missing.wav'}: no such file"
    assert errs[1] == f"emomon: error: {bad}: not an audio file (format not recognised)"
    assert "Traceback" not in err and "Errno" not in err
    code, out, _ = run(capsys, "file", bad, "--model", test_model_dir, "-f", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 1 and rows[1][0] == str(bad) and rows[1][6].startswith("not an audio file")


def test_min_confidence_marks_uncertain(capsys, test_model_dir, clips):
    code, out, _ = run(capsys, "file", clips / "a.wav", "--model", test_model_dir, "-f", "json", "--vad", "off", "--min-confidence", "0.999")
    (res,) = _json(out)
    assert res["uncertain"] is True and all(s["uncertain"] for s in res["segments"])
    code, out, _ = run(capsys, "file", clips / "a.wav", "--model", test_model_dir, "-f", "json", "--vad", "off")
    assert _json(out)[0]["uncertain"] is False
    code, out, _ = run(capsys, "file", clips / "a.wav", "--model", test_model_dir, "--vad", "off", "--min-confidence", "0.999")
    assert "uncertain" in out


def test_plot_of_a_file(capsys, test_model_dir, clips, tmp_path):
    png = tmp_path / "timeline.png"
    code, _, err = run(capsys, "file", clips / "a.wav", "--model", test_model_dir, "--vad", "off", "--plot", png)
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"timeline drawn to {png}" in err
    before = png.read_bytes()
    code, _, err = run(capsys, "file", clips / "a.wav", "--model", test_model_dir, "--plot", png)
    assert code == 1 and "already exists" in err and png.read_bytes() == before  # never overwritten silently
    code, _, err = run(capsys, "file", clips / "a.wav", "--model", test_model_dir, "--plot", png, "--force")
    assert code == 0
    code, _, err = run(capsys, "file", clips, "--model", test_model_dir, "--plot", tmp_path / "two.png")
    assert code == 1 and "draws the timeline of one file (got 2)" in err
    code, _, err = run(capsys, "file", clips / "a.wav", "--model", test_model_dir, "--plot", tmp_path / "x.gif")
    assert code == 1 and "x.gif" in err and not (tmp_path / "x.gif").exists()


def test_unknown_model_and_no_match(capsys, clips):
    code, out, err = run(capsys, "file", clips / "a.wav", "--model", "no-such-model")
    assert code == 1 and err.startswith("emomon: error: no-such-model: no such model")
    code, _, err = run(capsys, "file", str(clips / "*.mp3"), "--model", "no-such-model")
    assert code == 1  # the model fails first; one line, no traceback
    assert "Traceback" not in err


def test_usage_error_format(capsys):
    code, _, err = run(capsys, "file", "x.wav", "--bogus")
    assert code == 2 and "emomon: error: No such option: --bogus" in err


def test_stream_only_options_need_stream(capsys, test_model_dir, clips):
    code, _, err = run(capsys, "file", clips / "a.wav", "--model", test_model_dir, "--fast", "--hop", "0.5")
    assert code == 1 and err.strip() == "emomon: error: --fast, --hop: only apply with --stream"
    code, _, err = run(capsys, "file", clips / "a.wav", "--model", test_model_dir, "--stream", "--segments")
    assert code == 1 and err.startswith("emomon: error: --format/--segments: do not apply with --stream")


def test_stream_no_ui_and_jsonl(capsys, test_model_dir, clips, tmp_path):
    log = tmp_path / "log.jsonl"
    args = ["file", clips / "a.wav", "--stream", "--fast", "--no-ui", "--model", test_model_dir, "--vad", "off", "--jsonl", log]
    code, out, err = run(capsys, *args)
    assert code == 0
    recs = _json(out)
    assert len(recs) == 4 and [r["t"] for r in recs] == [0.25, 0.5, 0.75, 1.0]
    assert all(r["type"] == "window" and abs(sum(r["scores"].values()) - 1) < 1e-4 for r in recs)
    assert all(r["latency_ms"] is None and r["compute_ms"] > 0 for r in recs)  # --fast: compute time, not latency
    assert "model compute median" in err and "latency" not in err
    logged = _json(log.read_text())
    assert logged[0]["type"] == "session" and logged[0]["model"] == str(test_model_dir)
    assert logged[0]["settings"]["vad"]["method"] == "off" and logged[0]["streams"] == [str(clips / "a.wav")]
    assert logged[1:-1] == recs
    assert logged[-1]["type"] == "summary" and logged[-1]["windows"] == 4 and logged[-1]["completed"] is True
    # an existing log is never overwritten silently
    code, out, err = run(capsys, *args)
    assert code == 1 and out == "" and err.startswith(f"emomon: error: {log}: already exists")
    assert len(log.read_text().splitlines()) == 6
    code, *_ = run(capsys, *args, "--append")
    appended = _json(log.read_text())
    assert code == 0 and len(appended) == 12 and [r["type"] for r in appended].count("session") == 2
    assert appended[6]["type"] == "session"  # the second run starts with its own header
    code, *_ = run(capsys, *args, "--force")
    assert code == 0 and len(log.read_text().splitlines()) == 6


def test_stream_plot(capsys, test_model_dir, clips, tmp_path):
    png = tmp_path / "session.png"
    code, _, err = run(capsys, "file", clips / "a.wav", "--stream", "--fast", "--no-ui", "--model", test_model_dir, "--vad", "off", "--plot", png)
    assert code == 0 and png.stat().st_size > 1000 and "timeline drawn" in err


def test_stream_with_ui_renders_and_reports(capsys, test_model_dir, clips):
    code, out, err = run(capsys, "file", clips / "a.wav", "--stream", "--fast", "--model", test_model_dir, "--vad", "off")
    assert code == 0
    assert "top emotion" in out and "surprised" in out and "compute" in out and "speech" in out
    assert "4 windows (4 with speech)" in err


def test_stream_missing_file(capsys, test_model_dir, tmp_path):
    code, out, err = run(capsys, "file", tmp_path / "nope.wav", "--stream", "--model", test_model_dir)
    assert code == 1 and err.strip() == f"emomon: error: {tmp_path / 'nope.wav'}: no such file"


def test_version_and_flags_in_help(capsys):
    from emomon import __version__

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"emomon {__version__}"
    for cmd in (["file"], ["listen"], ["train"], ["report"], []):
        code, out, _ = run(capsys, *cmd, "--help")
        assert code == 0 and "<bool>" not in out and "--help" in out, cmd
    code, out, _ = run(capsys, "file", "--help")
    assert "--segments" in out and "--min-confidence" in out and "--vad" in out and "--plot" in out


def test_help_does_not_load_torch():
    """Every --help is quick because nothing heavy is imported before a command runs."""
    p = help_imports([["--help"], ["file", "--help"], ["listen", "--help"], ["train", "--help"], ["data", "inspect", "--help"]],
                     ("torch", "numpy", "onnxruntime", "matplotlib", "sklearn"))
    assert p.returncode == 0 and p.stdout.strip().splitlines()[-1] == "[]", p.stdout + p.stderr


FAKE_DEVICES = [
    InputDevice(0, "HDA Intel: ALC (hw:0,0)", 2, 48000.0, "ALSA", False),
    InputDevice(3, "pulse", 32, 44100.0, "ALSA", True),
]


def test_unknown_device(capsys, monkeypatch, test_model_dir):
    monkeypatch.setattr(sources_mod, "list_input_devices", lambda: list(FAKE_DEVICES))
    code, out, err = run(capsys, "listen", "--device", "nosuchmic", "--model", test_model_dir)
    assert code == 1 and err.strip() == "emomon: error: device 'nosuchmic': no such input device (see `emomon devices`)"
    code, out, err = run(capsys, "listen", "--device", "7", "--model", test_model_dir)
    assert code == 1 and "no input device with this index" in err
    assert sources_mod.resolve_input_device("PULSE").index == 3
    assert sources_mod.resolve_input_device("3").index == 3
    assert sources_mod.resolve_input_device(None).name == "pulse"
    assert sources_mod.resolve_input_device("hda").index == 0


def test_no_input_device(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(sources_mod, "list_input_devices", lambda: [])
    code, _, err = run(capsys, "listen", "--no-ui")
    assert code == 1 and err.startswith("emomon: error: audio input: no input device")
    code, _, err = run(capsys, "devices")
    assert code == 1 and err.startswith("emomon: error:")


def test_listen_refuses_existing_log_before_anything(capsys, tmp_path):
    log = tmp_path / "keep.jsonl"
    log.write_text("precious\n")
    code, _, err = run(capsys, "listen", "--jsonl", log)
    assert code == 1 and "already exists" in err and log.read_text() == "precious\n"


def test_devices_lists(capsys, monkeypatch):
    monkeypatch.setattr(sources_mod, "list_input_devices", lambda: list(FAKE_DEVICES))
    code, out, _ = run(capsys, "devices")
    assert code == 0 and "pulse" in out and "HDA Intel" in out and "*" in out


def test_models_command(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0 and "default" in out and "layer-head" in out


def test_models_fits_a_narrow_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "44")
    code, out, _ = run(capsys, "models")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("default  layer-head")
    assert max(len(line.rstrip()) for line in lines) <= 44
    assert "surprised" in out and "Whisper-base encoder" in out  # words whole, not cut into columns


def test_model_summary_names_its_corpora_and_figures():
    from emomon.models.shipped import meta_summary as _meta_summary

    text = _meta_summary({"description": "d", "corpora": ["emodb", "ravdess", "savee"], "ua": {"mean": 0.743, "std": 0.03},
                          "license": "Weights trained on RAVDESS (...); EmoDB (...); SAVEE (...)."})
    assert text.startswith("d; trained on: emodb, ravdess, savee; UA 74.3%") and "SAVEE" in text


def test_python_dash_m_entry_point(tmp_path, test_model_dir):
    missing = tmp_path / "missing.wav"
    p = subprocess.run([*emomon_command(), "file", str(missing), "--model", str(test_model_dir)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and p.stderr.strip() == f"emomon: error: {missing}: no such file"
    import sys

    p = subprocess.run([sys.executable, "-m", "emomon", "--help"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "listen" in p.stdout and "file" in p.stdout

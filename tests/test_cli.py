import csv
import io
import json
import subprocess

import pytest
import soundfile as sf

from conftest import SR, emomon_command, synth_speechlike
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


def test_file_json_one_object_per_line(capsys, test_model_dir, clips):
    code, out, err = run(capsys, "file", clips / "a.wav", clips / "sub" / "b.flac", "--model", test_model_dir, "--format", "json")
    assert code == 0 and err == ""
    lines = [json.loads(l) for l in out.splitlines()]
    assert [l["path"] for l in lines] == [str(clips / "a.wav"), str(clips / "sub" / "b.flac")]
    for l in lines:
        assert set(l) == {"path", "label", "scores"}
        assert set(l["scores"]) == set(EMOTIONS) and l["label"] == max(l["scores"], key=l["scores"].get)
        assert sum(l["scores"].values()) == pytest.approx(1.0, abs=1e-5)


def test_file_folder_is_recursive_and_glob_works(capsys, test_model_dir, clips):
    code, out, _ = run(capsys, "file", clips, "--model", test_model_dir, "-f", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["path", "label", *EMOTIONS]
    assert sorted(r[0] for r in rows[1:]) == sorted([str(clips / "a.wav"), str(clips / "sub" / "b.flac")])  # notes.txt skipped
    code, out, _ = run(capsys, "file", f"{clips}/**/*.flac", "--model", test_model_dir, "-f", "json")
    assert code == 0 and [json.loads(l)["path"] for l in out.splitlines()] == [str(clips / "sub" / "b.flac")]


def test_file_table(capsys, test_model_dir, clips):
    code, out, _ = run(capsys, "file", clips / "a.wav", "--model", test_model_dir)
    assert code == 0 and "a.wav" in out and any(lab in out for lab in EMOTIONS)


def test_partial_failure_still_prints_good_files(capsys, test_model_dir, clips, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF garbage" * 20)
    code, out, err = run(capsys, "file", clips / "a.wav", tmp_path / "missing.wav", bad, "--model", test_model_dir, "-f", "json")
    assert code == 1
    assert [json.loads(l)["path"] for l in out.splitlines()] == [str(clips / "a.wav")]
    lines = err.strip().splitlines()
    assert lines[0] == f"emomon: error: {tmp_path / 'missing.wav'}: no such file"
    assert lines[1].startswith(f"emomon: error: {bad}: cannot decode audio")
    assert "Traceback" not in err


def test_unknown_model_and_no_match(capsys, clips):
    code, out, err = run(capsys, "file", clips / "a.wav", "--model", "no-such-model")
    assert code == 1 and err.startswith("emomon: error: no-such-model: no such model")
    code, _, err = run(capsys, "file", str(clips / "*.mp3"), "--model", "no-such-model")
    assert code == 1  # the model fails first; one line, no traceback
    assert "Traceback" not in err


def test_usage_error_format(capsys):
    code, _, err = run(capsys, "file", "x.wav", "--bogus")
    assert code == 2 and "emomon: error: No such option: --bogus" in err


def test_stream_no_ui_and_jsonl(capsys, test_model_dir, clips, tmp_path):
    log = tmp_path / "log.jsonl"
    code, out, err = run(capsys, "file", clips / "a.wav", "--stream", "--fast", "--no-ui", "--model", test_model_dir, "--jsonl", log)
    assert code == 0
    recs = [json.loads(l) for l in out.splitlines()]
    assert len(recs) == 4 and [r["t"] for r in recs] == [0.25, 0.5, 0.75, 1.0]
    assert all(abs(sum(r["scores"].values()) - 1) < 1e-4 for r in recs)
    assert [json.loads(l) for l in log.read_text().splitlines()] == recs
    # an existing log is never overwritten silently
    code, out, err = run(capsys, "file", clips / "a.wav", "--stream", "--fast", "--no-ui", "--model", test_model_dir, "--jsonl", log)
    assert code == 1 and out == "" and err.startswith(f"emomon: error: {log}: already exists")
    assert len(log.read_text().splitlines()) == 4
    code, *_ = run(capsys, "file", clips / "a.wav", "--stream", "--fast", "--no-ui", "--model", test_model_dir, "--jsonl", log, "--append")
    assert code == 0 and len(log.read_text().splitlines()) == 8
    code, *_ = run(capsys, "file", clips / "a.wav", "--stream", "--fast", "--no-ui", "--model", test_model_dir, "--jsonl", log, "--force")
    assert code == 0 and len(log.read_text().splitlines()) == 4


def test_stream_with_ui_renders_and_reports(capsys, test_model_dir, clips):
    code, out, err = run(capsys, "file", clips / "a.wav", "--stream", "--fast", "--model", test_model_dir)
    assert code == 0
    assert "top emotion" in out and "surprised" in out and "latency" in out
    assert "4 windows" in err


def test_stream_missing_file(capsys, test_model_dir, tmp_path):
    code, out, err = run(capsys, "file", tmp_path / "nope.wav", "--stream", "--model", test_model_dir)
    assert code == 1 and err.strip() == f"emomon: error: {tmp_path / 'nope.wav'}: no such file"


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
    assert code == 0 and out.strip()


def test_python_dash_m_entry_point(tmp_path, test_model_dir):
    missing = tmp_path / "missing.wav"
    p = subprocess.run([*emomon_command(), "file", str(missing), "--model", str(test_model_dir)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and p.stderr.strip() == f"emomon: error: {missing}: no such file"
    import sys

    p = subprocess.run([sys.executable, "-m", "emomon", "--help"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "listen" in p.stdout and "file" in p.stdout

"""Inputs that are not audio, valid audio with no samples, and clips too short to judge: each
gets its own honest answer, never "no samples" for a text file, never a torch error or an emotion
for one sample; training skips such corpus files and says how many."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import SR, synth_speechlike
from emomon.audio import decode_audio, decode_blocks, scan_audio
from emomon.cli import main
from emomon.errors import AudioError, DataError
from emomon.features.mel import FrontEnd, log_mel
from emomon.stream import FileSource, stream_file
from emomon.training.cli import load_corpora
from emomon.training.corpora.base import clip_problem

TEXT = b"this is a text file, not audio\n" * 20
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- not audio ----------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".flac", ".wav", ".mp3", ".ogg", ".m4a", ".webm"])
@pytest.mark.parametrize("kind,data", [("text", TEXT), ("pdf", PDF)])
def test_text_or_pdf_under_an_audio_name_is_not_audio(tmp_path, suffix, kind, data):
    path = tmp_path / f"{kind}{suffix}"
    path.write_bytes(data)
    with pytest.raises(AudioError) as err:
        next(decode_blocks(path, SR))
    assert err.value.what == str(path)
    assert err.value.why.startswith("not an audio file ("), err.value.why
    assert "no samples" not in str(err.value) and "Errno" not in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(AudioError, match="not an audio file"):
        FileSource(path, SR)


def test_a_valid_empty_wav_is_no_samples_not_not_audio(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), SR)
    assert decode_audio(path, SR).shape == (0,) and scan_audio(path) == (SR, 0)
    with pytest.raises(AudioError) as err:
        FileSource(path, SR)
    assert err.value.why == "no samples"


def test_broken_audio_is_still_cannot_decode(tmp_path):
    data = (tmp_path / "good.flac")
    sf.write(data, synth_speechlike(3.0), SR)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data.read_bytes()[:30])  # a real FLAC header and nothing more
    with pytest.raises(AudioError) as err:
        decode_audio(cut, SR)
    assert err.value.why.startswith("cannot decode audio (")


def test_emomon_file_says_not_audio_and_no_samples_apart(capsys, tmp_path, test_model_dir):
    text = tmp_path / "x.flac"
    text.write_bytes(TEXT)
    pdf = tmp_path / "doc.flac"
    pdf.write_bytes(PDF)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), SR)
    code, out, err = run(capsys, "file", text, pdf, empty, "--model", test_model_dir, "-f", "json")
    assert code == 1
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0] == {"path": str(text), "error": "not an audio file (format not recognised)"}
    assert rows[1] == {"path": str(pdf), "error": "not an audio file (format not recognised)"}
    assert rows[2] == {"path": str(empty), "error": "no samples"}
    assert f"emomon: error: {text}: not an audio file (format not recognised)" in err.splitlines()


# -- clips too short to judge --------------------------------------------------------------------
def test_a_one_sample_file_is_too_short_not_an_emotion(capsys, tmp_path, test_model_dir):
    one = tmp_path / "one.wav"
    sf.write(one, np.array([0.3], dtype=np.float32), SR, subtype="FLOAT")
    code, out, err = run(capsys, "file", one, "--model", test_model_dir, "-f", "json", "--vad", "off")
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and "Traceback" not in err
    assert row["label"] is None and row["scores"] is None and row["reason"] == "too short" and row["segments"] == []


def test_a_one_sample_stream_is_too_short_and_a_short_clip_still_answers(test_model):
    (rec,) = list(stream_file(np.array([0.3], dtype=np.float32), test_model, source_rate=SR, vad="off"))
    assert rec.label is None and rec.scores is None and rec.reason == "too short" and not rec.is_speech
    assert rec.smoothed == pytest.approx({k: 1 / 8 for k in rec.smoothed})
    ok = list(stream_file(synth_speechlike(0.3), test_model, source_rate=SR, vad="off"))
    assert [r.t for r in ok] == pytest.approx([0.25, 0.3])  # 0.25 s (the shortest speech run) is enough
    assert all(r.is_speech and r.reason is None for r in ok)


def test_a_mel_front_end_says_too_short_instead_of_a_torch_padding_error():
    front = FrontEnd()
    for n in (1, 2, front.n_fft // 2):
        with pytest.raises(AudioError, match=rf"too short \({n} samples?, .*at least {front.n_fft // 2 + 1} samples"):
            log_mel(torch.zeros(1, n), front)
    assert log_mel(torch.zeros(1, front.n_fft // 2 + 1), front).shape[0] == 1


# -- training -----------------------------------------------------------------------------------
def _ravdess(root: Path, bad: dict[str, bytes | np.ndarray]) -> Path:
    """A tiny RAVDESS-named corpus: 2 actors × 8 emotions of tones, plus ``bad`` files (name → bytes or float samples)."""
    for actor in (1, 2):
        d = root / f"Actor_{actor:02d}"
        d.mkdir(parents=True, exist_ok=True)
        for e in range(1, 9):
            sf.write(d / f"03-01-{e:02d}-01-01-01-{actor:02d}.wav", synth_speechlike(0.5, f0=100 + 20 * e, seed=e), SR)
    for name, content in bad.items():
        path = root / "Actor_01" / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            sf.write(path, content, SR, subtype="FLOAT")
    return root


def test_training_skips_unreadable_clips_with_a_count(tmp_path, caplog):
    nan = synth_speechlike(0.5)
    nan[100:110] = np.nan
    bad = {"03-01-01-01-02-01-01.wav": TEXT, "03-01-02-01-02-01-01.wav": PDF, "03-01-03-01-02-01-01.flac": TEXT,
           "03-01-04-01-02-01-01.wav": np.zeros(0, dtype=np.float32), "03-01-05-01-02-01-01.wav": nan,
           "03-01-06-01-02-01-01.wav": np.array([0.2], dtype=np.float32)}
    root = _ravdess(tmp_path / "ravdess", bad)
    with caplog.at_level(logging.WARNING, logger="emomon.training.corpora"):
        utts = load_corpora([str(root)])
    assert len(utts) == 16 and not {Path(u.path).name for u in utts} & set(bad)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("ravdess: skipped 3 clips: not an audio file") for m in warnings), warnings
    assert any(m.startswith("ravdess: skipped 1 clip: no samples") for m in warnings), warnings
    assert any(m.startswith("ravdess: skipped 1 clip: non-finite samples (NaN/Inf)") for m in warnings), warnings
    assert any(m.startswith("ravdess: skipped 1 clip: too short") for m in warnings), warnings


def test_training_on_nothing_readable_is_a_clear_error(tmp_path):
    root = tmp_path / "ravdess" / "Actor_01"
    root.mkdir(parents=True)
    for e in range(1, 4):
        (root / f"03-01-{e:02d}-01-01-01-01.wav").write_bytes(TEXT)
    with pytest.raises(DataError, match=r"none of its 3 clips can be read \(not an audio file\)"):
        load_corpora([str(root.parent)])


def test_clip_problem_in_one_line(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, synth_speechlike(0.5), SR)
    text = tmp_path / "t.flac"
    text.write_bytes(TEXT)
    assert clip_problem(good) is None
    assert clip_problem(text) == "not an audio file (format not recognised)"
    assert clip_problem(tmp_path / "missing.wav") == "no such file"


def test_a_clip_too_long_to_be_one_utterance_is_skipped_before_it_is_decoded(tmp_path, monkeypatch):
    import emomon.audio as audio

    long_clip = tmp_path / "long.flac"
    sf.write(long_clip, synth_speechlike(3.0), SR)
    assert clip_problem(long_clip, max_seconds=5.0) is None
    scanned = []
    monkeypatch.setattr(audio, "scan_audio", lambda p: scanned.append(p) or (SR, 3 * SR))
    assert clip_problem(long_clip, max_seconds=2.0) == "too long (3.0 s; at most 2 s: a training clip is one utterance with one label)"
    assert scanned == []  # the header said enough

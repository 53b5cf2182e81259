"""Many files through one model: each file gets exactly ``analyze_file``'s answer, in input
order, while the windows of several files share the model's batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emomon import defaults
from emomon.timeline.analyze import FileOptions, analyze_file, analyze_files
from emomon.timeline.batched import analyze_batched
from conftest import SENTENCES, SR, spoken

RAVDESS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess-speech"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[Path]:
    """Speech clips (RAVDESS when present, else espeak-ng), a short one, silence, not audio, a
    long file (over ``KEEP_DECODED_S``: decoded twice, analysed on its own), speech again."""
    d = tmp_path_factory.mktemp("many")
    if RAVDESS.is_dir():
        speech = sorted(RAVDESS.glob("Actor_0[12]/*.flac"))[:10:2]
    else:
        speech = [spoken(d / f"s{i}.wav", SENTENCES[i % len(SENTENCES)], speed=140 + 10 * i) for i in range(5)]
    x, sr = sf.read(speech[0], dtype="float32")
    sf.write(d / "short.wav", x[: int(0.8 * sr)], sr)
    sf.write(d / "silence.wav", np.zeros(2 * SR, dtype=np.float32), SR)
    (d / "notes.wav").write_text("not audio at all\n")
    reps = int(np.ceil((defaults.KEEP_DECODED_S + 5) * sr / len(x)))
    sf.write(d / "long.wav", np.tile(x, reps), sr)
    return [*speech[:2], d / "short.wav", d / "silence.wav", d / "notes.wav", *speech[2:3], d / "long.wav", *speech[3:]]


def same(a, b) -> None:
    assert (a.path, a.label, a.error, a.reason, a.uncertain) == (b.path, b.label, b.error, b.reason, b.uncertain)
    assert a.duration == b.duration and a.speech == pytest.approx(b.speech)
    assert [(s.start, s.end, s.label) for s in a.segments] == [(s.start, s.end, s.label) for s in b.segments]
    for sa, sb in zip(a.segments, b.segments):
        assert np.allclose(list(sa.scores.values()), list(sb.scores.values()), atol=1e-4)


@pytest.mark.parametrize("workers", [0, 1])
def test_each_file_gets_analyze_files_answer_in_order(files, adaptive_model, workers):
    alone = [analyze_file(f, adaptive_model) if f.name != "notes.wav" else None for f in files]
    together = list(analyze_batched([str(f) for f in files], adaptive_model, workers=workers))
    assert [r.path for r in together] == [str(f) for f in files]
    for f, a, b in zip(files, alone, together):
        if a is None:
            assert b.error and b.label is None  # not audio: an error row, the others go on
        else:
            same(b, a)
    assert together[3].label is None and together[3].reason == defaults.NO_SPEECH
    assert len(together[6].segments) > 10  # the long file was analysed whole


def test_windows_of_several_files_share_forward_passes(files, adaptive_model, monkeypatch):
    clips = [str(f) for f in files if f.name not in ("long.wav", "notes.wav", "silence.wav", "short.wav")] * 4  # 20 clips
    calls: list[int] = []
    real = adaptive_model.predict_proba
    monkeypatch.setattr(adaptive_model, "predict_proba", lambda x: (calls.append(len(x)), real(x))[1])
    results = list(analyze_batched(clips, adaptive_model, FileOptions(batch=8)))
    windows = sum(len(r.segments) for r in results)
    assert windows >= 20 and sum(calls) == windows
    assert len(calls) < windows / 2 and max(calls) == 8  # batches across files, not one pass per file


def test_results_come_before_all_files_are_read(files, adaptive_model):
    """A generator of many sources is consumed a bounded distance ahead of the results."""
    taken: list[int] = []

    def sources():
        for i in range(200):
            taken.append(i)
            yield str(files[0])

    it = analyze_batched(sources(), adaptive_model, FileOptions(batch=4), workers=1)
    first = next(it)
    assert first.label is not None and len(taken) < 20
    it.close()


def test_progress_reaches_every_file(files, adaptive_model):
    seen: dict[int, float] = {}
    list(analyze_files([str(f) for f in files[:4]], adaptive_model, progress=lambda i, f: seen.__setitem__(i, max(f, seen.get(i, 0)))))
    assert seen == {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}

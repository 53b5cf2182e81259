"""Voice perturbations (emomon.training.perturb): what they do to a tone's pitch and a clip's length."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from emomon.records import Utterance
from emomon.training.perturb import PitchShift, SpeedPerturb, perturbed_copies, transform

SR = 16000


def tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=1 << 18))
    return float(np.argmax(spec) * SR / (1 << 18))


def test_speed_moves_tempo_and_pitch_together():
    y = SpeedPerturb(1.1)(tone(200.0))
    assert len(y) == pytest.approx(SR / 1.1, abs=2)
    assert peak_hz(y) == pytest.approx(220.0, rel=0.01)


@pytest.mark.parametrize("semitones", [2.0, -2.0])
def test_pitch_moves_pitch_alone(semitones):
    y = PitchShift(semitones)(tone(220.0))
    assert len(y) == pytest.approx(SR, abs=2)
    assert peak_hz(y[2000:-2000]) == pytest.approx(220.0 * 2 ** (semitones / 12), rel=0.01)
    assert np.abs(y).max() <= 1.0 and np.sqrt(np.mean(y[2000:-2000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.2)


def test_bad_perturbations_are_refused():
    with pytest.raises(ValueError, match="speed"):
        transform("speed", 5.0)
    with pytest.raises(ValueError, match="unknown perturbation"):
        transform("reverb", 1.0)


def test_perturbed_copies_are_files_reused_with_the_same_labels(tmp_path):
    src = tmp_path / "a.flac"
    sf.write(src, tone(200.0, 0.5), SR)
    u = Utterance(id="c:a", path=str(src), emotion="sad", speaker="c:1", corpus="c")
    first = perturbed_copies([u], "pitch", 2.0, tmp_path / "out")
    assert first[0].emotion == "sad" and first[0].speaker == "c:1" and first[0].id == "c:a+pitch+2"
    stamp = (tmp_path / "out" / "pitch+2" / "c_a.flac").stat().st_mtime_ns
    again = perturbed_copies([u], "pitch", 2.0, tmp_path / "out")
    assert again == first and (tmp_path / "out" / "pitch+2" / "c_a.flac").stat().st_mtime_ns == stamp

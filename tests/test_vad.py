"""Voice activity: Silero (level-normalised) on real speech, silence, noise and tones; the energy
fallback; streaming equals one pass; windows' speech fractions as the stream computes them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import RAVDESS, SR, synth_speechlike
from emomon.audio import decode_audio
from emomon.errors import EmomonError
from emomon.features.vad import FRAME_SECONDS, VadOptions, VoiceActivity, rms_dbfs, window_speech

WINDOW, HOP = 3.0, 0.5


def _classified(x: np.ndarray, options: VadOptions = VadOptions(), rate: int = SR) -> np.ndarray:
    """Which stream windows of ``x`` would be classified (enough speech)."""
    return window_speech(x, rate, WINDOW, HOP, options) >= options.min_speech


def non_speech_signals(seconds: float = 3.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    beep = np.zeros_like(t)
    beep[SR : SR + SR // 20] = 0.5 * np.sin(2 * math.pi * 1000 * t[: SR // 20])
    return {
        "digital silence": np.zeros_like(t),
        "white noise": 0.1 * rng.standard_normal(t.size),
        "loud white noise": np.clip(0.7 * rng.standard_normal(t.size), -1, 1),
        "440 Hz tone": 0.3 * np.sin(2 * math.pi * 440 * t),
        "50 ms beep": beep,
        "harmonic buzz": synth_speechlike(seconds),
    }


def test_rms_dbfs():
    assert rms_dbfs(np.zeros(100, dtype=np.float32)) == -120.0
    assert rms_dbfs(np.ones(100, dtype=np.float32)) == pytest.approx(0.0)
    assert rms_dbfs(np.full(100, 0.1, dtype=np.float32)) == pytest.approx(-20.0)
    assert rms_dbfs(np.zeros(0, dtype=np.float32)) == -120.0


def test_options_are_checked():
    for bad in ({"method": "webrtc"}, {"threshold": 1.0}, {"min_speech": 1.5}, {"min_silence": -1}):
        with pytest.raises(EmomonError):
            VadOptions(**bad)
    assert "silero" in VadOptions().describe() and "dBFS" in VadOptions(method="energy").describe()


@pytest.mark.parametrize("name", list(non_speech_signals()))
def test_silence_noise_and_tones_are_not_speech(name):
    x = non_speech_signals()[name].astype(np.float32)
    assert window_speech(x, SR, WINDOW, HOP, VadOptions()).max() == 0.0


def test_speech_is_found(speech_clip):
    x = decode_audio(speech_clip, SR)
    speech = window_speech(x, SR, WINDOW, HOP, VadOptions())
    assert (speech >= 0.5).all(), speech  # espeak talks without pauses longer than a window's half


def test_decisions_do_not_depend_on_the_level(speech_clip):
    x = decode_audio(speech_clip, SR)
    ref = _classified(x)
    for gain_db in (-20, -40, +6):
        quieter = np.clip(x * 10 ** (gain_db / 20), -1, 1)
        assert (_classified(quieter) == ref).all(), gain_db
    # the energy gate is what the default replaced: at -40 dB it hears nothing
    energy = VadOptions(method="energy")
    assert _classified(x, energy).any() and not _classified(x * 0.01, energy).any()


@pytest.mark.skipif(not RAVDESS.is_dir(), reason="needs ../shared/data/ravdess-speech")
def test_quiet_ravdess_speech_is_heard_at_its_level_and_20_db_lower():
    """Normal-intensity neutral, calm and sad clips (RMS about -49 dBFS), which the old -45 dBFS
    gate called silent from start to end: speech windows at their own level, the same ones 20 dB
    lower."""
    clips = sorted(p for a in ("01", "02") for e in ("01", "02", "04") for p in (RAVDESS / f"Actor_{a}").glob(f"03-01-{e}-01-*.flac"))
    assert len(clips) == 24
    for clip in clips:
        x = decode_audio(clip, SR)
        assert rms_dbfs(x) < -40
        own = _classified(x)
        assert own.sum() >= 3, clip.name  # a 3-4 s sentence: most windows after the first second
        assert (_classified(x * 0.1) == own).all(), clip.name


def test_streaming_equals_one_pass(speech_clip):
    x = decode_audio(speech_clip, SR)
    whole = VoiceActivity(VadOptions(), SR)
    whole.push(x)
    whole.finish()
    pieces = VoiceActivity(VadOptions(), SR)
    for start in range(0, len(x), 777):
        pieces.push(x[start : start + 777])
    pieces.finish()
    assert whole.frames == pieces.frames == math.ceil(len(x) / 512)
    assert (whole.flags() == pieces.flags()).all()


def test_skip_keeps_positions_aligned(speech_clip):
    x = decode_audio(speech_clip, SR)
    va = VoiceActivity(VadOptions(), SR)
    va.push(x)
    n = len(x)
    va.skip(SR)  # one second lost
    va.push(x)
    assert va.speech_fraction(n + 1024, n + SR - 1024) == 0.0  # the gap is not speech
    assert va.speech_fraction(n + SR, 2 * n + SR) > 0.5  # speech after it, where it really is


def test_history_is_bounded_for_live_streams():
    va = VoiceActivity(VadOptions(method="energy"), SR)
    for i in range(100):
        va.push(np.full(SR, 0.1, dtype=np.float32))
        va.forget_before(i * SR)
    assert len(va.flags()) <= 2 / FRAME_SECONDS + 1
    assert va.speech_fraction(99 * SR, 100 * SR) == 1.0


def test_energy_and_off():
    loud = np.full(SR, 0.1, dtype=np.float32)  # -20 dBFS
    quiet = np.full(SR, 0.001, dtype=np.float32)  # -60 dBFS
    x = np.concatenate([quiet, loud])
    va = VoiceActivity(VadOptions(method="energy", silence_db=-45), SR)
    va.push(x)
    assert va.speech_fraction(0, SR) == 0.0 and va.speech_fraction(SR, 2 * SR) == 1.0
    off = VoiceActivity(VadOptions(method="off"), SR)
    off.push(np.zeros(SR, dtype=np.float32))
    assert off.speech_fraction(0, SR) == 1.0


def test_other_sample_rates(speech_clip):
    x16 = decode_audio(speech_clip, SR)
    x44 = decode_audio(speech_clip, 44100)
    a = window_speech(x16, SR, WINDOW, HOP, VadOptions())
    b = window_speech(x44, 44100, WINDOW, HOP, VadOptions())
    assert len(a) == len(b) and np.abs(a - b).max() < 0.15


def test_the_detector_neither_imports_torch_nor_changes_its_threads():
    """The silero-vad package's __init__ imports torch and sets torch.set_num_threads(1) for the
    whole process; emomon runs its ONNX file without importing that package."""
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from emomon.features.vad import VadOptions, VoiceActivity\n"
            "VoiceActivity(VadOptions(), 16000).push(np.zeros(16000, np.float32))\n"
            "print('torch' in sys.modules, 'silero_vad' in sys.modules)\n"
            "import torch; torch.set_num_threads(2)\n"
            "from emomon.features.vad import _silero_session; _silero_session.cache_clear()\n"
            "VoiceActivity(VadOptions(), 16000).push(np.zeros(16000, np.float32))\n"
            "print(torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "2"]

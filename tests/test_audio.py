"""decode_audio: every input kind, any rate and channel count → mono float32 at the asked rate."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emomon.audio import decode_audio
from emomon.errors import AudioError


def tone(sr: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_wav_48k_stereo_to_16k_mono(tmp_path):
    x = tone(48000)
    stereo = np.stack([x, 0.5 * x], axis=1)
    path = tmp_path / "a.wav"
    sf.write(path, stereo, 48000, subtype="PCM_16")
    y = decode_audio(path, 16000)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 8000) <= 1
    # mono mix is the mean of the channels: amplitude 0.75 * 0.5
    assert np.max(np.abs(y)) == pytest.approx(0.375, abs=0.02)


def test_flac_and_bytes_agree(tmp_path):
    x = tone(22050)
    path = tmp_path / "a.flac"
    sf.write(path, x, 22050)
    a = decode_audio(path, 16000)
    b = decode_audio(path.read_bytes(), 16000)
    np.testing.assert_allclose(a, b)


def test_array_needs_rate_and_int_arrays_scale():
    with pytest.raises(AudioError):
        decode_audio(np.zeros(10, dtype=np.float32), 16000)
    ints = (tone(16000) * 32767).astype(np.int16)
    y = decode_audio(ints, 16000, source_rate=16000)
    assert np.max(np.abs(y)) == pytest.approx(0.5, abs=1e-3)


def test_m4a_via_pyav(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "a.m4a"
    sr = 44100
    x = tone(sr, 1.0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=sr)
        stream.layout = "mono"
        frame_len = 1024
        for i in range(0, len(x), frame_len):
            chunk = x[i : i + frame_len][None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = sr
            for pkt in stream.encode(frame):
                out.mux(pkt)
        for pkt in stream.encode(None):
            out.mux(pkt)
    y = decode_audio(path, 16000)
    assert abs(len(y) / 16000 - 1.0) < 0.1
    # the tone survives: dominant frequency near 440 Hz
    spec = np.abs(np.fft.rfft(y[2000:14000]))
    freq = np.argmax(spec) * 16000 / len(y[2000:14000])
    assert abs(freq - 440) < 10


@pytest.mark.parametrize("content", [b"", b"not audio at all" * 10])
def test_bad_files_give_one_line_errors(tmp_path, content):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError) as err:
        decode_audio(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    # the reason carries no raw error code and does not repeat the file name
    assert "Errno" not in err.value.why and path.name not in err.value.why


def test_target_rate_input_is_unchanged(tmp_path):
    x = tone(16000, 2.0)
    np.testing.assert_array_equal(decode_audio(x, 16000, source_rate=16000), x)
    path = tmp_path / "a.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    np.testing.assert_array_equal(decode_audio(path, 16000), x)


def test_missing_file():
    with pytest.raises(AudioError, match="no such file"):
        decode_audio("/nonexistent/clip.wav")


RAVDESS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ravdess-speech"


@pytest.mark.skipif(not RAVDESS.is_dir(), reason="needs ../shared/data/ravdess-speech")
def test_ravdess_stereo_clip():
    ravdess_dir = RAVDESS
    # 5 RAVDESS clips are stereo; they must decode like the rest.
    stereo = []
    for p in sorted(ravdess_dir.rglob("*.flac")):
        if sf.info(p).channels == 2:
            stereo.append(p)
    assert len(stereo) == 5
    y = decode_audio(stereo[0], 16000)
    assert y.ndim == 1 and len(y) > 16000

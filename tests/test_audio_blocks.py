"""decode_blocks: block-wise decoding that equals decode_audio, bounded memory, clean errors,
probe_duration, and FileSource decoding lazily in its feeder thread."""

from __future__ import annotations

import functools
import math
import re
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

import emomon.audio as audio_mod
import emomon.stream.sources as sources_mod
from emomon.audio import clean_reason, decode_audio, decode_blocks, probe_duration
from emomon.errors import AudioError
from emomon.stream.ring import RingBuffer
from emomon.stream.sources import FileSource

SR = 16000


def signal(sr: int, seconds: float, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A tone plus noise ``(samples,)`` or ``(samples, channels)`` float32 (noise makes edges visible)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(sr * seconds))) / sr
    x = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.05 * rng.standard_normal(len(t))
    if channels == 2:
        return np.stack([x, 0.5 * x], axis=1).astype(np.float32)
    return x.astype(np.float32)


def write(path: Path, x: np.ndarray, sr: int, subtype: str | None = None) -> Path:
    sf.write(path, x, sr, subtype=subtype)
    return path


def joined(blocks) -> np.ndarray:
    return np.concatenate(list(blocks))


# --------------------------------------------------------------------------------------------
# blocks == decode_audio
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix,subtype", [(".wav", "PCM_16"), (".flac", "PCM_16"), (".wav", "FLOAT")])
@pytest.mark.parametrize("rate,channels", [(16000, 1), (44100, 1), (44100, 2), (22050, 2)])
def test_blocks_concatenate_to_decode_audio(tmp_path, suffix, subtype, rate, channels):
    path = write(tmp_path / f"a{suffix}", signal(rate, 4.3, channels), rate, subtype)
    whole = decode_audio(path, SR)
    assert whole.dtype == np.float32 and whole.ndim == 1
    assert abs(len(whole) - round(4.3 * SR)) <= 1
    for seconds in (1.0, 0.37, 0.013):
        blocks = list(decode_blocks(path, SR, block_seconds=seconds))
        assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
        y = np.concatenate(blocks)
        if rate == SR:
            np.testing.assert_array_equal(y, whole)  # no resampling: bit-identical
        else:
            assert len(y) == len(whole)
            np.testing.assert_allclose(y, whole, rtol=0, atol=1e-4)


@pytest.mark.parametrize("read_frames", [audio_mod.READ_FRAMES, 1000])
@pytest.mark.parametrize("rate", [44100, 8000])
def test_resampling_across_blocks_matches_one_shot(tmp_path, monkeypatch, rate, read_frames):
    """The soxr stream leaves no trace at read or block edges: equal to resampling the whole file at once."""
    monkeypatch.setattr(audio_mod, "READ_FRAMES", read_frames)
    x = signal(rate, 5.0)
    path = write(tmp_path / "a.wav", x, rate, "FLOAT")
    expected = soxr.resample(x, rate, SR, quality="HQ")
    y = joined(decode_blocks(path, SR, block_seconds=0.25))
    assert len(y) == len(expected)
    diff = np.abs(y - expected)
    assert diff.max() <= 1e-4, f"largest difference {diff.max():g} at sample {diff.argmax()}"


def test_block_sizes(tmp_path):
    path = write(tmp_path / "a.wav", signal(44100, 3.1), 44100)
    total = len(decode_audio(path, SR))
    for seconds, size in ((0.25, 4000), (1.0, 16000), (0.0101, 162), (30.0, 480000)):
        lengths = [len(b) for b in decode_blocks(path, SR, block_seconds=seconds)]
        assert sum(lengths) == total
        assert len(lengths) == math.ceil(total / size)
        assert set(lengths[:-1]) <= {size} and 0 < lengths[-1] <= size


def test_bytes_and_arrays(tmp_path):
    x = signal(44100, 2.2, channels=2)
    path = write(tmp_path / "a.flac", x, 44100)
    from_path = decode_audio(path, SR)
    np.testing.assert_array_equal(joined(decode_blocks(path.read_bytes(), SR, block_seconds=0.3)), from_path)
    np.testing.assert_array_equal(joined(decode_blocks(bytearray(path.read_bytes()), SR, block_seconds=0.3)), from_path)
    # a float array at the target rate passes through untouched, in blocks
    mono = signal(SR, 2.0)
    blocks = list(decode_blocks(mono, SR, source_rate=SR, block_seconds=0.5))
    assert [len(b) for b in blocks] == [8000] * 4
    np.testing.assert_array_equal(np.concatenate(blocks), mono)
    # a stereo array at another rate: the mean of the channels, resampled like the one-shot way
    y = joined(decode_blocks(x, SR, source_rate=44100, block_seconds=0.3))
    np.testing.assert_allclose(y, soxr.resample(x.mean(axis=1), 44100, SR, quality="HQ"), rtol=0, atol=1e-4)


def test_int16_arrays_scale_mono_and_stereo():
    ints = (signal(SR, 1.0) * 32767).astype(np.int16)
    mono = joined(decode_blocks(ints, SR, source_rate=SR, block_seconds=0.1))
    np.testing.assert_array_equal(mono, ints.astype(np.float32) / 32768.0)
    stereo = np.stack([ints, ints // 2], axis=1)
    y = joined(decode_blocks(stereo, SR, source_rate=SR, block_seconds=0.1))
    expected = (ints.astype(np.float32) / 32768.0 + (ints // 2).astype(np.float32) / 32768.0) / 2
    np.testing.assert_allclose(y, expected, atol=1e-6)
    assert np.max(np.abs(y)) < 1.0


def test_empty_wav_gives_no_blocks(tmp_path):
    path = write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), SR)
    assert list(decode_blocks(path, SR)) == []
    assert decode_audio(path, SR).shape == (0,)


@pytest.mark.skipif("MP3" not in sf.available_formats(), reason="libsndfile without MP3")
@pytest.mark.parametrize("read_frames", [1000, 4096])
@pytest.mark.parametrize("rate", [22050, 16000])
def test_mp3_blocks_equal_one_read(tmp_path, monkeypatch, rate, read_frames):
    """libsndfile's MP3 decoder breaks when seeked between reads; blocks must read straight through."""
    monkeypatch.setattr(audio_mod, "READ_FRAMES", read_frames)
    path = write(tmp_path / "a.mp3", signal(rate, 6.0), rate, "MPEG_LAYER_III")
    one_read, _ = sf.read(path, dtype="float32")
    y = joined(decode_blocks(path, rate, block_seconds=0.013))
    assert len(y) == len(one_read)
    assert np.abs(y - one_read).max() <= 1e-6


def test_m4a_blocks_via_pyav(tmp_path):
    av = pytest.importorskip("av")
    rate = 44100
    x = signal(rate, 2.5)
    path = tmp_path / "a.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=rate)
        stream.layout = "mono"
        for i in range(0, len(x), 1024):
            frame = av.AudioFrame.from_ndarray(x[i : i + 1024][None, :], format="flt", layout="mono")
            frame.sample_rate = rate
            for pkt in stream.encode(frame):
                out.mux(pkt)
        for pkt in stream.encode(None):
            out.mux(pkt)
    whole = decode_audio(path, SR)
    assert abs(len(whole) / SR - 2.5) < 0.1
    lengths = [len(b) for b in decode_blocks(path, SR, block_seconds=0.5)]
    assert set(lengths[:-1]) == {8000}
    np.testing.assert_allclose(joined(decode_blocks(path, SR, block_seconds=0.5)), whole, rtol=0, atol=1e-4)
    assert probe_duration(path) == pytest.approx(2.5, abs=0.1)


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------
def broken_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Real broken files: name → (path, what the error must say)."""
    rng = np.random.default_rng(0)
    flac = write(tmp_path / "good.flac", signal(SR, 3.0), SR).read_bytes()
    files = {
        "random.wav": (rng.bytes(5000), r"not an audio file \(format not recognised\)"),
        "header.flac": (flac[:30], r"cannot decode audio \([a-z][^\[\]]*\)"),
        "truncated.flac": (flac[: len(flac) // 2], r"cannot decode audio \([a-z][^\[\]]*\)"),
        "text.mp3": (b"this is a text file, not audio\n" * 20, r"not an audio file \(format not recognised\)"),
        "random.m4a": (rng.bytes(5000), r"not an audio file \([a-z][^\[\]]*\)"),
        "empty.wav": (b"", r"empty file"),
    }
    out = {}
    for name, (data, why) in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = (tmp_path / name, why)
    return out


def test_broken_files_raise_clean_one_line_errors_at_first_next(tmp_path):
    for name, (path, why) in broken_files(tmp_path).items():
        blocks = decode_blocks(path, SR)  # nothing happens until the first next()
        with pytest.raises(AudioError) as err:
            next(blocks)
        msg = str(err.value)
        assert err.value.what == str(path), name
        assert re.fullmatch(why, err.value.why), f"{name}: {err.value.why!r}"
        assert "\n" not in msg and "errno" not in msg.lower() and "0x" not in err.value.why, msg
        assert msg.count(name) == 1, msg  # the file name is said once, by `what`
        with pytest.raises(AudioError) as again:
            decode_audio(path, SR)
        assert str(again.value) == msg


def test_missing_directory_and_empty_bytes(tmp_path):
    for source, why in ((tmp_path / "missing.wav", "no such file"), (tmp_path, "is a directory"), (b"", "empty")):
        blocks = decode_blocks(source, SR)
        with pytest.raises(AudioError) as err:
            next(blocks)
        assert err.value.why == why
    with pytest.raises(AudioError) as err:
        next(decode_blocks(np.random.default_rng(0).bytes(3000), SR))
    assert err.value.why == "not an audio file (format not recognised)"  # no "<_io.BytesIO ...>"
    with pytest.raises(AudioError, match="source_rate is required"):
        next(decode_blocks(np.zeros(10, dtype=np.float32), SR))
    with pytest.raises(AudioError, match="expected 1-D"):
        next(decode_blocks(np.zeros((2, 2, 2), dtype=np.float32), SR, source_rate=SR))


def test_decoding_that_breaks_in_the_middle(tmp_path):
    whole = write(tmp_path / "long.flac", signal(SR, 40.0), SR)
    data = whole.read_bytes()
    path = tmp_path / "cut.flac"
    path.write_bytes(data[: len(data) * 3 // 4])  # about 30 s of the 40 s survive
    blocks = decode_blocks(path, SR, block_seconds=5.0)
    good = [next(blocks) for _ in range(3)]  # the start decodes fine
    np.testing.assert_array_equal(np.concatenate(good), decode_audio(whole, SR)[: 3 * 5 * SR])
    with pytest.raises(AudioError) as err:
        list(blocks)
    assert re.fullmatch(r"cannot decode audio after \d+\.\d s \([a-z][^\[\]]*\)", err.value.why), err.value.why
    assert "\n" not in str(err.value)
    with pytest.raises(AudioError):
        decode_audio(path, SR)


INVALID = "invalid data found when processing input"
UNKNOWN = "format not recognised"


@pytest.mark.parametrize(
    "raw,name,clean",
    [
        ("Error opening 'x.wav': Format not recognised.", "x.wav", "format not recognised"),
        ("[Errno 1094995529] Invalid data found when processing input: 'x.wav'", "x.wav", INVALID),
        ("[Errno 1094995529] Invalid data found when processing input: 'avcodec_send_packet()'", "x.flac", INVALID),
        ("Error : flac decoder lost sync.", None, "flac decoder lost sync"),
        ("Error opening <_io.BytesIO object at 0x7f0>: Format not recognised.", None, "format not recognised"),
        ("Error opening 'a.mp3': File does not exist or is not a regular file (possibly a pipe?).", "a.mp3", UNKNOWN),
        ("FLAC stream ended early\nsecond line", None, "FLAC stream ended early"),
    ],
)
def test_clean_reason(raw, name, clean):
    assert clean_reason(RuntimeError(raw), name) == clean


def test_clean_reason_never_empty():
    assert clean_reason(EOFError(""), "x.wav") == "EOFError"


# --------------------------------------------------------------------------------------------
# probe_duration
# --------------------------------------------------------------------------------------------
def test_probe_duration(tmp_path):
    wav = write(tmp_path / "a.wav", signal(44100, 2.5), 44100)
    flac = write(tmp_path / "a.flac", signal(SR, 1.25, channels=2), SR)
    assert probe_duration(wav) == pytest.approx(2.5, abs=1e-9)
    assert probe_duration(str(flac)) == pytest.approx(1.25, abs=1e-9)
    assert probe_duration(flac.read_bytes()) == pytest.approx(1.25, abs=1e-9)
    assert probe_duration(np.zeros((24000, 2), dtype=np.float32), source_rate=8000) == pytest.approx(3.0)
    assert probe_duration(np.zeros(100, dtype=np.float32)) is None  # rate unknown
    assert probe_duration(tmp_path / "missing.wav") is None
    bad = tmp_path / "bad.wav"
    bad.write_bytes(np.random.default_rng(0).bytes(4000))
    assert probe_duration(bad) is None


# --------------------------------------------------------------------------------------------
# bounded memory
# --------------------------------------------------------------------------------------------
LONG_S = 20 * 60  # 20 minutes: 19.2 M samples, 77 MB as float32


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory) -> Path:
    """A 20-minute 16 kHz int16 WAV, written a minute at a time."""
    path = tmp_path_factory.mktemp("long") / "long.wav"
    minute = (signal(SR, 60.0) * 0.5).astype(np.float32)
    with sf.SoundFile(path, "w", samplerate=SR, channels=1, subtype="PCM_16") as f:
        for _ in range(LONG_S // 60):
            f.write(minute)
    return path


def test_decode_blocks_memory_is_bounded(long_wav):
    assert probe_duration(long_wav) == pytest.approx(LONG_S)
    full_bytes = LONG_S * SR * 4
    assert full_bytes > 75e6
    tracemalloc.start()
    try:
        total, blocks = 0, 0
        for block in decode_blocks(long_wav, SR):
            total += len(block)
            blocks += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == LONG_S * SR and blocks == LONG_S // 30
    assert peak < 50e6, f"peak traced memory {peak / 1e6:.1f} MB"


def test_file_source_memory_is_bounded(long_wav):
    tracemalloc.start()
    try:
        src = FileSource(long_wav, SR, realtime=False, block_seconds=1.0)
        src.start()
        total = 0
        while not src.ring.exhausted:
            chunk = src.ring.read()
            total += len(chunk.samples)
            if not len(chunk.samples):
                time.sleep(0.001)
        src.stop()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert src.error is None
    assert total == LONG_S * SR and src.ring.dropped == 0
    assert src.duration == pytest.approx(LONG_S)
    assert peak < 50e6, f"peak traced memory {peak / 1e6:.1f} MB"


# --------------------------------------------------------------------------------------------
# FileSource
# --------------------------------------------------------------------------------------------
class RecordingRing(RingBuffer):
    """A ring that remembers the length and capture time of every write."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[tuple[int, float]] = []

    def write(self, samples: np.ndarray, capture_time: float | None = None) -> int:
        self.writes.append((len(samples), float(capture_time if capture_time is not None else -1.0)))
        return super().write(samples, capture_time)


def drain(src: FileSource) -> np.ndarray:
    src.start()
    parts = []
    while not src.ring.exhausted:
        chunk = src.ring.read()
        if len(chunk.samples):
            parts.append(chunk.samples)
        else:
            time.sleep(0.001)
    src.stop()
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


@pytest.fixture
def small_decode_blocks(monkeypatch):
    """FileSource decodes in 0.05 s blocks (many decode blocks in a short file); counts them."""
    counter = {"blocks": 0}

    def counting(*args, **kwargs):
        for block in decode_blocks(*args, **kwargs, block_seconds=0.05):
            counter["blocks"] += 1
            yield block

    monkeypatch.setattr(sources_mod, "decode_blocks", counting)
    return counter


def test_file_source_decodes_lazily_and_feeds_everything(tmp_path, small_decode_blocks):
    path = write(tmp_path / "a.wav", signal(44100, 1.3, channels=2), 44100)
    src = FileSource(path, SR, realtime=False, block_seconds=0.007, ring_seconds=0.1)
    assert small_decode_blocks["blocks"] == 1  # the constructor decodes one block only
    assert src.duration == pytest.approx(1.3)  # from the header until the end is reached
    src.ring = RecordingRing(src.ring.capacity)
    y = drain(src)
    assert small_decode_blocks["blocks"] == math.ceil(len(y) / 800)
    np.testing.assert_array_equal(y, decode_audio(path, SR))
    assert src.error is None and src.ring.dropped == 0
    sizes = [n for n, _ in src.ring.writes]
    assert set(sizes[:-1]) == {112} and 0 < sizes[-1] <= 112  # pieces do not follow decode blocks
    assert src.duration == len(y) / SR  # exact once fed


def test_file_source_realtime_capture_times(tmp_path, small_decode_blocks):
    x = signal(SR, 0.3)
    src = FileSource(write(tmp_path / "a.wav", x, SR, "FLOAT"), SR, realtime=True, block_seconds=0.02)
    src.ring = RecordingRing(src.ring.capacity, SR)
    y = drain(src)
    np.testing.assert_array_equal(y, x)
    sizes = [n for n, _ in src.ring.writes]
    times = np.array([t for _, t in src.ring.writes])
    assert sizes == [320] * 15
    # each piece is stamped with the time its last sample is due: t0 + samples so far / rate
    t0 = times[0] - 320 / SR
    np.testing.assert_allclose(times, t0 + np.cumsum(sizes) / SR, rtol=0, atol=1e-9)


def test_file_source_errors_in_constructor(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 10)
    with pytest.raises(AudioError, match="not an audio file"):
        FileSource(bad, SR)
    with pytest.raises(AudioError, match="no such file"):
        FileSource(tmp_path / "missing.wav", SR)
    with pytest.raises(AudioError, match="no samples"):
        FileSource(write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), SR), SR)
    with pytest.raises(AudioError, match="no samples"):
        FileSource(np.zeros(0, dtype=np.float32), SR, source_rate=SR)


def test_file_source_error_in_the_middle_reaches_the_monitor(tmp_path, monkeypatch):
    data = write(tmp_path / "long.flac", signal(SR, 40.0), SR).read_bytes()
    path = tmp_path / "cut.flac"
    path.write_bytes(data[: len(data) * 3 // 4])
    monkeypatch.setattr(sources_mod, "decode_blocks", functools.partial(decode_blocks, block_seconds=5.0))
    src = FileSource(path, SR, realtime=False, block_seconds=0.5)  # the first block is fine
    y = drain(src)
    assert isinstance(src.error, AudioError) and "cannot decode audio after" in str(src.error)
    assert 10 * SR <= len(y) < 40 * SR

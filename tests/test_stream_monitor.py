import json

import numpy as np
import pytest

from conftest import SR, synth_speechlike
from emomon.errors import AudioError, EmomonError
from emomon.labels import EMOTIONS
from emomon.stream import FileSource, Monitor, MonitorConfig, stream_file
from emomon.stream.sources import Source
from emomon.stream.ring import RingBuffer


def _check(records, hop):
    ts = [r.t for r in records]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    assert ts[0] == pytest.approx(hop)
    for r in records:
        assert set(r.scores) == set(EMOTIONS) and set(r.smoothed) == set(EMOTIONS)
        assert sum(r.scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert sum(r.smoothed.values()) == pytest.approx(1.0, abs=1e-4)
        assert r.latency_ms >= 0


def test_stream_file_fast(test_model, wav_file):
    recs = list(stream_file(wav_file, test_model, fast=True))
    assert len(recs) == 12  # 3 s / 0.25 s hop (the model's config)
    _check(recs, 0.25)
    assert all(not r.silent and r.label in EMOTIONS for r in recs)
    assert recs[0].stream == str(wav_file)
    d = json.loads(json.dumps(recs[0].to_dict()))
    assert {"t", "label", "scores", "smoothed", "silent", "latency_ms", "level_db"} <= set(d)


def test_silence_gate_and_smoothing(test_model, silent_then_loud_file):
    recs = list(stream_file(silent_then_loud_file, test_model, fast=True, smoothing=0.5))
    assert len(recs) == 16
    silent = [r for r in recs if r.silent]
    assert [r.t for r in silent] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0])
    assert all(r.label is None for r in silent)
    # silence leaves the smoothed distribution alone (uniform before any speech)
    assert all(v == pytest.approx(1 / 8) for r in silent for v in r.smoothed.values())
    loud = [r for r in recs if not r.silent]
    assert loud[0].smoothed == pytest.approx(loud[0].scores)  # first speech window taken as is
    prev = np.array([loud[0].smoothed[k] for k in EMOTIONS])
    raw = np.array([loud[1].scores[k] for k in EMOTIONS])
    assert np.allclose([loud[1].smoothed[k] for k in EMOTIONS], 0.5 * prev + 0.5 * raw, atol=1e-5)
    # the gate is settable: with a threshold below everything nothing is silent
    assert not any(r.silent for r in stream_file(silent_then_loud_file, test_model, silence_db=-200.0))


def test_window_hop_and_duration_options(test_model, wav_file):
    recs = list(stream_file(wav_file, test_model, window=0.5, hop=0.5, duration=2.0))
    assert [r.t for r in recs] == pytest.approx([0.5, 1.0, 1.5, 2.0])
    with pytest.raises(EmomonError):
        list(stream_file(wav_file, test_model, window=0.5, hop=1.0))


def test_paced_stream_matches_fast(test_model, tmp_path):
    import soundfile as sf

    path = tmp_path / "short.wav"
    sf.write(path, synth_speechlike(1.0), SR)
    fast = list(stream_file(path, test_model, fast=True))
    paced = list(stream_file(path, test_model, fast=False))
    assert [r.t for r in paced] == [r.t for r in fast]
    for a, b in zip(fast, paced):
        assert a.scores == pytest.approx(b.scores, abs=1e-5)


def test_short_clip_gives_one_window(test_model):
    recs = list(stream_file(synth_speechlike(0.1), test_model, source_rate=SR))
    assert len(recs) == 1 and recs[0].t == pytest.approx(0.1)


def test_bad_file_fails_at_call(tmp_path, test_model):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 10)
    with pytest.raises(AudioError):
        stream_file(bad, test_model)
    with pytest.raises(AudioError):
        stream_file(tmp_path / "missing.wav", test_model)


class _ArraySource(Source):
    """A source at another rate than the model's, written all at once (like a 8 kHz device)."""

    def __init__(self, x: np.ndarray, rate: int, name: str) -> None:
        self.x, self.sample_rate, self.name = x, rate, name
        self.realtime = False
        self.ring = RingBuffer(len(x) + 1)

    def start(self) -> None:
        self.ring.write(self.x, 0.0)
        self.ring.close()

    def stop(self) -> None:
        self.ring.close()


def test_resamples_other_rates_and_runs_several_streams(test_model):
    x8 = synth_speechlike(2.0, sr=8000)
    sources = [_ArraySource(x8, 8000, "a"), FileSource(synth_speechlike(1.0), SR, realtime=False, source_rate=SR, name="b")]
    mon = Monitor(test_model, sources, MonitorConfig())
    recs = list(mon.records())
    a = [r for r in recs if r.stream == "a"]
    b = [r for r in recs if r.stream == "b"]
    assert len(a) == 8 and len(b) == 4
    _check(a, 0.25)
    assert mon.stats("a").windows == 8 and mon.stats().dropped_seconds == 0.0


def test_stop_from_consumer(test_model):
    mon = Monitor(test_model, FileSource(synth_speechlike(5.0), SR, realtime=True, source_rate=SR), MonitorConfig())
    got = []
    for rec in mon.records():
        got.append(rec)
        if len(got) == 2:
            mon.stop()
    assert 2 <= len(got) < 20

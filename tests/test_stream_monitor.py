import json
from datetime import datetime

import numpy as np
import pytest

from conftest import SR, synth_speechlike
from emomon.audio import decode_audio
from emomon.errors import AudioError, EmomonError
from emomon.labels import EMOTIONS
from emomon.features.vad import VadOptions
from emomon.stream import FileSource, Monitor, MonitorConfig, stream_file
from emomon.stream.sources import Source
from emomon.stream.ring import RingBuffer


def _check(records, hop):
    ts = [r.t for r in records]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    assert ts[0] == pytest.approx(hop)
    for r in records:
        assert set(r.smoothed) == set(EMOTIONS)
        assert sum(r.smoothed.values()) == pytest.approx(1.0, abs=1e-4)
        if r.scores is not None:
            assert set(r.scores) == set(EMOTIONS) and sum(r.scores.values()) == pytest.approx(1.0, abs=1e-4)


def test_stream_file_fast(test_model, wav_file):
    recs = list(stream_file(wav_file, test_model, fast=True, vad="off"))
    assert len(recs) == 12  # 3 s / 0.25 s hop (the model's config)
    _check(recs, 0.25)
    assert all(r.is_speech and r.label in EMOTIONS and r.speech == 1.0 and r.reason is None for r in recs)
    assert recs[0].stream == str(wav_file)
    # read as fast as possible: no capture latency, the model's compute time instead
    assert all(r.latency_ms is None and r.compute_ms > 0 for r in recs)
    d = json.loads(json.dumps(recs[0].to_dict(), allow_nan=False))
    assert {"type", "t", "time", "label", "reason", "uncertain", "scores", "smoothed", "speech", "level_db",
            "latency_ms", "compute_ms", "dropped_s", "adapted_s", "caution", "stream"} == set(d)
    assert d["adapted_s"] is None  # the test model cannot adapt
    times = [datetime.fromisoformat(r.to_dict()["time"]) for r in recs]
    assert all(t.tzinfo is not None for t in times) and times == sorted(times)


def test_no_speech_windows_get_no_label_and_leave_the_smoothing_alone(test_model, speech_clip):
    x = decode_audio(speech_clip, SR)
    signal = np.concatenate([np.zeros(2 * SR, dtype=np.float32), x])
    recs = list(stream_file(signal, test_model, fast=True, smoothing=0.5, source_rate=SR))
    quiet = [r for r in recs if not r.is_speech]
    assert [r.t for r in quiet][:6] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.25, 1.5])
    assert all(r.label is None and r.scores is None and r.reason == "no speech" and r.compute_ms is None for r in quiet)
    assert all(r.speech < 0.2 for r in quiet)
    # no speech leaves the smoothed distribution alone (uniform before any speech)
    assert all(v == pytest.approx(1 / 8) for r in recs[:6] for v in r.smoothed.values())
    speech = [r for r in recs if r.is_speech]
    assert len(speech) >= 12 and all(r.speech >= 0.2 for r in speech)
    assert speech[0].smoothed == pytest.approx(speech[0].scores)  # first speech window taken as is
    prev = np.array([speech[0].smoothed[k] for k in EMOTIONS])
    raw = np.array([speech[1].scores[k] for k in EMOTIONS])
    assert np.allclose([speech[1].smoothed[k] for k in EMOTIONS], 0.5 * prev + 0.5 * raw, atol=1e-5)


def test_the_same_speech_20_db_quieter_gets_the_same_decisions(test_model, speech_clip):
    x = decode_audio(speech_clip, SR)
    signal = np.concatenate([np.zeros(SR, dtype=np.float32), x, np.zeros(SR, dtype=np.float32)])
    loud = [r.is_speech for r in stream_file(signal, test_model, source_rate=SR)]
    quiet = [r.is_speech for r in stream_file(signal * 0.1, test_model, source_rate=SR)]
    assert loud == quiet and any(loud) and not all(loud)


def test_energy_gate_is_an_option(test_model, silent_then_loud_file):
    recs = list(stream_file(silent_then_loud_file, test_model, fast=True, vad="energy"))
    assert len(recs) == 16
    assert [r.is_speech for r in recs] == [False] * 8 + [True] * 8
    # the energy gate follows the level alone: the same buzz 40 dB lower is no speech to it
    x = decode_audio(silent_then_loud_file, SR) * 10 ** (-40 / 20)
    assert not any(r.is_speech for r in stream_file(x, test_model, vad="energy", source_rate=SR))


def test_min_confidence_marks_uncertain_answers(test_model, wav_file):
    recs = list(stream_file(wav_file, test_model, vad="off", min_confidence=0.99))
    assert all(r.uncertain == (max(r.scores.values()) < 0.99) for r in recs) and any(r.uncertain for r in recs)
    assert not any(r.uncertain for r in stream_file(wav_file, test_model, vad="off"))


def test_window_hop_and_duration_options(test_model, wav_file):
    recs = list(stream_file(wav_file, test_model, window=0.5, hop=0.5, duration=2.0, vad="off"))
    assert [r.t for r in recs] == pytest.approx([0.5, 1.0, 1.5, 2.0])
    with pytest.raises(EmomonError):
        list(stream_file(wav_file, test_model, window=0.5, hop=1.0))


def test_paced_stream_matches_fast(test_model, tmp_path):
    import soundfile as sf

    path = tmp_path / "short.wav"
    sf.write(path, synth_speechlike(1.0), SR)
    fast = list(stream_file(path, test_model, fast=True, vad="off"))
    paced = list(stream_file(path, test_model, fast=False, vad="off"))
    assert [r.t for r in paced] == [r.t for r in fast]
    for a, b in zip(fast, paced):
        assert a.scores == pytest.approx(b.scores, abs=1e-5)
    assert all(r.latency_ms is not None and r.latency_ms >= 0 for r in paced)  # real time: capture-to-result


def test_short_clip_gives_one_window(test_model):
    recs = list(stream_file(synth_speechlike(0.1), test_model, source_rate=SR, vad="off"))
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
    mon = Monitor(test_model, sources, MonitorConfig(vad=VadOptions(method="off")))
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


class _BacklogSource(Source):
    """A source whose whole signal is already waiting in its ring when the monitor starts reading
    (a reader that fell far behind); ``capacity`` smaller than the signal: the ring overran too."""

    def __init__(self, x: np.ndarray, realtime: bool, capacity: int | None = None) -> None:
        self.x, self.sample_rate, self.name, self.realtime = x, SR, "backlog", realtime
        self.ring = RingBuffer(capacity or len(x), SR)

    def start(self) -> None:
        import time

        self.ring.write(self.x, time.monotonic())
        self.ring.close()

    def stop(self) -> None:
        self.ring.close()


def test_a_live_stream_far_behind_drops_the_oldest_audio_and_stays_current(test_model):
    x = synth_speechlike(10.0)
    cfg = MonitorConfig(vad=VadOptions(method="off"), max_lag=2.0)
    mon = Monitor(test_model, _BacklogSource(x, realtime=True), cfg)
    recs = list(mon.records())
    # 10 s unread > 2 s: all but the newest window (1 s) dropped, one whole window of the newest
    assert [r.t for r in recs] == [10.0]
    assert recs[0].dropped_s == pytest.approx(9.0) and recs[0].label is not None
    stats = mon.stats()
    assert stats.dropped_seconds == pytest.approx(9.0) and stats.gaps == 1
    # a file read as fast as it can go never falls behind: nothing dropped
    mon = Monitor(test_model, _BacklogSource(x, realtime=False), cfg)
    assert len(list(mon.records())) == 40 and mon.stats().dropped_seconds == 0.0


def test_a_ring_overrun_restarts_the_windowing_after_the_gap(test_model):
    x = synth_speechlike(5.0)
    mon = Monitor(test_model, _BacklogSource(x, realtime=False, capacity=2 * SR), MonitorConfig(vad=VadOptions(method="off")))
    recs = list(mon.records())
    # the oldest 3 s were overwritten; the first window after the gap holds a whole window of new audio
    assert [r.t for r in recs] == pytest.approx([4.0, 4.25, 4.5, 4.75, 5.0])
    assert all(r.dropped_s == pytest.approx(3.0) for r in recs) and mon.stats().gaps == 1


def test_max_lag_must_be_positive(test_model):
    with pytest.raises(EmomonError):
        Monitor(test_model, _BacklogSource(synth_speechlike(1.0), True), MonitorConfig(max_lag=0.0))


def test_an_overloaded_live_stream_stays_current(test_model_dir):
    """A model twice too slow for a real-time stream: results stay about ``max_lag`` (plus the
    batch in the worker) behind instead of falling further behind for as long as the ring holds
    (10 s), and what was skipped is counted."""
    import time

    from emomon.models import load_model

    model = load_model(test_model_dir, device="cpu")
    fast = model.predict_proba
    model.predict_proba = lambda x: (time.sleep(0.5 * len(x)), fast(x))[1]  # 0.5 s per window, one per 0.25 s
    src = FileSource(synth_speechlike(4.0), SR, realtime=True, source_rate=SR)
    mon = Monitor(model, src, MonitorConfig(vad=VadOptions(method="off"), max_batch=2, max_lag=0.5))
    recs = list(mon.records())
    assert max(r.latency_ms for r in recs) < 2500  # without the lag cap: ~4 s by the end, growing
    assert recs[-1].dropped_s > 0 and mon.stats().gaps >= 1
    ts = [r.t for r in recs]
    assert ts == sorted(ts) and len(recs) < 16  # fewer windows than a stream that kept up

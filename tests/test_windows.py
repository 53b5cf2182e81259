import numpy as np
import pytest

from emomon.features.windows import Windower

SR = 1000


def test_first_window_after_one_hop_front_padded():
    w = Windower(window=1.0, hop=0.25, sample_rate=SR)
    x = np.arange(1, 251, dtype=np.float32)
    out = w.push(x, capture_time=10.0)
    assert len(out) == 1
    win = out[0]
    assert win.samples.shape == (1000,)
    assert np.all(win.samples[:750] == 0)  # front padding
    assert np.array_equal(win.samples[750:], x)
    assert win.valid == 250 and win.t_end == pytest.approx(0.25)
    assert win.capture_time == pytest.approx(10.0)
    assert np.array_equal(win.real_samples, x)


def test_count_is_duration_over_hop_and_chunking_does_not_matter():
    x = np.random.default_rng(0).standard_normal(3 * SR).astype(np.float32)
    one = Windower(1.0, 0.25, SR).push(x, 0.0)
    assert len(one) == 12
    w = Windower(1.0, 0.25, SR)
    pieces = []
    for i in range(0, len(x), 137):
        pieces += w.push(x[i : i + 137], 0.0)
    assert [p.t_end for p in pieces] == [p.t_end for p in one]
    for a, b in zip(one, pieces):
        assert np.array_equal(a.samples, b.samples)
    # a full window holds exactly the last second of audio
    assert np.array_equal(one[-1].samples, x[-SR:])
    assert [p.index for p in one] == list(range(12))


def test_backdates_capture_time_for_windows_inside_a_chunk():
    w = Windower(1.0, 0.25, SR)
    out = w.push(np.zeros(600, dtype=np.float32), capture_time=100.0)
    assert [o.t_end for o in out] == [0.25, 0.5]
    assert out[0].capture_time == pytest.approx(100.0 - 0.35)
    assert out[1].capture_time == pytest.approx(100.0 - 0.1)
    fast = Windower(1.0, 0.25, SR, realtime=False).push(np.zeros(600, dtype=np.float32), 100.0)
    assert all(o.capture_time == 100.0 for o in fast)


def test_flush_emits_tail_window():
    w = Windower(1.0, 0.25, SR)
    assert w.push(np.ones(300, dtype=np.float32), 0.0)[0].t_end == 0.25
    tail = w.flush(1.0)
    assert tail is not None and tail.t_end == pytest.approx(0.3)
    assert w.flush(1.0) is None  # nothing new since
    short = Windower(1.0, 0.25, SR)
    short.push(np.ones(100, dtype=np.float32), 0.0)
    assert short.flush(0.0).valid == 100  # a clip shorter than a hop still gives a window


def test_skip_keeps_time_aligned_and_restarts_after_the_gap():
    w = Windower(1.0, 0.25, SR)
    w.push(np.ones(250, dtype=np.float32), 0.0)
    assert w.skip(600) is None  # lost audio: no window ends inside the gap, none reaches back across it
    assert w.position == 850 and w.gaps == 1 and w.skipped == 600
    assert w.push(np.full(999, 2, dtype=np.float32), 0.0) == []  # the first window needs a whole one
    out = w.push(np.full(260, 2, dtype=np.float32), 0.0)
    assert w.position == 2109
    assert [o.t_end for o in out] == [1.85, 2.1]  # one window after the gap, then every hop
    assert all(o.valid == 1000 and np.all(o.samples == 2) for o in out)  # no padding, no old audio


def test_a_gap_first_closes_the_audio_before_it_with_a_last_window():
    w = Windower(1.0, 0.25, SR)
    w.push(np.ones(1100, dtype=np.float32), 7.0)  # windows end at 250 .. 1000; 100 samples after
    tail = w.skip(50)
    assert tail is not None and tail.t_end == 1.1 and tail.valid == 1000 and tail.capture_time == 7.0
    assert np.all(tail.samples == 1) and w.position == 1150


def test_flush_after_a_gap_pads_instead_of_reaching_back():
    w = Windower(1.0, 0.25, SR)
    w.push(np.ones(500, dtype=np.float32), 0.0)
    w.skip(100)
    w.push(np.full(300, 2, dtype=np.float32), 0.0)
    tail = w.flush(0.0)
    assert tail is not None and tail.t_end == 0.9 and tail.valid == 300
    assert np.all(tail.samples[:700] == 0) and np.all(tail.real_samples == 2)


def test_rejects_bad_sizes():
    with pytest.raises(ValueError):
        Windower(1.0, 0.0, SR)

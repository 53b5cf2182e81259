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


def test_skip_keeps_time_aligned():
    w = Windower(1.0, 0.25, SR)
    w.push(np.ones(250, dtype=np.float32), 0.0)
    w.skip(600)  # lost audio: no window ends inside the gap
    out = w.push(np.ones(250, dtype=np.float32), 0.0)
    assert w.position == 1100
    assert [o.t_end for o in out] == [1.0]
    assert np.all(out[0].samples[-150:] == 1) and np.all(out[0].samples[-750:-150] == 0)


def test_rejects_bad_sizes():
    with pytest.raises(ValueError):
        Windower(1.0, 0.0, SR)

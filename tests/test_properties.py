"""Property tests (Hypothesis): the ring buffer, the windower (alone and as the monitor drives it),
and the decoder on arbitrary bytes.

Samples carry their own absolute index (``index + 1``, exact in float32 at these sizes; 0 is
padding), so every property is checked sample by sample: nothing lost, duplicated, reordered
or spliced across a gap. Kept fast (a modest ``max_examples``, a ``deadline``) for the default
suite.
"""

from __future__ import annotations

import io
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SR, synth_speechlike
from emomon.audio import decode_audio, decode_blocks
from emomon.errors import AudioError
from emomon.features.vad import VadOptions
from emomon.features.windows import Window, Windower
from emomon.stream.monitor import Monitor, MonitorConfig
from emomon.stream.ring import RingBuffer
from emomon.stream.sources import Source

FAST = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
RATE = 1000  # samples per second in the ring and windower properties: 1 sample = 1 ms


def _signal(start: int, n: int) -> np.ndarray:
    """Samples ``start .. start + n - 1`` of the test stream, ``(n,)``: each is its index + 1."""
    return np.arange(start + 1, start + n + 1, dtype=np.float32)


# --------------------------------------------------------------------------------------------
# ring buffer
# --------------------------------------------------------------------------------------------
_ring_ops = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(0, 90)),
        st.tuples(st.just("read"), st.one_of(st.none(), st.integers(0, 90))),
        st.tuples(st.just("discard"), st.integers(0, 60)),
    ),
    max_size=60,
)


@dataclass
class _RingModel:
    """What the ring must hold: unread samples are the range ``[read, written)``."""

    capacity: int
    written: int = 0
    read: int = 0
    dropped: int = 0
    drops: int = 0
    gap: int = 0

    def lose(self, n: int) -> None:
        if n > 0:
            self.read, self.dropped, self.drops, self.gap = self.read + n, self.dropped + n, self.drops + 1, self.gap + n


def _check_chunk(chunk, model: _RingModel, want: int | None, last_time: float) -> float:
    """A read against the model: exactly the oldest unread samples, the gap since the last read,
    capture times right for a paced writer (sample ``i`` captured at ``(i + 1) / RATE``)."""
    n = model.written - model.read if want is None else min(want, model.written - model.read)
    assert chunk.start == model.read and chunk.gap == model.gap and len(chunk.samples) == n
    assert np.array_equal(chunk.samples, _signal(model.read, n))
    model.read += n
    model.gap = 0
    if n:
        assert chunk.capture_time == pytest.approx(chunk.end / RATE)
        assert chunk.first_capture_time == pytest.approx((chunk.start + 1) / RATE)
        assert chunk.capture_time >= last_time
        return chunk.capture_time
    return last_time


@FAST
@given(capacity=st.integers(1, 120), ops=_ring_ops)
def test_ring_loses_exactly_the_oldest_and_counts_them(capacity, ops):
    """Any writes, reads and discards: reads return the unread samples in order, once each;
    an overrun or a discard drops exactly the oldest unread ones, counted once per event and
    reported as the next chunk's gap; with a paced writer every chunk is dated right (after a
    drop too) and times never go back."""
    ring, model, last_time = RingBuffer(capacity, RATE), _RingModel(capacity), 0.0
    for op, arg in ops:
        if op == "write":
            lost, before = ring.write(_signal(model.written, arg), (model.written + arg) / RATE), model.read
            model.written += arg
            model.lose(max(0, model.written - model.read - capacity))
            assert lost == model.read - before
        elif op == "discard":
            before = model.read
            model.lose(max(0, model.written - model.read - arg))
            assert ring.discard(arg) == model.read - before
        else:
            last_time = _check_chunk(ring.read(arg), model, arg, last_time)
        assert (ring.available, ring.dropped, ring.drops) == (model.written - model.read, model.dropped, model.drops)
        assert 0 <= ring.available <= capacity and ring.free == capacity - ring.available


@FAST
@given(sizes=st.lists(st.integers(0, 50), max_size=40), reads=st.lists(st.integers(1, 70), min_size=1, max_size=40))
def test_ring_without_overflow_loses_nothing(sizes, reads):
    """A ring large enough for everything: the reads, whatever their sizes, give back the whole
    stream exactly once, in order, with no gap and nothing dropped."""
    ring = RingBuffer(max(1, sum(sizes)), RATE)
    pos = 0
    for n in sizes:
        assert ring.write(_signal(pos, n), (pos + n) / RATE) == 0
        pos += n
    got = []
    for i in range(len(reads) + 1 + pos):
        chunk = ring.read(reads[i % len(reads)])
        assert chunk.gap == 0
        got.append(chunk.samples)
        if ring.available == 0:
            break
    assert np.array_equal(np.concatenate(got), _signal(0, pos)) and ring.dropped == 0 and ring.drops == 0


@FAST
@given(blocks=st.lists(st.tuples(st.integers(1, 40), st.floats(0.0, 0.2)), min_size=1, max_size=30),
       reads=st.lists(st.integers(1, 50), min_size=1, max_size=30), capacity=st.integers(1, 100))
def test_ring_times_are_monotone_for_any_writer(blocks, reads, capacity):
    """A writer whose blocks arrive in bursts or late (capture times not matching the sample
    rate): the chunks' capture times never go back."""
    ring, t, last = RingBuffer(capacity, RATE), 0.0, -np.inf
    for i, (n, dt) in enumerate(blocks):
        t += dt
        ring.write(np.ones(n, dtype=np.float32), t)
        chunk = ring.read(reads[i % len(reads)])
        if len(chunk.samples):
            assert chunk.capture_time >= last and chunk.first_capture_time <= chunk.capture_time
            last = chunk.capture_time


# --------------------------------------------------------------------------------------------
# windower
# --------------------------------------------------------------------------------------------
@st.composite
def _window_hop(draw) -> tuple[int, int]:
    window = draw(st.integers(1, 60))
    return window, draw(st.integers(1, window))


_pieces = st.lists(st.one_of(st.tuples(st.just("push"), st.integers(0, 70)), st.tuples(st.just("gap"), st.integers(1, 80))),
                   max_size=25)


def _run_windower(window: int, hop: int, pieces) -> tuple[list[Window], list[tuple[int, int]]]:
    """Feed ``pieces`` (pushes of the test stream and gaps) into a windower; returns the windows
    (flush included) and the contiguous segments ``[start, end)`` of real audio."""
    w = Windower(window / RATE, hop / RATE, RATE)
    wins: list[Window] = []
    segments, pos, seg_start = [], 0, 0
    for kind, n in pieces:
        if kind == "gap":
            segments.append((seg_start, pos))
            tail = w.skip(n)  # the audio before the gap: its last window
            wins += [tail] if tail is not None else []
            pos += n
            seg_start = pos
        else:
            wins += w.push(_signal(pos, n), (pos + n) / RATE)
            pos += n
    tail = w.flush(pos / RATE)
    segments.append((seg_start, pos))
    assert w.position == pos
    return wins + ([tail] if tail is not None else []), [s for s in segments if s[1] > s[0]]


def _check_windows(wins: list[Window], segments: list[tuple[int, int]], window: int, hop: int,
                   rate: int = RATE, paced: bool = True) -> None:
    """Each window: real audio from one segment only, exactly; front padding only where its
    segment starts, and there only at the stream's start or in the segment's last window; ends
    and capture times increasing (with a ``paced`` feed: each window dated by its last sample);
    consecutive windows of a segment one hop apart (its last one less); every sample of every
    segment in some window, none in more than the overlap allows."""
    ends = [int(round(win.t_end * rate)) for win in wins]
    assert ends == sorted(set(ends))
    times = [win.capture_time for win in wins]
    assert times == sorted(times)
    if paced:
        assert times == pytest.approx([e / rate for e in ends])
    seg_of = [next(i for i, (a, b) in enumerate(segments) if a <= e - w.valid and e <= b)  # never across a gap
              for w, e in zip(wins, ends)]
    covered = np.zeros(max([e for _, e in segments], default=0) + 1, dtype=int)
    for k, (win, end, seg) in enumerate(zip(wins, ends, seg_of)):
        start, seg_start = end - win.valid, segments[seg][0]
        last_of_segment = k == len(wins) - 1 or seg_of[k + 1] != seg
        assert len(win.samples) == window and 0 < win.valid <= window
        assert np.array_equal(win.real_samples, _signal(start, win.valid))
        assert not np.any(win.samples[: window - win.valid])  # padding is zeros
        if win.valid < window:
            assert start == seg_start and (seg_start == 0 or last_of_segment)
        if k and seg_of[k - 1] == seg:
            assert end - ends[k - 1] == hop or (last_of_segment and end - ends[k - 1] < hop)
        covered[start:end] += 1
    for a, b in segments:
        assert covered[a:b].min() >= 1 and covered[a:b].max() <= -(-window // hop) + 1


@FAST
@given(wh=_window_hop(), pieces=_pieces)
def test_windows_never_lose_duplicate_or_splice(wh, pieces):
    window, hop = wh
    wins, segments = _run_windower(window, hop, pieces)
    _check_windows(wins, segments, window, hop)


@FAST
@given(wh=_window_hop(), total=st.integers(0, 300), cuts=st.lists(st.integers(0, 300), max_size=12))
def test_windows_do_not_depend_on_the_chunking(wh, total, cuts):
    window, hop = wh
    bounds = sorted({0, total, *(c for c in cuts if c < total)})
    chunked, _ = _run_windower(window, hop, [("push", b - a) for a, b in zip(bounds, bounds[1:])])
    whole, _ = _run_windower(window, hop, [("push", total)])
    assert [(w.t_end, w.valid) for w in chunked] == [(w.t_end, w.valid) for w in whole]
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(chunked, whole))


class _StubWorker:
    """Takes the monitor's jobs instead of the inference thread."""

    def __init__(self) -> None:
        self.jobs: list = []
        self.pending = 0

    def submit(self, job) -> None:
        self.jobs.append(job)


class _RecordingRing(RingBuffer):
    """A ring that keeps what each read gave: the segments of audio the reader received."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.segments: list[tuple[int, int]] = []

    def read(self, max_samples=None):
        chunk = super().read(max_samples)
        if len(chunk.samples):
            if self.segments and self.segments[-1][1] == chunk.start:
                self.segments[-1] = (self.segments[-1][0], chunk.end)
            else:
                self.segments.append((chunk.start, chunk.end))
        return chunk


class _RingSource(Source):
    def __init__(self, capacity: int, realtime: bool) -> None:
        self.sample_rate, self.name, self.realtime = SR, "prop", realtime
        self.ring = _RecordingRing(capacity, SR)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.ring.close()


@settings(max_examples=40, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(wh=_window_hop(), capacity=st.integers(40, 400), realtime=st.booleans(),
       ops=st.lists(st.tuples(st.integers(0, 300), st.integers(0, 3)), max_size=20))
def test_monitor_stream_windows_through_a_ring(test_model, wh, capacity, realtime, ops):
    """The monitor's own pump (ring → gap handling → windower; for a real-time source the lag
    cap on) with any writes and any number of pumps between them: its windows obey the
    windower's properties over the audio the ring let through; the gaps are exactly what the
    ring dropped (oldest first: the ring's own property)."""
    window, hop = wh[0] * 16, wh[1] * 16  # samples at the model's rate (SR)
    cfg = MonitorConfig(window=window / SR, hop=hop / SR, vad=VadOptions(method="off"), max_batch=2, max_lag=0.01)
    src = _RingSource(capacity, realtime)
    mon = Monitor(test_model, src, cfg)
    mon.worker = _StubWorker()  # type: ignore[assignment]
    lane = mon._lane(src)
    pos = 0
    for n, pumps in ops:
        src.ring.write(_signal(pos, n) / 1e4, (pos + n) / SR)  # scaled: audio-like magnitudes
        pos += n
        for _ in range(pumps):
            mon._pump(lane)
    src.ring.close()
    for _ in range(pos + 2):
        if lane.done:
            break
        mon._pump(lane)
    assert lane.done and lane.windower.position == pos
    # every drop reached the windower (drops between two reads make one gap)
    assert lane.windower.skipped == src.ring.dropped and lane.windower.gaps <= src.ring.drops
    assert (lane.windower.gaps > 0) == (src.ring.dropped > 0)
    received = sum(b - a for a, b in src.ring.segments)
    assert received + src.ring.dropped == pos
    wins = [job.window for job in mon.worker.jobs]
    for win in wins:  # back to sample indices
        win.samples[:] = np.round(win.samples * 1e4)
    _check_windows(wins, src.ring.segments, window, hop, rate=SR, paced=False)


# --------------------------------------------------------------------------------------------
# decoder
# --------------------------------------------------------------------------------------------
DECODE_TIMEOUT_S = 10.0


def _encoded(fmt: str, subtype: str) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, synth_speechlike(0.3, sr=8000), 8000, format=fmt, subtype=subtype)
    return buf.getvalue()


REAL_FILES = {"wav": _encoded("WAV", "PCM_16"), "flac": _encoded("FLAC", "PCM_16"), "wavf": _encoded("WAV", "FLOAT")}


def _within_deadline(fn: Callable[[], object]) -> None:
    """Run ``fn`` on a thread: it must end within :data:`DECODE_TIMEOUT_S` (never hang) and
    either return or raise :class:`AudioError` (never anything else)."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            fn()
            outcome.append(None)
        except AudioError:
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome.append(exc)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(DECODE_TIMEOUT_S)
    assert not t.is_alive(), f"decoding hung for {DECODE_TIMEOUT_S} s"
    if outcome[0] is not None:
        raise AssertionError(f"decoding raised {type(outcome[0]).__name__}: {outcome[0]}") from outcome[0]


def _decode_both_ways(data: bytes, suffix: str) -> None:
    """Bytes in memory and as a file named ``*.suffix``, whole and in blocks."""
    _within_deadline(lambda: decode_audio(data, 16000))
    _within_deadline(lambda: [len(b) for b in decode_blocks(data, 16000, block_seconds=0.05, nonfinite="keep")])
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"x.{suffix}"
        path.write_bytes(data)
        _within_deadline(lambda: decode_audio(path, 16000))


DECODE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@DECODE
@given(data=st.binary(max_size=2048), suffix=st.sampled_from(["wav", "flac", "mp3", "bin"]))
def test_decoder_on_arbitrary_bytes_raises_only_audio_error(data, suffix):
    _decode_both_ways(data, suffix)


@DECODE
@given(kind=st.sampled_from(sorted(REAL_FILES)), cut=st.floats(0.0, 1.0), flips=st.lists(st.integers(0, 10**6), max_size=4))
def test_decoder_on_cut_or_damaged_real_files_raises_only_audio_error(kind, cut, flips):
    """Any prefix of a real WAV/FLAC file, with a few bytes changed."""
    data = bytearray(REAL_FILES[kind][: int(len(REAL_FILES[kind]) * cut)])
    for f in flips:
        if data:
            data[f % len(data)] ^= 0xFF
    _decode_both_ways(bytes(data), "flac" if kind == "flac" else "wav")


def test_decoder_on_a_real_file_whole_still_decodes():
    for data in REAL_FILES.values():
        x = decode_audio(data, 16000)
        assert len(x) == pytest.approx(0.3 * 16000, abs=2) and np.isfinite(x).all()

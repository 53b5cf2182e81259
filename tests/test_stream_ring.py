import threading

import numpy as np

from emomon.stream.ring import PacedRing, RingBuffer


def test_roundtrip_with_wraparound():
    ring = RingBuffer(10)
    ring.write(np.arange(7, dtype=np.float32), 1.0)
    assert ring.read(5).samples.tolist() == [0, 1, 2, 3, 4]
    ring.write(np.arange(7, 13, dtype=np.float32), 2.0)  # wraps around the end
    chunk = ring.read()
    assert chunk.samples.tolist() == [5, 6, 7, 8, 9, 10, 11, 12]
    assert chunk.start == 5 and chunk.end == 13 and chunk.gap == 0
    assert chunk.capture_time == 2.0
    assert ring.dropped == 0 and ring.available == 0


def test_overflow_drops_oldest_and_counts():
    ring = RingBuffer(8)
    ring.write(np.arange(6, dtype=np.float32))
    lost = ring.write(np.arange(6, 12, dtype=np.float32))
    assert lost == 4 and ring.dropped == 4
    chunk = ring.read()
    assert chunk.samples.tolist() == list(range(4, 12))  # the newest 8 survive
    assert chunk.start == 4 and chunk.gap == 4
    assert ring.read().gap == 0  # a gap is reported once


def test_write_larger_than_capacity_keeps_tail():
    ring = RingBuffer(4)
    lost = ring.write(np.arange(10, dtype=np.float32))
    assert lost == 6
    assert ring.read().samples.tolist() == [6, 7, 8, 9]


def test_partial_read_backdates_capture_time():
    ring = RingBuffer(100, sample_rate=10)
    ring.write(np.zeros(20, dtype=np.float32), 5.0)
    chunk = ring.read(10)  # 10 samples (1 s at 10 Hz) still unread after it
    assert abs(chunk.capture_time - 4.0) < 1e-9


def test_close_and_exhausted():
    ring = RingBuffer(4)
    ring.write(np.ones(2, dtype=np.float32))
    ring.close()
    assert ring.closed and not ring.exhausted
    ring.read()
    assert ring.exhausted


def test_concurrent_writer_never_blocks_and_accounts_every_sample():
    ring = RingBuffer(256)
    total = 200 * 64
    got: list[np.ndarray] = []

    def writer():
        for i in range(200):
            ring.write(np.full(64, i, dtype=np.float32))
        ring.close()

    t = threading.Thread(target=writer)
    t.start()
    while not ring.exhausted:
        got.append(ring.read(100).samples)
    t.join()
    data = np.concatenate(got)
    assert len(data) + ring.dropped == total
    assert np.all(np.diff(data) >= 0)  # order kept, only whole runs skipped


def test_discard_keeps_the_newest_counts_and_dates_them():
    ring = RingBuffer(100, sample_rate=10)
    ring.write(np.arange(30, dtype=np.float32), 3.0)  # sample i captured at (i + 1) / 10 s
    assert ring.discard(5) == 25 and ring.dropped == 25 and ring.drops == 1
    assert ring.discard(5) == 0 and ring.drops == 1  # nothing more to drop: no event
    chunk = ring.read()
    assert chunk.samples.tolist() == [25, 26, 27, 28, 29] and chunk.gap == 25
    assert chunk.capture_time == 3.0 and abs(chunk.first_capture_time - 2.6) < 1e-9


def test_chunk_times_never_go_back_with_a_bursty_writer():
    ring = RingBuffer(1000, sample_rate=1000)
    ring.write(np.ones(100, dtype=np.float32), 1.0)
    a = ring.read(50).capture_time  # 0.95
    ring.write(np.ones(100, dtype=np.float32), 1.05)  # 100 samples only 50 ms later
    b = ring.read(10).capture_time  # 1.05 - 0.14 = 0.91 from the backlog alone
    assert a == 0.95 and b >= a


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_paced_ring_releases_no_faster_than_real_time_and_drops_the_oldest_beyond_its_capacity():
    clock = _Clock()
    ring = PacedRing(capacity=20, sample_rate=10, clock=clock)
    assert ring.read().samples.size == 0  # nothing written: nothing due
    ring.write(np.arange(5, dtype=np.float32))  # the first block may go at once
    ring.write(np.arange(5, 30, dtype=np.float32))  # 3 s written at once: 1 s more than the ring holds
    assert ring.dropped == 10 and ring.available == 20 and ring.ready == 5  # the oldest dropped
    first = ring.read()
    assert first.gap == 10 and first.start == 10 and first.samples.tolist() == list(range(10, 15))
    assert ring.read().samples.size == 0  # the next ones wait for the clock
    clock.t += 1.0
    assert ring.read().samples.tolist() == list(range(15, 25))
    clock.t += 0.25
    ring.close()
    assert ring.read().samples.tolist() == [25.0, 26.0] and not ring.exhausted
    clock.t += 10.0
    assert ring.read().samples.tolist() == [27.0, 28.0, 29.0] and ring.exhausted


def test_paced_ring_never_holds_a_writer_at_real_time_and_discards_only_what_is_due():
    clock = _Clock()
    ring = PacedRing(capacity=100, sample_rate=10, clock=clock)
    for i in range(5):  # 0.5 s blocks, each written as it ends
        ring.write(np.full(5, i, dtype=np.float32))
        assert ring.read().samples.tolist() == [float(i)] * 5
        clock.t += 0.5
    ring.write(np.zeros(30, dtype=np.float32))  # a burst 2.5 s ahead: 0.5 s of it due now
    assert ring.ready == 5 and ring.discard(keep=2) == 3 and ring.available == 27 and ring.ready == 2
    clock.t += 60.0  # a long stall fills the bucket up to the ring's size, no more
    ring.write(np.ones(150, dtype=np.float32))
    assert ring.available == 100 and ring.ready == 100

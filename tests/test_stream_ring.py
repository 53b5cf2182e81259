import threading

import numpy as np

from emomon.stream.ring import RingBuffer


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

"""A fixed-capacity float32 ring buffer between an audio callback (writer) and a reader.

The writer (a PortAudio callback, or a file feeder thread) copies blocks into a preallocated
array under a very short lock: it never blocks for long, never grows a Python list and never
raises. When the writer would overrun data the reader has not taken yet, the *oldest* unread
samples are overwritten and counted in :attr:`RingBuffer.dropped` (a live monitor wants the
newest audio). Positions are absolute sample counts since the stream started, so the reader can
tell where a gap happened.

A full ring alone does not keep a slow reader current: it would still read audio a whole ring
(seconds) old. A reader that must stay current calls :meth:`RingBuffer.discard` to drop the
oldest unread samples beyond what it needs; those count as dropped too, and the next chunk
reports them as its ``gap``. :attr:`RingBuffer.drops` counts the drop events (overruns and
discards that lost anything).

A :class:`PacedRing` also hands samples to its reader no faster than real time since its first
write: a writer that sends audio faster than real time (a network client with a file) gets ahead
by at most the ring's capacity, beyond which its oldest unread audio drops, exactly as a
microphone's ring drops when nobody reads it.

Capture times: a write stamps its block's last sample; a read dates its chunk's last sample from
the latest write, minus the samples still unread after it (at ``sample_rate``), so a chunk after
a drop carries the capture time of its own samples, not of the lost ones. Chunk times never go
backwards from one non-empty read to the next (bursty writers are clamped).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chunk:
    """Samples taken from a ring: ``samples (n,)`` float32 starting at absolute index ``start``.

    ``capture_time`` is the ``time.monotonic()`` at which the chunk's last sample was written
    (i.e. captured); ``gap`` counts samples lost (overwritten or discarded) just before
    ``start``; ``sample_rate`` (``None`` for a ring without one) dates the other samples.
    """

    samples: np.ndarray
    start: int
    capture_time: float
    gap: int = 0
    sample_rate: int | None = None

    @property
    def end(self) -> int:
        return self.start + len(self.samples)

    @property
    def first_capture_time(self) -> float:
        """Capture time of the chunk's first sample (its last sample's without a sample rate)."""
        if not self.sample_rate or len(self.samples) == 0:
            return self.capture_time
        return self.capture_time - (len(self.samples) - 1) / self.sample_rate


class RingBuffer:
    """Single-producer / single-consumer ring of ``capacity`` float32 samples.

    ``sample_rate`` (optional) lets :meth:`read` date the last sample of a partial read.
    """

    def __init__(self, capacity: int, sample_rate: int | None = None) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = int(capacity)
        self.sample_rate = sample_rate  # only used to date a partial read's last sample
        self._buf = np.zeros(self.capacity, dtype=np.float32)
        self._lock = threading.Lock()
        self._written = 0  # absolute index one past the last written sample
        self._read = 0  # absolute index of the next sample to read
        self._dropped = 0
        self._drops = 0  # drop events (an overrun or a discard that lost samples)
        self._last_time = time.monotonic()
        self._read_time = -math.inf  # capture time of the last non-empty read (kept monotone)
        self._closed = False
        self._reported_gap = 0  # drops not yet reported in a Chunk

    # -- writer side (must stay cheap: runs in the audio callback) ---------------------------
    def write(self, samples: np.ndarray, capture_time: float | None = None) -> int:
        """Copy ``samples (n,)`` in; returns how many unread samples were overwritten (dropped).

        ``capture_time`` is the monotonic time of the block's last sample (default: now).
        Never blocks beyond the short lock, never raises on overflow.
        """
        n_total = int(samples.shape[0])
        if n_total == 0:
            return 0
        t = time.monotonic() if capture_time is None else capture_time
        cap = self.capacity
        if n_total > cap:  # only the newest `cap` samples can be kept
            samples = samples[n_total - cap :]
        n = int(samples.shape[0])
        with self._lock:
            new_written = self._written + n_total
            pos = (new_written - n) % cap
            first = min(n, cap - pos)
            self._buf[pos : pos + first] = samples[:first]
            if first < n:
                self._buf[: n - first] = samples[first:]
            self._written = new_written
            lost = max(0, new_written - cap - self._read)
            self._lose(lost)
            self._last_time = t
        return lost

    def _lose(self, n: int) -> None:
        """Skip the ``n`` oldest unread samples and count them (call with the lock held)."""
        if n > 0:
            self._read += n
            self._dropped += n
            self._drops += 1
            self._reported_gap += n

    def close(self) -> None:
        """Mark the end of the stream: no more writes will come."""
        with self._lock:
            self._closed = True

    # -- reader side -----------------------------------------------------------------------------
    def discard(self, keep: int) -> int:
        """Drop the oldest unread samples so that at most ``keep`` remain; returns how many went.

        For a reader that fell behind and must stay current: the samples count as
        :attr:`dropped` and the next chunk reports them as its ``gap``.
        """
        with self._lock:
            lost = max(0, self._readable() - max(0, int(keep)))
            self._lose(lost)
            self._took(lost)
        if lost:
            log.debug("ring: reader behind, discarded the oldest %d samples", lost)
        return lost

    def read(self, max_samples: int | None = None) -> Chunk:
        """Take up to ``max_samples`` unread samples (all when ``None``) as a :class:`Chunk`
        ``samples (n,)``; its ``gap`` is what was dropped since the last read."""
        with self._lock:
            avail = self._readable()
            n = avail if max_samples is None else min(avail, int(max_samples))
            start = self._read
            out = np.empty(n, dtype=np.float32)
            pos = start % self.capacity
            first = min(n, self.capacity - pos)
            out[:first] = self._buf[pos : pos + first]
            if first < n:
                out[first:] = self._buf[: n - first]
            self._read = start + n
            self._took(n)
            # capture time of the last sample taken: the last write, minus what is still unread
            backlog = self._written - self._read
            t = self._last_time
            if backlog and self.sample_rate:
                t -= backlog / self.sample_rate
            if n:  # never earlier than the chunk before (a writer's bursts can make it look so)
                t = self._read_time = max(t, self._read_time)
            gap = self._reported_gap
            self._reported_gap = 0
        return Chunk(samples=out, start=start, capture_time=t, gap=gap, sample_rate=self.sample_rate)

    def _readable(self) -> int:
        """Unread samples the reader may take now (call with the lock held)."""
        return self._written - self._read

    def _took(self, n: int) -> None:
        """The reader took or discarded ``n`` samples (call with the lock held)."""

    @property
    def available(self) -> int:
        """Unread samples (a :class:`PacedRing` may hold some of them back a while)."""
        return self._written - self._read

    @property
    def ready(self) -> int:
        """Unread samples the reader may take now: how far it is behind."""
        with self._lock:
            return self._readable()

    @property
    def free(self) -> int:
        """Samples that can be written without dropping unread ones."""
        return self.capacity - (self._written - self._read)

    @property
    def dropped(self) -> int:
        """Samples lost so far because the writer overran the reader."""
        return self._dropped

    @property
    def drops(self) -> int:
        """How many times samples were lost (overruns and discards), each counted once."""
        return self._drops

    @property
    def written(self) -> int:
        """Samples written so far (absolute index of the next write)."""
        return self._written

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def exhausted(self) -> bool:
        """Closed and everything read: the stream is over."""
        return self._closed and self.available == 0


class PacedRing(RingBuffer):
    """A ring whose reader gets samples no faster than real time: a token bucket of samples that
    fills at ``sample_rate`` per second (``clock``, ``time.monotonic`` by default) up to the
    ring's capacity, starts with the first block written, and empties by what the reader takes
    or discards. Audio written faster waits in the ring, and what overflows it drops oldest first
    (:class:`RingBuffer`); a writer at or behind real time is never held, and one that catches up
    after a stall passes at once (at most a ring's worth).
    """

    def __init__(self, capacity: int, sample_rate: int, clock=time.monotonic) -> None:
        if not sample_rate or sample_rate <= 0:
            raise ValueError("a paced ring needs a positive sample rate")
        super().__init__(capacity, sample_rate)
        self._clock = clock
        self._tick: float | None = None  # clock of the last refill (None: nothing written yet)
        self._credit = 0.0  # samples the reader may take now

    def write(self, samples: np.ndarray, capture_time: float | None = None) -> int:
        if self._tick is None and int(samples.shape[0]):
            with self._lock:
                self._tick, self._credit = self._clock(), float(min(int(samples.shape[0]), self.capacity))
        return super().write(samples, capture_time)

    def _readable(self) -> int:
        if self._tick is None:
            return 0
        now = self._clock()
        self._credit = min(float(self.capacity), self._credit + (now - self._tick) * self.sample_rate)
        self._tick = now
        return min(self._written - self._read, int(self._credit))

    def _took(self, n: int) -> None:
        self._credit = max(0.0, self._credit - n)

"""Feeding a PulseAudio virtual microphone: a writer thread for a ``module-pipe-source`` FIFO.

``scripts/virtmic.sh start DIR`` runs a private PulseAudio whose default source reads s16le mono
16 kHz from ``DIR/virtmic``; :class:`FifoWriter` plays audio into it in real time. The device test
and ``benchmarks/stream_bench.py`` use the pair to run ``emomon listen`` on a real PortAudio
device without a microphone.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from .. import defaults


class FifoWriter(threading.Thread):
    """Writes ``audio`` (mono float32 at ``sample_rate``), looped, as s16le into the FIFO in real time, like a
    microphone: it never bursts.

    PulseAudio's pipe source stops reading its FIFO while nobody records (the listener is still
    loading its model), so a blocking writer would pile up to 2 s of stale audio in the pipe and
    then catch up in a burst, which the listener would receive all at once. Instead the pipe
    buffer is shrunk to one page (~128 ms) and the writer is non-blocking: a block nobody takes
    is dropped (``unread_s``), and a writer starved of CPU carries on from "now" (``stall_s``)
    instead of catching up.
    """

    PIPE_BYTES = 4096

    def __init__(self, fifo: Path, audio: np.ndarray, sample_rate: int = defaults.SAMPLE_RATE) -> None:
        super().__init__(daemon=True, name="fifo-writer")
        self.sample_rate = sample_rate
        self.block = sample_rate // 50  # 20 ms; 640 bytes at 16 kHz, below PIPE_BUF: all-or-nothing writes
        self.pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
        self.fifo = fifo
        self.stop_event = threading.Event()
        self.written = 0  # samples taken by the reader
        self.unread = 0  # samples dropped because the pipe was full
        self.stall_s = 0.0  # time the writer itself fell behind real time (CPU starvation)
        self.error: BaseException | None = None

    @property
    def unread_s(self) -> float:
        return self.unread / self.sample_rate

    def run(self) -> None:
        import fcntl

        block, sr = self.block, self.sample_rate
        try:
            fd = os.open(self.fifo, os.O_WRONLY)
        except OSError as exc:
            self.error = exc
            return
        try:
            try:
                fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), self.PIPE_BYTES)
            except OSError:
                pass  # not Linux: larger pipe, more stale audio at the start
            os.set_blocking(fd, False)
            t0, n, i = time.monotonic(), 0, 0
            while not self.stop_event.is_set():
                b = self.pcm[i : i + block]
                if len(b) < block:
                    b = np.concatenate([b, self.pcm[: block - len(b)]])
                i = (i + block) % len(self.pcm)
                try:
                    os.write(fd, b.tobytes())
                    self.written += block
                except BlockingIOError:
                    self.unread += block
                n += block
                delay = t0 + n / sr - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -0.1:  # starved: carry on from now, never burst
                    self.stall_s += -delay
                    t0 -= delay
        except OSError as exc:
            if not self.stop_event.is_set():
                self.error = exc
        finally:
            os.close(fd)

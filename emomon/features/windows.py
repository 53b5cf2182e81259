"""Cut a sample stream into overlapping analysis windows (the stream and the training recipe share them).

Windows are ``window`` seconds long and end every ``hop`` seconds: window ``k`` ends at sample
``(k + 1) * hop``. The first windows of a stream reach back before its start and are front-padded
with zeros to the full window length (as the training seed front-pads short clips), so the first
result comes after one hop instead of one whole window.

A gap (audio lost, e.g. dropped by an overloaded stream's ring buffer; :meth:`Windower.skip`)
ends one run of audio and restarts the windowing after it: no window mixes audio from both sides
of a gap and none ends inside it. The samples since the last window's end get one last window
ending where the gap begins (as at the end of a stream, :meth:`Windower.flush`), so every sample
that arrived is in some window. After the gap the history is forgotten: the first window ends
one whole window after it (it holds only new audio, no front padding), then one every hop.
Stream time keeps counting the lost samples, so ``t_end`` stays aligned with capture time.
Front padding therefore appears only at the stream's start and in such a last window of a run
shorter than a window. :attr:`Windower.gaps` / :attr:`Windower.skipped` count the restarts and
the samples lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import defaults
from ..errors import EmomonError


def check_window(window: float | None, option: str = "window") -> None:
    """Refuse a window (seconds; ``None``: the model's) that is not a number of seconds of at
    least :data:`~emomon.defaults.MIN_WINDOW_S` (one voice-activity frame: nothing shorter can
    hold speech). Raises :class:`~emomon.errors.EmomonError` ``(option, why)``."""
    if window is None:
        return
    if not (isinstance(window, (int, float)) and math.isfinite(window) and window > 0):
        raise EmomonError(option, f"must be a positive number of seconds (got {window})")
    if window < defaults.MIN_WINDOW_S:
        raise EmomonError(option, f"{window:g} s is shorter than one voice-activity frame "
                                  f"({defaults.MIN_WINDOW_S:g} s): no window that short can hold speech")


@dataclass(frozen=True)
class Window:
    """One analysis window of a stream.

    ``samples`` is ``(window_samples,)`` float32 at ``sample_rate``; the first
    ``window_samples - valid`` of them are front padding. ``t_end`` is the window's end in seconds
    since the stream started; ``capture_time`` the ``time.monotonic()`` at which its last sample
    was captured (for capture-to-result latency).
    """

    stream: str
    index: int
    samples: np.ndarray
    valid: int
    t_end: float
    capture_time: float
    sample_rate: int

    @property
    def real_samples(self) -> np.ndarray:
        """The samples without front padding, ``(valid,)``."""
        return self.samples[len(self.samples) - self.valid :]


def seconds_to_samples(seconds: float, sample_rate: int) -> int:
    return max(1, int(round(seconds * sample_rate)))


class Windower:
    """Push samples in, get :class:`Window` objects out (one per completed hop)."""

    def __init__(self, window: float, hop: float, sample_rate: int, stream: str = "0", realtime: bool = True) -> None:
        if not (hop > 0 and window > 0):
            raise ValueError("window and hop must be positive")
        self.sample_rate = int(sample_rate)
        self.window = seconds_to_samples(window, sample_rate)
        self.hop = seconds_to_samples(hop, sample_rate)
        self.stream = stream
        # realtime: samples arrive at their own pace, so a window ending before the chunk's last
        # sample was captured that much earlier; otherwise (a file read fast) it is not backdated.
        self.realtime = realtime
        self._buf = np.zeros(self.window, dtype=np.float32)  # history; ends at absolute `_pos`
        self._pos = 0  # samples pushed so far (absolute)
        self._next_end = self.hop  # end (absolute) of the next window to emit
        self._last_end = 0  # end of the last window emitted
        self._origin = 0  # where the current run of contiguous audio began (0, or a gap's end)
        self._index = 0
        self.gaps = 0  # restarts after lost audio
        self.skipped = 0  # samples lost in them
        self._last_time = 0.0  # capture time of the last sample pushed

    @property
    def position(self) -> int:
        """Samples pushed so far (gaps included)."""
        return self._pos

    @property
    def last_capture_time(self) -> float:
        """Capture time of the last sample pushed (0 before any)."""
        return self._last_time

    def push(self, samples: np.ndarray, capture_time: float) -> list[Window]:
        """Append ``samples (n,)`` whose last sample was captured at ``capture_time``.

        Returns the windows completed by them (possibly none).
        """
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            return []
        self._buf = np.concatenate([self._buf, samples])
        self._pos += samples.size
        self._last_time = capture_time
        out: list[Window] = []
        while self._next_end <= self._pos:
            end = self._next_end
            self._next_end += self.hop
            out.append(self._cut(end, capture_time))
        self._trim()
        return out

    def skip(self, n: int) -> Window | None:
        """Account for ``n`` lost samples (a dropout) and restart after them.

        Returns the last window of the audio before the gap (ending where the gap begins, as
        :meth:`flush` does; ``None`` when every sample is already in a window). Then the history
        is forgotten (no window splices audio from both sides of the gap), no window ends inside
        the gap, and the next one ends one whole window after it, without front padding. Stream
        time counts the lost samples, so it stays aligned with capture time.
        """
        if n <= 0:
            return None
        tail = self.flush(self._last_time)
        self._pos += int(n)
        self._origin = self._pos
        self._buf = np.zeros(self.window, dtype=np.float32)
        self._next_end = self._origin + self.window
        self.gaps += 1
        self.skipped += int(n)
        return tail

    def flush(self, capture_time: float) -> Window | None:
        """At end of stream: a last window ending at the last sample, if any sample came after the
        last window's end (so short clips still give one result). It never reaches back across a
        gap: what came before one is front padding."""
        if self._pos > max(self._last_end, self._origin):
            self._next_end = self._pos + self.hop
            return self._cut(self._pos, capture_time)
        return None

    def _cut(self, end: int, capture_time: float) -> Window:
        back = self._pos - end  # samples after the window's end still in the buffer
        stop = len(self._buf) - back
        win = self._buf[stop - self.window : stop].copy()
        self._last_end = end
        w = Window(
            stream=self.stream,
            index=self._index,
            samples=win,
            valid=min(self.window, end - self._origin),
            t_end=end / self.sample_rate,
            capture_time=capture_time - back / self.sample_rate if self.realtime else capture_time,
            sample_rate=self.sample_rate,
        )
        self._index += 1
        return w

    def _trim(self) -> None:
        if len(self._buf) > self.window:
            self._buf = self._buf[-self.window :]


def clip_windows(samples: np.ndarray, sample_rate: int, window: float, hop: float) -> list[Window]:
    """The windows a stream cuts from a clip played from its start (front padding and the final
    short window included): what ``listen`` and ``file --stream`` feed the model, and what the
    training recipe trains on."""
    w = Windower(window, hop, sample_rate, realtime=False)
    wins = w.push(samples, 0.0)
    last = w.flush(0.0)
    if last is not None:
        wins.append(last)
    return wins

"""From a signal's speech frames to the segments a file is classified by.

:func:`speech_regions` turns per-frame decisions into speech regions (short runs dropped, short
pauses merged, regions padded); :func:`split_region` cuts a region longer than the model's window
into equal parts; :func:`context_span` gives the stretch of audio a segment is classified on: one
model window of the file centred on the segment (the whole file when it is shorter), so a clip no
longer than the window is classified exactly as a whole clip, and every other segment like a
stream window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .vad import FRAME_SECONDS, VadOptions, VoiceActivity


@dataclass(frozen=True)
class Span:
    """``[start, end)`` in seconds."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(start, end)`` frame indices (end exclusive) of each run of ``True``."""
    if len(flags) == 0:
        return []
    d = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def speech_regions(flags: np.ndarray, duration: float, options: VadOptions) -> list[Span]:
    """Speech regions (seconds) of a signal of ``duration`` seconds from its frame decisions.

    Pauses shorter than ``options.min_silence`` are merged, runs shorter than
    ``options.min_speech_duration`` dropped, and every region widened by ``options.speech_pad``
    on both sides (within the signal; overlaps merged).
    """
    merged: list[list[int]] = []
    gap = options.min_silence / FRAME_SECONDS
    for a, b in _runs(np.asarray(flags, dtype=bool)):
        if merged and a - merged[-1][1] < gap:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    out: list[Span] = []
    for a, b in merged:
        if (b - a) * FRAME_SECONDS < options.min_speech_duration:
            continue
        start = max(0.0, a * FRAME_SECONDS - options.speech_pad)
        end = min(duration, b * FRAME_SECONDS + options.speech_pad)
        if end <= start:
            continue
        if out and start <= out[-1].end:
            out[-1] = Span(out[-1].start, max(out[-1].end, end))
        else:
            out.append(Span(start, end))
    return out


def split_region(region: Span, max_length: float) -> list[Span]:
    """``region`` cut into the fewest equal parts no longer than ``max_length`` seconds."""
    parts = max(1, math.ceil(region.duration / max_length - 1e-9))
    step = region.duration / parts
    return [Span(region.start + i * step, region.end if i == parts - 1 else region.start + (i + 1) * step) for i in range(parts)]


def context_span(segment: Span, window: float, duration: float) -> Span:
    """One ``window`` of a ``duration``-second signal centred on ``segment`` (shifted to fit; the
    whole signal when it is shorter than a window): the audio the segment is classified on."""
    if duration <= window:
        return Span(0.0, duration)
    centre = 0.5 * (segment.start + segment.end)
    start = min(max(0.0, centre - 0.5 * window), duration - window)
    return Span(start, start + window)


def segments_of(flags: np.ndarray, duration: float, options: VadOptions, max_length: float) -> list[Span]:
    """The segments of a signal: its speech regions, each split to at most ``max_length`` seconds."""
    return [part for region in speech_regions(flags, duration, options) for part in split_region(region, max_length)]


def context_slices(spans: list[Span], window: float, total: int, rate: int) -> list[tuple[int, int]]:
    """Sample ranges ``[start, end)`` of a ``total``-sample signal that each segment is classified
    on (:func:`context_span`): all one window long (the whole signal when it is shorter), in the
    order of the segments, with non-decreasing starts."""
    duration = total / rate
    length = min(total, int(round(window * rate)))
    out = []
    for span in spans:
        start = min(max(0, int(round(context_span(span, window, duration).start * rate))), total - length)
        out.append((start, start + length))
    return out


def signal_segments(samples: np.ndarray, rate: int, options: VadOptions, window: float) -> list[Span]:
    """:func:`segments_of` a whole signal in memory (what ``emomon file`` finds, block by block,
    in a file): voice activity over ``samples (n,)``, its regions, split to ``window`` seconds."""
    va = VoiceActivity(options, rate)
    va.push(samples)
    va.finish()
    return segments_of(va.flags(), len(samples) / rate, options, window)

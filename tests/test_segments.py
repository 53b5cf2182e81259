"""Speech frames → regions → segments → the audio each segment is classified on."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SR
from emomon.audio import decode_audio
from emomon.features.segments import Span, context_slices, context_span, signal_segments, speech_regions, split_region
from emomon.features.vad import FRAME_SECONDS, VadOptions

OPTS = VadOptions(min_speech_duration=0.25, min_silence=0.5, speech_pad=0.1)


def flags_of(*runs: tuple[float, float], total: float = 10.0) -> np.ndarray:
    """Frame flags with speech in the given ``(start, end)`` second ranges."""
    f = np.zeros(int(round(total / FRAME_SECONDS)), dtype=bool)
    for a, b in runs:
        f[int(round(a / FRAME_SECONDS)) : int(round(b / FRAME_SECONDS))] = True
    return f


def test_regions_merge_short_pauses_drop_short_runs_and_pad():
    flags = flags_of((1.0, 2.0), (2.3, 3.0), (5.0, 5.1), (7.0, 8.0))
    regions = speech_regions(flags, 10.0, OPTS)
    # the 0.3 s pause is merged, the 0.1 s blip dropped, both regions padded by 0.1 s
    assert [(r.start, r.end) for r in regions] == [pytest.approx((0.9, 3.1), abs=FRAME_SECONDS), pytest.approx((6.9, 8.1), abs=FRAME_SECONDS)]


def test_padding_stays_inside_the_signal_and_merges_overlaps():
    regions = speech_regions(flags_of((0.0, 1.0), (1.55, 2.5), total=2.5), 2.5, VadOptions(min_silence=0.5, speech_pad=0.3))
    assert len(regions) == 1 and regions[0].start == 0.0 and regions[0].end == pytest.approx(2.5)


def test_long_regions_split_into_equal_parts_no_longer_than_the_window():
    parts = split_region(Span(1.0, 8.5), 3.0)
    assert len(parts) == 3 and all(p.duration == pytest.approx(2.5) for p in parts)
    assert parts[0].start == 1.0 and parts[-1].end == 8.5
    assert split_region(Span(0.0, 3.0), 3.0) == [Span(0.0, 3.0)]


def test_context_is_one_window_centred_and_the_whole_clip_when_shorter():
    assert context_span(Span(4.0, 5.0), 3.0, 20.0) == Span(3.0, 6.0)
    assert context_span(Span(0.1, 0.6), 3.0, 20.0) == Span(0.0, 3.0)  # shifted to fit
    assert context_span(Span(19.5, 20.0), 3.0, 20.0) == Span(17.0, 20.0)
    assert context_span(Span(0.5, 1.5), 3.0, 2.2) == Span(0.0, 2.2)  # a short clip: all of it
    slices = context_slices([Span(0.1, 0.6), Span(4.0, 5.0), Span(19.5, 20.0)], 3.0, 20 * SR, SR)
    assert slices == [(0, 3 * SR), (3 * SR, 6 * SR), (17 * SR, 20 * SR)]
    assert context_slices([Span(0.5, 1.5)], 3.0, 35200, SR) == [(0, 35200)]


def test_a_pause_between_two_sentences_gives_two_segments(speech_clip):
    x = decode_audio(speech_clip, SR)
    gap = np.zeros(int(1.5 * SR), dtype=np.float32)
    signal = np.concatenate([gap, x, gap, x, gap])
    segs = signal_segments(signal, SR, VadOptions(), 3.0)
    dur = len(x) / SR
    # each sentence (3.5 s) is one region, split in two parts of at most 3 s
    assert len(segs) == 4 and all(s.duration <= 3.0 + 1e-9 for s in segs)
    first, second = (segs[0].start, segs[1].end), (segs[2].start, segs[3].end)
    assert first[0] == pytest.approx(1.5, abs=0.3) and first[1] == pytest.approx(1.5 + dur, abs=0.4)
    assert second[0] == pytest.approx(3.0 + dur, abs=0.3) and second[1] == pytest.approx(3.0 + 2 * dur, abs=0.4)
    assert signal_segments(np.zeros(5 * SR, dtype=np.float32), SR, VadOptions(), 3.0) == []

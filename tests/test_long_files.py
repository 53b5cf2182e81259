"""Long recordings with the shipped model: a 10-minute mix of emotion blocks gets segments that
follow the blocks (not one label for everything), and its summary reflects all four emotions.

The shipped model was trained on all 24 RAVDESS actors, so this checks the segmentation and the
timeline on real speech, not accuracy on unseen voices (that is the EmoBox figure in the README).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import RAVDESS, SR, default_model_available

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from mixes import emotion_mix  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (RAVDESS.is_dir() and default_model_available()), reason="needs ../shared RAVDESS and the shipped model"),
]

EMOTIONS4 = ["angry", "sad", "happy", "neutral"]


@pytest.fixture(scope="module")
def mix(tmp_path_factory):
    x, blocks = emotion_mix(RAVDESS, EMOTIONS4, block_seconds=150)
    path = tmp_path_factory.mktemp("mix") / "mix.flac"
    sf.write(path, x, SR)
    return path, blocks, len(x) / SR


def test_segments_of_a_ten_minute_mix_follow_its_blocks(mix):
    from emomon.timeline import analyze_file

    path, blocks, duration = mix
    assert 590 < duration < 640
    res = analyze_file(path, "default", compute="cpu")
    assert res.duration == pytest.approx(duration, abs=0.01)
    assert 0.3 * duration < res.speech < 0.8 * duration  # RAVDESS clips carry about 1 s of silence each
    assert len(res.segments) > 150 and all(s.duration <= 3.0 + 1e-6 for s in res.segments)
    for block in blocks:
        inside = [s for s in res.segments if block.start <= 0.5 * (s.start + s.end) < block.end]
        share: dict[str, float] = {}
        for s in inside:
            share[s.label] = share.get(s.label, 0.0) + s.duration
        top = max(share, key=share.get)
        assert top == block.emotion, (block, share)
        assert share[top] / sum(share.values()) > 0.5, (block, share)
    # the summary is a time-weighted mean: every block's emotion keeps a real share of it
    for emotion in EMOTIONS4:
        assert res.scores[emotion] > 0.1, res.scores
    assert res.label in EMOTIONS4


def test_the_cli_timeline_of_the_mix(mix, tmp_path):
    import json
    import subprocess

    from conftest import emomon_command

    path, blocks, _ = mix
    png = tmp_path / "mix.png"
    p = subprocess.run([*emomon_command(), "file", str(path), "--format", "json", "--plot", str(png), "--compute", "cpu"],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["label"] in EMOTIONS4 and len(res["segments"]) > 150
    assert png.read_bytes()[:4] == b"\x89PNG"
    labels = np.array([s["label"] for s in res["segments"]])
    assert len(set(labels)) >= 4

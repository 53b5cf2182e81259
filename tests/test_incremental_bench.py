"""benchmarks/incremental.py's chunk-pooled features on a tiny random Whisper: each clip is encoded
once for both of its pooled features, and what is kept for later stays bounded."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import incremental  # noqa: E402

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def backbone(tiny_whisper_dir):
    from emomon.models.backbones import load_backbone

    return load_backbone("whisper-base", str(tiny_whisper_dir))


def _clip(seed: int, seconds: float = 2.0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * 16000))).astype(np.float32)


def test_both_features_from_one_encoding(backbone, monkeypatch):
    calls = []
    real = incremental.chunk_states
    monkeypatch.setattr(incremental, "chunk_states", lambda b, x, h: calls.append(len(x)) or real(b, x, h))
    feats = incremental.ChunkFeatures(backbone, 3.0, 0.5)
    x = _clip(0)
    clip = feats.clip(x)
    encoded = len(calls)  # the clip, and once the zero chunk of the front padding
    wins = feats.windows(x)
    assert len(calls) == encoded and not feats.kept  # the windows were kept from the clip's encoding, then handed over
    assert clip.shape == (backbone.num_layers, 2 * backbone.hidden_size)
    assert wins.shape[1:] == clip.shape and len(wins) == 4  # windows ending at 0.5, 1.0, 1.5 and 2.0 s


def test_what_is_kept_is_bounded(backbone, monkeypatch):
    monkeypatch.setattr(incremental.ChunkFeatures, "KEEP", 2)
    feats = incremental.ChunkFeatures(backbone, 3.0, 0.5)
    for seed in range(4):
        feats.clip(_clip(seed, 1.0))  # the windows never asked for
    assert len(feats.kept) == 2

"""The torch mel front end matches Whisper's reference feature extractor."""

import numpy as np
import pytest
import torch

from emomon.features import FrontEnd, log_mel, mel_filterbank


def test_shapes_and_frames():
    front = FrontEnd()
    x = torch.randn(3, 16000)
    m = log_mel(x, front)
    assert m.shape == (3, front.num_frames(16000), 80) == (3, 100, 80)
    assert log_mel(x[0], front).shape == (100, 80)
    db = FrontEnd(log="db", n_mels=64)
    assert log_mel(x, db).shape == (3, db.num_frames(16000), 64) == (3, 101, 64)


def test_filterbank_is_slaney_shaped():
    fb = mel_filterbank(FrontEnd())
    assert fb.shape == (80, 201)
    assert (fb >= 0).all()
    # every filter has some support, centres increase with index
    centres = fb.argmax(dim=1)
    assert (fb.sum(dim=1) > 0).all() and (centres[1:] >= centres[:-1]).all()


def test_matches_transformers_whisper_extractor():
    transformers = pytest.importorskip("transformers")
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(24000)).astype(np.float32)
    ref = transformers.WhisperFeatureExtractor(feature_size=80)(x, sampling_rate=16000, return_tensors="np").input_features[0]
    # the reference pads to 30 s; compare on a 30 s padded input
    padded = np.zeros(480000, dtype=np.float32)
    padded[: len(x)] = x
    ours = log_mel(padded, FrontEnd()).numpy().T
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_front_end_round_trips_through_dict():
    f = FrontEnd(n_mels=128, log="db", f_max=8000.0)
    assert FrontEnd.from_dict(f.to_dict() | {"unknown": 1}) == f

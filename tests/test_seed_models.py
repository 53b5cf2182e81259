"""The seed's models (baseline, transformer, eGeMAPS) and their recipes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emomon.labels import EMOTIONS
from emomon.models import load_model
from emomon.models.baseline import BaselineModel
from emomon.models.transformer import SeedTransformer, get_relative_positional_encoding, get_relative_positions
from emomon.training.cache import FeatureCache
from emomon.training.corpora import read_ravdess
from emomon.training.protocols import make_folds
from emomon.training.recipes import get_recipe, recipe_names
from emomon.training.recipes.base import TrainContext
from emomon.training.runner import run_protocol
from test_runner import write_synthetic_ravdess

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RAVDESS = SHARED / "data" / "ravdess-speech"

TINY_TRANSFORMER = {
    "sample_rate": 16000, "n_fft": 256, "hop_length": 128, "n_mels": 16, "num_frames": 80,
    "embed_dim": 16, "num_heads": 2, "head_dim": 8, "num_layers": 1, "ff_dim": 32, "val_fraction": 0.34, "lr": 3e-3,
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return read_ravdess(write_synthetic_ravdess(tmp_path_factory.mktemp("syn"), speakers=4, reps=2))


def ctx(tmp_path, **kw):
    return TrainContext(cache=FeatureCache(tmp_path / "cache"), **kw)


def test_registry_names():
    names = recipe_names()
    assert names[0] == "default"
    assert {"baseline", "transformer", "wav2vec2", "egemaps"} <= set(names)
    assert get_recipe("baseline").name == "baseline"


# -- baseline ----------------------------------------------------------------------------------
def test_baseline_torch_features_match_numpy():
    from emomon.models.base import ModelConfig

    m = BaselineModel(ModelConfig(architecture="baseline", sample_rate=16000))
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 0.3, 8000).astype(np.float32), rng.normal(0, 0.1, 12000).astype(np.float32)
    batch = torch.zeros(2, 12000)
    batch[0, :8000], batch[1] = torch.from_numpy(a), torch.from_numpy(b)
    feats = m.features(batch, torch.tensor([8000, 12000])).numpy()
    np.testing.assert_allclose(feats[0], BaselineModel.clip_stats(a, 16000), rtol=1e-5)
    np.testing.assert_allclose(feats[1], BaselineModel.clip_stats(b, 16000), rtol=1e-5)
    assert feats[0, 0] == pytest.approx(0.5)


def test_baseline_learns_and_roundtrips(tmp_path, corpus):
    folds = make_folds("kfold-speaker", corpus, k=2)
    res = run_protocol(get_recipe("baseline"), corpus, folds, tmp_path / "out", ctx(tmp_path), protocol="kfold-speaker")
    assert res.metrics["ua"]["mean"] > 0.5  # chance is 0.125; length and loudness separate the tones
    loaded = load_model(tmp_path / "out" / "model", device="cpu")
    recipe_p = get_recipe("baseline").predict_proba(res.final_model, corpus[:5], ctx(tmp_path))
    from emomon.audio import decode_audio

    direct = np.stack([loaded.predict_proba(decode_audio(u.path, 16000)[None, :])[0] for u in corpus[:5]])
    np.testing.assert_allclose(direct, recipe_p, atol=1e-4)  # forward() on waveforms == recipe path
    assert loaded.num_parameters() == 24


# -- transformer --------------------------------------------------------------------------------
def test_transformer_default_is_the_seed_size():
    m = SeedTransformer.create(list(EMOTIONS))
    assert m.front.n_mels == 296 and m.num_frames == 495 and m.sample_rate == 48000
    assert m.front.num_frames(m.num_samples) == 495
    assert 370_000 <= m.num_parameters() <= 385_000  # study: "about 377,000"
    assert m.num_parameters() == 378_834
    assert m.pos.shape == (495, 50)


def test_relative_positions():
    r = get_relative_positions(4)
    assert r.tolist() == [[0, 1, 2, 3], [-1, 0, 1, 2], [-2, -1, 0, 1], [-3, -2, -1, 0]]
    enc = get_relative_positional_encoding(6, 8)
    assert enc.shape == (6, 8)
    assert not torch.allclose(enc[0], enc[5])  # rows differ: position information survives


def tiny_transformer() -> SeedTransformer:
    from emomon.features.mel import FrontEnd

    front = FrontEnd(sample_rate=16000, n_fft=256, hop_length=128, n_mels=16, log="db")
    return SeedTransformer.create(list(EMOTIONS), {k: TINY_TRANSFORMER[k] for k in ("num_frames", "embed_dim", "num_heads", "head_dim", "num_layers", "ff_dim")}, front)


def test_transformer_front_padding_and_noise():
    m = tiny_transformer()
    x = torch.ones(1, 1000)
    padded = m.front_pad(x)
    assert padded.shape == (1, m.num_samples)
    assert padded[0, : m.num_samples - 1000].abs().sum() == 0 and padded[0, -1000:].eq(1).all()  # zeros in FRONT
    long = torch.arange(m.num_samples + 500, dtype=torch.float32)[None]
    assert m.front_pad(long)[0, 0] == 0 and m.front_pad(long)[0, -1] == m.num_samples - 1  # cut keeps the start
    batch = torch.zeros(2, 3000)
    batch[0, :1000] = 1.0
    lp = m.front_pad(batch, torch.tensor([1000, 3000]))
    assert torch.equal(lp[0], padded[0])
    wav = torch.randn(2, 4000) * 0.1
    m.eval()
    assert torch.equal(m(wav), m(wav))  # no noise at inference
    m.train()
    torch.manual_seed(0)
    assert not torch.equal(m(wav), m(wav))  # noise (and dropout) in training


def test_transformer_recipe_learns_and_saves(tmp_path, corpus):
    c = ctx(tmp_path, epochs=12, options=dict(TINY_TRANSFORMER))
    folds = make_folds("kfold-speaker", corpus, k=2)
    res = run_protocol(get_recipe("transformer"), corpus, folds, tmp_path / "out", c, protocol="kfold-speaker")
    assert res.metrics["ua"]["mean"] > 0.25  # chance 0.125
    loaded = load_model(tmp_path / "out" / "model", device="cpu")
    assert isinstance(loaded, SeedTransformer) and loaded.num_parameters() == res.final_model.num_parameters()
    p_recipe = get_recipe("transformer").predict_proba(res.final_model, corpus[:3], c)
    p_direct = np.stack([loaded.predict(u.path).scores[EMOTIONS[0]] for u in corpus[:3]])
    np.testing.assert_allclose(p_direct, p_recipe[:, 0], atol=3e-3)  # the cache stores float16 mel
    assert "history" in json.loads((tmp_path / "out" / "model" / "config.json").read_text())["meta"]
    folds_out = json.loads((tmp_path / "out" / "metrics.json").read_text())["folds"]
    for row in folds_out:  # each fold's training curve, in metrics.json and in the fold's resume file
        assert [e["epoch"] for e in row["history"]][:2] == [1, 2] and all(e["seconds"] > 0 for e in row["history"])
        saved = json.loads((tmp_path / "out" / "folds" / f"{row['fold']}.json").read_text())["outcome"]["history"]
        assert [e["train_loss"] for e in saved] == pytest.approx([e["train_loss"] for e in row["history"]])


# -- eGeMAPS -------------------------------------------------------------------------------------
def test_egemaps_recipe(tmp_path, corpus):
    pytest.importorskip("opensmile")
    from emomon.models.egemaps import EgemapsModel

    folds = make_folds("kfold-speaker", corpus, k=2)
    c = ctx(tmp_path)
    res = run_protocol(get_recipe("egemaps"), corpus, folds, tmp_path / "out", c, protocol="kfold-speaker")
    assert res.metrics["ua"]["mean"] > 0.4
    loaded = load_model(tmp_path / "out" / "model", device="cpu")
    assert isinstance(loaded, EgemapsModel) and loaded.coef.shape == (8, 88)
    p = get_recipe("egemaps").predict_proba(res.final_model, corpus[:3], c)
    direct = np.stack([list(loaded.predict(u.path).scores.values()) for u in corpus[:3]])
    np.testing.assert_allclose(direct, p, atol=1e-4)


# -- RAVDESS (shared data) ----------------------------------------------------------------------------
@pytest.mark.slow
def test_baseline_on_ravdess_emobox_two_folds(tmp_path):
    if not RAVDESS.is_dir():
        pytest.skip("no ../shared RAVDESS")
    from emomon.training.cli import train

    res = train("baseline", RAVDESS, tmp_path / "out", fold_subset=["1", "2"], cache=tmp_path / "cache", final=False, progress=False)
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert [f["fold"] for f in m["folds"]] == ["1", "2"]
    assert m["n_utterances"] == 1440 and all(f["n_test"] == 240 for f in m["folds"])
    assert 0.25 <= m["ua"]["mean"] <= 0.45  # ~0.33 measured; the seed reported 37.8% on a random split
    assert res.metrics["protocol"] == "emobox"


def test_transformer_speaker_norm_mode(tmp_path, corpus):
    c = ctx(tmp_path, epochs=2, mode="speaker-norm", all_utterances=corpus, options=dict(TINY_TRANSFORMER))
    folds = make_folds("kfold-speaker", corpus, k=2)
    res = run_protocol(get_recipe("transformer"), corpus, folds, tmp_path / "out", c, protocol="kfold-speaker")
    assert res.metrics["mode"] == "speaker-norm" and res.metrics["final_model"] is None
    assert any(k.startswith("speaker-stats:") for k in c.scratch)

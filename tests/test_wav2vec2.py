"""wav2vec2 recipe end to end on a tiny, randomly initialised local backbone (no hub access)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from emomon.errors import ModelError  # noqa: E402
from emomon.labels import EMOTIONS  # noqa: E402
from emomon.models import load_model  # noqa: E402
from emomon.training.cache import FeatureCache  # noqa: E402
from emomon.training.corpora import read_ravdess  # noqa: E402
from emomon.training.protocols import make_folds  # noqa: E402
from emomon.training.recipes import get_recipe  # noqa: E402
from emomon.training.recipes.base import TrainContext  # noqa: E402
from emomon.training.runner import run_protocol  # noqa: E402
from test_runner import write_synthetic_ravdess  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory):
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor
    from transformers import Wav2Vec2Model as HFWav2Vec2

    d = tmp_path_factory.mktemp("w2v2")
    cfg = Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
        conv_dim=(16, 16), conv_stride=(10, 8), conv_kernel=(10, 8), num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2, feat_extract_norm="group", mask_time_prob=0.0, classifier_proj_size=16,
    )
    torch.manual_seed(0)
    HFWav2Vec2(cfg).save_pretrained(d)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=False).save_pretrained(d)
    return d


def test_wav2vec2_end_to_end(tmp_path, tiny_backbone):
    corpus = read_ravdess(write_synthetic_ravdess(tmp_path / "syn", speakers=4, reps=1))
    ctx = TrainContext(cache=FeatureCache(tmp_path / "cache"), epochs=1, options={"backbone": str(tiny_backbone), "max_seconds": 1.0, "batch_size": 8, "grad_accum": 1})
    folds = make_folds("kfold-speaker", corpus, k=2)
    res = run_protocol(get_recipe("wav2vec2"), corpus, folds, tmp_path / "out", ctx, protocol="kfold-speaker")
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["model"] == "wav2vec2" and len(m["folds"]) == 2 and 0.0 <= m["ua"]["mean"] <= 1.0
    assert m["extra"]["backbone"] == str(tiny_backbone)
    cfg = json.loads((tmp_path / "out" / "model" / "config.json").read_text())
    assert cfg["architecture"] == "wav2vec2" and cfg["params"]["hf_config"]["hidden_size"] == 32
    loaded = load_model(tmp_path / "out" / "model", device="cpu")
    assert loaded.num_parameters() == res.final_model.num_parameters() == m["num_parameters"]
    from emomon.audio import decode_audio

    wav = decode_audio(corpus[0].path, 16000)
    np.testing.assert_allclose(loaded.predict_proba(wav[None, :]), res.final_model.predict_proba(wav[None, :]), atol=1e-5)
    assert loaded.predict(corpus[0].path).label in EMOTIONS


def test_forward_matches_feature_extractor(tiny_backbone):
    """Our in-forward normalisation equals the HF feature extractor's output fed to the net."""
    from transformers import AutoFeatureExtractor
    from emomon.models.wav2vec2 import Wav2Vec2Model
    from emomon.training.recipes.wav2vec2 import load_backbone

    fe, net = load_backbone(str(tiny_backbone), list(EMOTIONS))
    model = Wav2Vec2Model.from_hf(net, fe, list(EMOTIONS)).eval()
    wav = (np.random.default_rng(0).standard_normal(8000) * 0.2 + 0.05).astype(np.float32)
    inputs = AutoFeatureExtractor.from_pretrained(tiny_backbone)(wav, sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        ref = net(input_values=inputs["input_values"]).logits
        ours = model(torch.from_numpy(wav)[None])
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_missing_backbone_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from emomon.training.recipes.wav2vec2 import load_backbone

    with pytest.raises(ModelError) as info:
        load_backbone(str(tmp_path / "no-such-model"), list(EMOTIONS))
    assert "backbone" in str(info.value) and "\n" not in info.value.why

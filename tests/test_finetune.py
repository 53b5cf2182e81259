"""The ``finetune`` recipe and its ``whisper-finetune`` model, on a tiny random Whisper."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emomon.errors import DataError, ModelError
from emomon.labels import EMOTIONS
from emomon.models import load_model
from emomon.models.finetuned_whisper import FinetunedWhisperModel
from emomon.training.cache import FeatureCache
from emomon.training.corpora import read_ravdess
from emomon.training.protocols import make_folds
from emomon.training.recipes import get_recipe, recipe_names
from emomon.training.recipes.base import TrainContext
from emomon.training.runner import run_protocol
from conftest import synth_speechlike
from test_runner import write_synthetic_ravdess

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_options(whisper: Path, **kw) -> dict:
    return {"backbone_source": str(whisper), "tuned_layers": 1, "augment": "white:10", "val_fraction": 0.34,
            "batch_size": 4, "lr": 1e-3, "head_lr": 1e-2, "attention": 0, "masks": 0, "layers": [0, 1, 2], **kw}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return read_ravdess(write_synthetic_ravdess(tmp_path_factory.mktemp("syn"), speakers=4, reps=2))


def tiny_model(whisper: Path, tuned: int = 1, layers: list[int] | None = None) -> FinetunedWhisperModel:
    cfg = FinetunedWhisperModel.make_config(EMOTIONS, tuned_layers=tuned, backbone_source=str(whisper), attention=8, layers=layers)
    torch.manual_seed(0)
    return FinetunedWhisperModel(cfg).eval()


def test_recipe_is_registered():
    assert "finetune" in recipe_names()


def test_model_from_audio_equals_model_from_lower_state(tiny_whisper_dir):
    m = tiny_model(tiny_whisper_dir, layers=[0, 1, 2])
    wav = torch.from_numpy(np.stack([synth_speechlike(1.0, seed=i) for i in range(2)]))
    with torch.inference_mode():
        direct = m(wav)
        h, frozen = m.lower(wav)
        via_state = m.classify_state(h, frozen)
        every = m.backbone(wav)  # all states: the lower state is the one the tuned blocks start from
        pooled = m.pooled(h, frozen)
    assert m.first == 1 and m.frozen_layers == [0] and torch.equal(h, every[1])
    from emomon.models.layer_head import pool_states  # the default model's pooling, on every layer

    torch.testing.assert_close(pooled, pool_states(every, [0, 1, 2]))
    torch.testing.assert_close(direct, via_state)
    assert direct.shape == (2, len(EMOTIONS))
    with pytest.raises(ValueError, match="frozen"):
        m.pooled(h)


def test_only_tuned_blocks_train_and_are_saved(tmp_path, tiny_whisper_dir):
    m = tiny_model(tiny_whisper_dir)
    assert not any(p.requires_grad for p in m.parameters())  # built frozen (inference)
    m.set_trainable(True)
    trainable = {n for n, p in m.named_parameters() if p.requires_grad}
    assert "backbone.encoder.blocks.1.ffn.0.weight" in trainable and "head.weight" in trainable
    assert not any(n.startswith(("backbone.encoder.blocks.0.", "backbone.encoder.conv")) for n in trainable)
    with torch.no_grad():  # change a tuned weight and the head: the saved model must carry both
        m.backbone.encoder.blocks[1].ffn[0].weight.add_(0.5)
        m.head.bias.copy_(torch.arange(len(EMOTIONS), dtype=torch.float32))
    m.save(tmp_path / "m")
    from safetensors import safe_open

    with safe_open(str(tmp_path / "m" / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert "backbone.encoder.blocks.1.ffn.0.weight" in keys and "backbone.encoder.ln_post.weight" in keys
    assert not any(k.startswith(("backbone.encoder.blocks.0.", "backbone.encoder.conv", "backbone.encoder.positions")) for k in keys)
    loaded = load_model(tmp_path / "m", device="cpu")
    wav = torch.from_numpy(synth_speechlike(1.0))[None]
    with torch.inference_mode():
        torch.testing.assert_close(loaded(wav), m.eval()(wav))
    stock = tiny_model(tiny_whisper_dir)  # the lower block is the stock one, untouched by the first model's edits
    torch.testing.assert_close(loaded.backbone.encoder.blocks[0].ffn[0].weight, stock.backbone.encoder.blocks[0].ffn[0].weight)


def test_model_config_errors(tiny_whisper_dir):
    with pytest.raises(ModelError, match="tuned_layers"):
        tiny_model(tiny_whisper_dir, tuned=3)  # the tiny encoder has 2 blocks
    cfg = FinetunedWhisperModel.make_config(EMOTIONS, backbone="wav2vec2-base")
    with pytest.raises(ModelError, match="not a Whisper backbone"):
        FinetunedWhisperModel(cfg)


@pytest.mark.parametrize("pooling", ["layers", "weighted"])
def test_recipe_learns_saves_and_reloads(tmp_path, corpus, tiny_whisper_dir, pooling):
    c = TrainContext(cache=FeatureCache(tmp_path / "cache" / "features"), epochs=25,
                     options=tiny_options(tiny_whisper_dir, pooling=pooling))
    folds = make_folds("kfold-speaker", corpus, k=2)
    res = run_protocol(get_recipe("finetune"), corpus, folds, tmp_path / "out", c, protocol="kfold-speaker")
    assert res.metrics["ua"]["mean"] > 0.3  # chance 0.125
    meta = json.loads((tmp_path / "out" / "model" / "config.json").read_text())["meta"]
    history = meta["history"]
    assert all(r["seconds"] > 0 for r in history) and meta["best_epoch"] in [r["epoch"] for r in history]
    if pooling == "layers":  # the linear probe is validated first, as epoch 0, before any step
        assert meta["probe"] and history[0]["epoch"] == 0 and "train_loss" not in history[0] and "val_loss" in history[0]
        assert "layer_weights" not in meta
    else:
        assert not meta["probe"] and history[0]["epoch"] == 1
        assert len(meta["layer_weights"]) == 2 and abs(sum(meta["layer_weights"]) - 1) < 1e-3
    assert meta["temperature"] != 1.0  # fitted on the validation speakers
    assert list((tmp_path / "cache" / "noisy").iterdir())  # the white:10 copies were made and used
    loaded = load_model(tmp_path / "out" / "model", device="cpu")
    assert isinstance(loaded, FinetunedWhisperModel) and loaded.pooling == pooling
    assert float(loaded.temperature) == pytest.approx(meta["temperature"], abs=1e-4)
    p_recipe = get_recipe("finetune").predict_proba(res.final_model, corpus[:4], c)
    p_direct = np.stack([list(loaded.predict(u.path).scores.values()) for u in corpus[:4]])
    np.testing.assert_allclose(p_direct, p_recipe, atol=2e-3)  # the cache stores float16 states


def test_probe_is_the_start_of_fine_tuning(tmp_path, corpus, tiny_whisper_dir):
    """With nothing trained (both learning rates 0) the model is the linear probe: a standardised
    logistic regression on the frozen model's pooled features of the training clips."""
    from emomon.training.recipes.base import fit_standardised_logreg

    train = [u for u in corpus if u.speaker != corpus[0].speaker]
    opts = tiny_options(tiny_whisper_dir, lr=0.0, head_lr=0.0, dropout=0.0, val_fraction=0.0, calibrate=False, augment="")
    c = TrainContext(cache=FeatureCache(tmp_path / "cache"), epochs=1, options=opts)
    recipe = get_recipe("finetune")
    model = recipe.fit(train, c)
    frozen = recipe.template(c)
    with torch.inference_mode():
        lower = recipe.lower_states(train, frozen, c)
        x = np.stack([frozen.pooled(*lower.batch([i], torch.device("cpu")))[0].numpy() for i in range(len(train))])
    fit = fit_standardised_logreg(x, c.label_indices(train), len(EMOTIONS), 1.0)
    test = [u for u in corpus if u.speaker == corpus[0].speaker]
    with torch.inference_mode():
        lower = recipe.lower_states(test, frozen, c)
        xt = np.stack([frozen.pooled(*lower.batch([i], torch.device("cpu")))[0].numpy() for i in range(len(test))])
    expected = ((xt - fit["mean"]) / fit["std"]) @ fit["coef"].T + fit["intercept"]
    got = np.log(recipe.predict_proba(model, test, c))
    np.testing.assert_allclose(got - got.mean(1, keepdims=True), expected - expected.mean(1, keepdims=True), atol=1e-3)
    assert model.config.meta["probe"] and float(model.temperature) == 1.0


def test_pooling_and_layers_must_be_known(tiny_whisper_dir):
    cfg = FinetunedWhisperModel.make_config(EMOTIONS, backbone_source=str(tiny_whisper_dir), tuned_layers=1, pooling="max")
    with pytest.raises(ModelError, match="params.pooling"):
        FinetunedWhisperModel(cfg)
    for layers in ([2, 3, 4, 5, 6], [2, 1], []):  # the tiny encoder has states 0..2
        cfg = FinetunedWhisperModel.make_config(EMOTIONS, backbone_source=str(tiny_whisper_dir), tuned_layers=1, layers=layers)
        with pytest.raises(ModelError, match="params.layers"):
            FinetunedWhisperModel(cfg)
    assert tiny_model(tiny_whisper_dir).layers == [1, 2]  # none given: the tuned blocks' input and outputs


def test_recipe_refuses_babble_and_other_backbones(tmp_path, corpus, tiny_whisper_dir):
    folds = make_folds("kfold-speaker", corpus, k=2)
    for opts, match in (({"augment": "babble:0"}, "KIND white or pink"), ({"backbone": "wav2vec2-base"}, "whisper"),
                        ({"layers": [2, 3, 4, 5, 6]}, "params.layers: .* between 0 and 2"),
                        ({"tuned_layers": 3}, "tuned_layers")):
        c = TrainContext(cache=FeatureCache(tmp_path / "cache"), options=tiny_options(tiny_whisper_dir, **opts))
        with pytest.raises(DataError, match=match):
            run_protocol(get_recipe("finetune"), corpus, folds, tmp_path / "out", c, protocol="kfold-speaker")
    assert not (tmp_path / "cache").exists()  # refused before any feature was computed

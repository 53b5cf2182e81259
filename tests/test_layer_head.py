"""The default recipe end to end on a tiny random Whisper: folds, streamed decision, ECE, the
saved head (no backbone weights in it) and loading it back through the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from emomon.models import load_model
from emomon.training.protocols import make_folds
from emomon.training.recipes import get_recipe
from emomon.training.recipes.layer_head import window_batch
from emomon.training.runner import run_protocol
from conftest import make_tiny_whisper
from test_runner import corpus, ctx_for  # noqa: F401 - fixture

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory):
    return str(make_tiny_whisper(tmp_path_factory.mktemp("tiny-whisper")))


def test_training_windows_match_the_stream():
    sr = 16000
    x = np.arange(int(3.7 * sr), dtype=np.float32)
    w = window_batch(x, sr)
    # 3 s windows ending every 0.5 s (0.5 ... 3.5 s), then the tail at 3.7 s; front padded with zeros
    assert w.shape == (8, 3 * sr)
    assert np.all(w[0][: int(2.5 * sr)] == 0) and w[0][-1] == x[sr // 2 - 1]
    assert w[-1][-1] == x[-1]


def test_default_recipe_runs_and_saves_a_loadable_head(tmp_path, corpus, tiny_whisper):  # noqa: F811
    ctx = ctx_for(tmp_path, options={"backbone_source": tiny_whisper, "layers": [1, 2], "calib_folds": 2})
    folds = make_folds("kfold-speaker", corpus, k=2)
    res = run_protocol(get_recipe("default"), corpus, folds, tmp_path / "out", ctx, protocol="kfold-speaker", data="syn")
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["model"] == "default" and len(m["folds"]) == 2
    assert "streamed" in m and 0 <= m["streamed"]["ua"]["mean"] <= 1
    assert "streamed" in m["folds"][0] and 0 <= m["ece"]["mean"] <= 1
    assert "file" in m and 0 <= m["file"]["ua"]["mean"] <= 1 and "unanswered" in m["file"]
    assert m["extra"]["vad"]["method"] == "silero"
    assert m["extra"]["layers"] == [1, 2] and all(t > 0 for t in m["extra"]["temperatures"])
    # tones differing in pitch and loudness are easy even for random features
    assert m["ua"]["mean"] > 0.3

    model_dir = tmp_path / "out" / "model"
    saved = load_file(str(model_dir / "model.safetensors"))
    assert not any(k.startswith("backbone.") for k in saved)  # the frozen backbone is not copied
    assert set(saved) == {"feat_mean", "feat_scale", "temperature", "head.weight", "head.bias"}
    model = load_model(model_dir, device="cpu")
    pred = model.predict(corpus[5].path)
    assert pred.label in model.labels and sum(pred.scores.values()) == pytest.approx(1.0, abs=1e-5)
    # the loaded model reproduces the recipe's whole-clip probabilities
    ref = get_recipe("default").predict_proba(res.final_model, corpus[:4], ctx)
    from emomon.audio import decode_audio

    ours = np.stack([model.predict_proba(decode_audio(u.path, 16000)[None])[0] for u in corpus[:4]])
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_speaker_norm_mode_is_labelled_and_saves_no_model(tmp_path, corpus, tiny_whisper):  # noqa: F811
    ctx = ctx_for(tmp_path, mode="speaker-norm", options={"backbone_source": tiny_whisper, "layers": [2], "calibrate": False, "train_windows": False})
    folds = make_folds("kfold-speaker", corpus, k=2)
    m = run_protocol(get_recipe("default"), corpus, folds, tmp_path / "out", ctx, protocol="kfold-speaker").metrics
    assert m["mode"] == "speaker-norm" and m["final_model"] is None


def two_speakers(corpus, n=4):  # noqa: F811 - the fixture's value
    speakers = sorted({u.speaker for u in corpus})[:2]
    return [u for s in speakers for u in [v for v in corpus if v.speaker == s][:n]]


def test_noise_augmentation_adds_rows(tmp_path, corpus, tiny_whisper):  # noqa: F811
    recipe = get_recipe("default")
    corpus = two_speakers(corpus)
    base = ctx_for(tmp_path, options={"backbone_source": tiny_whisper, "layers": [2], "augment": "", "train_windows": False})
    x0, y0, _ = recipe.training_rows(corpus[:8], [2], base)
    aug = ctx_for(tmp_path, options={"backbone_source": tiny_whisper, "layers": [2], "augment": "white:10,pink:0,babble:0", "train_windows": False})
    x1, y1, s1 = recipe.training_rows(corpus[:8], [2], aug)
    assert len(x1) == 4 * len(x0) and list(y1) == list(y0) * 4
    assert not np.allclose(x1[8:16], x0)  # the noisy copies really differ
    assert not np.allclose(x1[24:32], x0)
    noisy_files = sorted((tmp_path / "noisy").rglob("*.flac"))
    assert len(noisy_files) == 24  # 8 clips x 3 conditions, written next to the feature cache


def test_babble_augmentation_draws_only_training_speakers(tmp_path, corpus, tiny_whisper, monkeypatch):  # noqa: F811
    from emomon.training.recipes import layer_head

    pools = []
    real = layer_head.noisy_copies

    def spy(utts, kind, snr, dest, pool=(), seed=0):
        pools.append((kind, [u.id for u in pool]))
        return real(utts, kind, snr, dest, pool=pool, seed=seed)

    monkeypatch.setattr(layer_head, "noisy_copies", spy)
    train = two_speakers([u for u in corpus if u.speaker != corpus[0].speaker])
    ctx = ctx_for(tmp_path, options={"backbone_source": tiny_whisper, "layers": [2], "augment": "babble:10", "train_windows": False})
    get_recipe("default").training_rows(train, [2], ctx)
    assert pools and all(kind == "babble" for kind, _ in pools)
    assert all(set(ids) == {u.id for u in train} for _, ids in pools)  # the corpus (test speakers) is never the pool
    pools.clear()  # one speaker: no babble to draw, so none is made (and nothing fails)
    x, _, _ = get_recipe("default").training_rows(train[:4], [2], ctx)
    assert pools == [] and len(x) == 4


@pytest.mark.parametrize("spec", ["brown:10", "babble", "white:loud"])
def test_bad_augment_spec_is_a_data_error(tmp_path, corpus, tiny_whisper, spec):  # noqa: F811
    from emomon.errors import DataError

    bad = ctx_for(tmp_path, options={"backbone_source": tiny_whisper, "augment": spec})
    with pytest.raises(DataError, match="KIND:LEVEL"):
        get_recipe("default").training_rows(corpus[:2], [2], bad)


def test_bad_augment_spec_fails_before_any_work(tmp_path, corpus, tiny_whisper):  # noqa: F811
    from emomon.errors import DataError

    ctx = ctx_for(tmp_path, options={"backbone_source": tiny_whisper, "augment": "pink"})
    with pytest.raises(DataError, match="KIND:LEVEL"):
        run_protocol(get_recipe("default"), corpus, make_folds("kfold-speaker", corpus, k=2), tmp_path / "out", ctx, protocol="kfold-speaker")
    assert not list(tmp_path.rglob("*.npy")) and not (tmp_path / "out").exists()  # no feature computed, no OUT made


def test_adaptive_recipe_reports_the_online_curve_apart_and_saves_an_adaptive_model(tmp_path, corpus, tiny_whisper):  # noqa: F811
    ctx = ctx_for(tmp_path, options={"backbone_source": tiny_whisper, "layers": [1, 2], "adapt": True, "prior_weight": 4, "augment": ""})
    res = run_protocol(get_recipe("default"), corpus, make_folds("kfold-speaker", corpus, k=2), tmp_path / "out", ctx, protocol="kfold-speaker")
    r = res.results
    assert r.mode == "strict" and r.extra["adapt"] is True and r.extra["prior_weight"] == 4
    oa = r.online_adaptive
    assert oa is not None and oa.mode == "online-adaptive"
    # 16 clips per speaker: no clip is classified after 20 heard, so that point is absent
    assert [p.heard for p in oa.points] == ["0", "5", "10", "all"]
    assert all(set(f.online) == {"0", "5", "10", "all"} for f in r.folds)
    # heard = 0 is the prior alone: the strict decision of every clip
    assert oa.point("0").ua.mean == pytest.approx(r.ua.mean, abs=1e-6)
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["mode"] == "strict" and m["online_adaptive"]["mode"] == "online-adaptive"

    model = load_model(tmp_path / "out" / "model")
    assert model.adaptive and model.config.params["speaker_norm"] == {"prior_weight": 4.0, "unadapted_head": True}
    assert model.has_unadapted_head and len(r.extra["unadapted_temperatures"]) == 3  # two folds and the final model
    adapter = model.new_adapter()
    assert adapter.prior_weight == 4.0 and np.all(adapter.prior_var > 0) and np.any(adapter.prior_mean != 0)
    x = np.stack([w for w in window_batch(np.sin(np.arange(48000) / 9.0).astype(np.float32), 16000)[:3]])
    a = model.new_adapter()
    first = model.predict_proba_adapted(x, [a, a, a], [3.0, 0.5, 0.5])
    assert a.heard.count == 3 and a.heard.seconds == pytest.approx(4.0)
    # row 0 saw nothing: the prior, i.e. what the plain model says
    assert np.allclose(first[0], model.predict_proba(x[:1])[0], atol=1e-5)
    # after two windows the statistics (and the logits) move away from the prior's
    with torch.inference_mode():
        feats = model.features(torch.from_numpy(x[2:3]))
        assert not torch.allclose(model.classify_features(feats, a.state()), model.classify_features(feats), atol=1e-3)


def test_calibration_split_by_speaker_by_corpus_or_both(tmp_path):
    recipe = get_recipe("default")
    speakers = np.array(["ravdess:01", "ravdess:02", "emodb:03", "savee:DC", "ravdess:01", "emodb:08", "ravdess:03"])

    def partitions(**options):
        return recipe._calibration_partitions(speakers if "rows" not in options else options.pop("rows"), ctx_for(tmp_path, options=options))

    [by_corpus] = partitions(calib_split="corpus")
    # each corpus held out once, every row held out exactly once
    assert [sorted({s.split(":")[0] for s in speakers[m]}) for m in by_corpus] == [["emodb"], ["ravdess"], ["savee"]]
    assert np.array_equal(np.sum(by_corpus, axis=0), np.ones(len(speakers)))
    [by_speaker] = partitions(calib_split="speaker", calib_folds=3)
    assert len(by_speaker) == 3 and np.array_equal(np.sum(by_speaker, axis=0), np.ones(len(speakers)))
    for m in by_speaker:  # a speaker's rows are never split between parts
        assert not set(speakers[m]) & set(speakers[~m])
    # both: the speaker split and the corpus split, each covering every row once
    both = partitions(calib_split="both", calib_folds=3)
    assert len(both) == 2
    assert all(np.array_equal(a, b) for a, b in zip(both[0], by_speaker)) and all(np.array_equal(a, b) for a, b in zip(both[1], by_corpus))
    # one corpus: the corpus split (and both) fall back to groups of speakers
    one = speakers[np.char.startswith(speakers.astype(str), "ravdess")]
    for split in ("corpus", "both"):
        [parts] = partitions(rows=one, calib_split=split, calib_folds=2)
        assert len(parts) == 2

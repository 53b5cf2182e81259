"""The ``distill`` recipe: soft-target heads (:func:`fit_soft_logreg`), the teacher's targets, and
the recipe end to end on tiny random Whispers (teacher and student of different sizes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from emomon.errors import DataError
from emomon.models import load_model
from emomon.training.protocols import make_folds
from emomon.training.recipes import get_recipe, recipe_names
from emomon.training.recipes.base import fit_soft_logreg, fit_standardised_logreg
from emomon.training.recipes.distill import soft_targets
from emomon.training.runner import run_protocol
from test_runner import corpus, ctx_for  # noqa: F401 - fixture

transformers = pytest.importorskip("transformers")


def _proba(head: dict, x: np.ndarray) -> np.ndarray:
    z = (x - head["mean"]) / head["std"] @ head["coef"].T + head["intercept"]
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _blobs(n: int = 300, d: int = 12, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    return rng.normal(size=(k, d))[y] * 0.8 + rng.normal(size=(n, d)), y


def test_one_hot_targets_give_sklearns_head():
    x, y = _blobs()
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    ref = fit_standardised_logreg(x, y, 4, c=0.5, sample_weight=w)
    ours = fit_soft_logreg(x, np.eye(4)[y], c=0.5, sample_weight=w)
    np.testing.assert_allclose(_proba(ours, x), _proba(ref, x), atol=5e-3)


def test_soft_targets_are_learned():
    x, y = _blobs()
    uniform = fit_soft_logreg(x, np.full((len(y), 4), 0.25), c=10.0)
    assert np.abs(_proba(uniform, x) - 0.25).max() < 0.02  # nothing to learn but the uniform answer
    half = fit_soft_logreg(x, soft_targets(np.zeros((len(y), 4)), y, 0.5, 1.0), c=10.0)
    hard = fit_soft_logreg(x, np.eye(4)[y], c=10.0)
    # half of each target uniform: the head is less sure of the labels than the hard one
    assert _proba(half, x)[np.arange(len(y)), y].mean() < _proba(hard, x)[np.arange(len(y)), y].mean() - 0.1


def test_bad_targets_are_refused():
    x, y = _blobs(n=20)
    with pytest.raises(ValueError, match="rows of probabilities"):
        fit_soft_logreg(x, np.ones((20, 4)))
    with pytest.raises(ValueError):
        fit_soft_logreg(x, np.eye(4)[y][:10])


def test_soft_targets_mix_teacher_and_labels():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 3.0]])
    y = np.array([0, 1])
    t = soft_targets(logits, y, 0.5, 2.0)
    np.testing.assert_allclose(t.sum(axis=1), 1.0)
    np.testing.assert_allclose(soft_targets(logits, y, 0.0, 2.0), np.eye(3)[y])
    warm = soft_targets(logits, y, 1.0, 4.0)
    cold = soft_targets(logits, y, 1.0, 1.0)
    assert warm[0].max() < cold[0].max() and cold[1].argmax() == 2  # the teacher may disagree with the label


@pytest.fixture(scope="module")
def two_whispers(tmp_path_factory):
    from conftest import tiny_whisper

    student = tmp_path_factory.mktemp("student")
    tiny_whisper().save_pretrained(student, safe_serialization=True)
    cfg = tiny_whisper().config
    cfg.d_model, cfg.encoder_ffn_dim = 24, 48  # a wider teacher, other random weights
    torch.manual_seed(1)
    teacher = tmp_path_factory.mktemp("teacher")
    transformers.WhisperModel(cfg).save_pretrained(teacher, safe_serialization=True)
    return str(teacher), str(student)


def test_distill_is_a_recipe():
    assert "distill" in recipe_names()
    opts = {o.name: o.default for o in get_recipe("distill").options}
    assert opts["backbone"] == "whisper-tiny.en" and opts["layers"] == [1, 2, 3, 4]
    assert opts["teacher_backbone"] == "whisper-base" and opts["teacher_layers"] == [2, 3, 4, 5, 6]


def test_distill_weight_above_one_is_refused(tmp_path, corpus):  # noqa: F811
    ctx = ctx_for(tmp_path, options={"distill_weight": 1.5})
    with pytest.raises(DataError, match="distill_weight"):
        run_protocol(get_recipe("distill"), corpus, make_folds("kfold-speaker", corpus, k=2), tmp_path / "out", ctx, protocol="kfold-speaker")


def _fit_one(tmp_path, corpus, two_whispers, recipe: str, **options):  # noqa: F811
    teacher, student = two_whispers
    # strongly regularised and uncalibrated: the tones are separable, and saturated heads would all agree
    opts = {"backbone_source": student, "layers": [1, 2], "augment": "white:10", "C": 0.01, "calibrate": False, **options}
    if recipe == "distill":
        opts.update(teacher_source=teacher, teacher_layers=[1, 2])
    else:
        opts["backbone"] = "whisper-tiny.en"
    r = get_recipe(recipe)
    ctx = ctx_for(tmp_path, options=opts)
    r.validate(ctx)
    fold = make_folds("kfold-speaker", corpus, k=2)[0]
    model = r.fit(list(fold.train), ctx)
    return r.predict_proba(model, list(fold.test), ctx), r, ctx


def test_weight_zero_is_the_default_recipe_and_the_teacher_moves_the_student(tmp_path, corpus, two_whispers):  # noqa: F811
    plain, _, _ = _fit_one(tmp_path, corpus, two_whispers, "default")
    hard, _, _ = _fit_one(tmp_path, corpus, two_whispers, "distill", distill_weight=0.0)
    np.testing.assert_allclose(hard, plain, atol=2e-2)  # labels alone: the default recipe's head (another optimiser)
    soft, r, ctx = _fit_one(tmp_path, corpus, two_whispers, "distill", distill_weight=1.0)
    assert np.abs(soft - plain).max() > 0.05
    facts = r.extra(ctx)["distill"]
    assert facts["weight"] == 1.0 and len(facts["teacher_train_accuracy"]) == 1 and 0 < facts["teacher_train_accuracy"][0] <= 1


def test_distilled_model_saves_as_an_ordinary_student(tmp_path, corpus, two_whispers):  # noqa: F811
    teacher, student = two_whispers
    ctx = ctx_for(tmp_path, options={"backbone_source": student, "layers": [1, 2], "teacher_source": teacher, "teacher_layers": [1, 2],
                                     "augment": "", "adapt": True, "prior_weight": 4})
    run_protocol(get_recipe("distill"), corpus, make_folds("kfold-speaker", corpus, k=2), tmp_path / "out", ctx, protocol="kfold-speaker")
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["model"] == "distill" and m["extra"]["distill"]["teacher_layers"] == [1, 2]
    assert len(m["extra"]["distill"]["teacher_train_accuracy"]) == 3  # two folds and the final model
    model = load_model(tmp_path / "out" / "model")
    assert model.config.architecture == "layer-head" and model.config.params["backbone"] == "whisper-tiny.en"
    assert model.config.meta["head"]["distill"]["weight"] == 0.5 and model.adaptive
    pred = model.predict(corpus[3].path)
    assert pred.label in model.labels

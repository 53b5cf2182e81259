"""Label-shift corrections without labels (emomon.models.priors) and the training's balanced weights."""

from __future__ import annotations

import numpy as np
import pytest

from emomon.models.priors import balance_priors, em_priors, reweight
from emomon.training.balance import balanced_weights, corpus_of


def _posteriors(true_prior: np.ndarray, train_prior: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clips drawn under ``true_prior`` from three well-separated 1-D Gaussians, and the Bayes
    posteriors of a classifier that learnt the class-conditional densities under ``train_prior``."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=true_prior)
    x = rng.normal(loc=np.array([-2.0, 0.0, 2.0])[y], scale=1.0)
    lik = np.exp(-0.5 * (x[:, None] - np.array([-2.0, 0.0, 2.0])) ** 2)
    post = lik * train_prior
    return post / post.sum(axis=1, keepdims=True), y


def test_em_recovers_a_shifted_prior_and_helps_accuracy():
    train, true = np.array([1 / 3, 1 / 3, 1 / 3]), np.array([0.7, 0.2, 0.1])
    post, y = _posteriors(true, train, 4000)
    est = em_priors(post, train)
    assert est == pytest.approx(true, abs=0.04)
    before = (post.argmax(1) == y).mean()
    after = (reweight(post, train, est).argmax(1) == y).mean()
    assert after > before + 0.02


def test_em_keeps_the_training_prior_when_nothing_shifted_or_nothing_heard():
    train = np.array([0.5, 0.3, 0.2])
    post, _ = _posteriors(train, train, 6000, seed=1)
    assert em_priors(post, train) == pytest.approx(train, abs=0.03)
    assert em_priors(np.zeros((0, 3)), train) == pytest.approx(train)


def test_shrinkage_pulls_a_short_session_towards_the_training_prior():
    train, true = np.array([1 / 3, 1 / 3, 1 / 3]), np.array([0.8, 0.1, 0.1])
    post, _ = _posteriors(true, train, 10, seed=2)
    free, shrunk = em_priors(post, train), em_priors(post, train, weight=50.0)
    assert abs(shrunk[0] - train[0]) < abs(free[0] - train[0])


def test_balance_spreads_a_collapsed_session_back_to_the_training_prior():
    train = np.array([1 / 3, 1 / 3, 1 / 3])
    rng = np.random.default_rng(3)
    # a biased model: class 2's logit is 2 nats too high on every clip of a balanced session
    y = np.repeat(np.arange(3), 200)
    logits = rng.normal(size=(600, 3)) + 3.0 * np.eye(3)[y]
    logits[:, 2] += 2.5
    post = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert (post.argmax(1) == 2).mean() > 0.5  # collapsed onto class 2
    prior = balance_priors(post, train)
    fixed = reweight(post, train, prior)
    assert fixed.mean(axis=0) == pytest.approx(train, abs=1e-3)
    assert (fixed.argmax(1) == 2).mean() < 0.45 and (fixed.argmax(1) == y).mean() > (post.argmax(1) == y).mean()
    # EM believes the bias: it raises class 2's prior further
    assert em_priors(post, train)[2] > 1 / 3


def test_reweight_by_the_training_prior_changes_nothing():
    post = np.array([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05]])
    assert reweight(post, [0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == pytest.approx(post)


def test_balanced_weights_equal_corpora_and_their_classes():
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1, 1, 2])
    corpora = np.array(["a"] * 4 + ["b"] * 6)
    w = balanced_weights(y, corpora, "corpus-class")
    assert w.mean() == pytest.approx(1.0)
    assert w[corpora == "a"].sum() == pytest.approx(w[corpora == "b"].sum())
    assert w[(corpora == "a") & (y == 0)].sum() == pytest.approx(w[(corpora == "a") & (y == 1)].sum())
    assert w[(corpora == "b") & (y == 2)].sum() == pytest.approx(w[(corpora == "b") & (y == 1)].sum())
    cls = balanced_weights(y, corpora, "class")
    assert [cls[y == k].sum() for k in range(3)] == pytest.approx([10 / 3] * 3)
    assert balanced_weights(y, corpora, "none") == pytest.approx(np.ones(10))
    with pytest.raises(ValueError, match="balance"):
        balanced_weights(y, corpora, "speaker")


def test_corpus_of_speaker_ids():
    assert list(corpus_of(["ravdess:01", "emodb:03", "savee:DC"])) == ["ravdess", "emodb", "savee"]


def test_default_recipe_weighs_its_rows_by_the_balance_option(tmp_path):
    from emomon.training.cache import FeatureCache
    from emomon.training.recipes import get_recipe
    from emomon.training.recipes.base import TrainContext

    recipe = get_recipe("default")
    y = np.array([0, 0, 0, 1, 2, 2])
    speakers = np.array(["ravdess:01", "ravdess:01", "ravdess:02", "ravdess:02", "emodb:03", "emodb:03"])
    ctx = TrainContext(cache=FeatureCache(tmp_path), options={"balance": "corpus-class"})
    w = recipe._weights(y, speakers, ctx)
    assert w[:4].sum() == pytest.approx(w[4:].sum()) and w[0] == pytest.approx(w[3] / 3)
    assert recipe._weights(y, speakers, TrainContext(cache=FeatureCache(tmp_path))) is None  # the default: every row alike


def test_answer_balance_spreads_a_session_that_piles_onto_one_class():
    from emomon.models.priors import AnswerBalance

    train = np.array([0.25, 0.25, 0.25, 0.25])
    piled = np.array([0.55, 0.15, 0.15, 0.15])  # a voice the model calls class 0 whatever is said
    bal = AnswerBalance(train, history=20, weight=5.0)
    first = bal.answer(piled)
    np.testing.assert_allclose(first, piled)  # nothing heard yet: the model's own answer
    for _ in range(30):
        out = bal.answer(piled)
    assert bal.heard == 20  # the history is bounded
    assert out[0] < piled[0] - 0.1 and abs(out.sum() - 1) < 1e-9
    np.testing.assert_allclose(bal.prior().sum(), 1.0)


def test_answer_balance_refuses_bad_settings():
    from emomon.models.priors import AnswerBalance

    with pytest.raises(ValueError):
        AnswerBalance([0.5, 0.5], history=0, weight=1.0)


def test_balanced_answers_use_only_the_clips_before():
    from emomon.training.adaptation import balanced_answers, stream_order

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=12)
    sessions = ["a"] * 6 + ["b"] * 6
    out = balanced_answers(probs, sessions, 0, np.full(4, 0.25), history=3, weight=1.0)
    pos = stream_order(sessions, 0)
    first = [i for i in range(12) if pos[i] == 0]
    np.testing.assert_allclose(out[first], probs[first])  # each session's first clip is untouched
    assert np.abs(out - probs).max() > 1e-3

"""The cross-validation runner (and per-speaker normalisation) on a synthetic corpus.

:func:`write_synthetic_ravdess` is also used by the other training tests: tones whose pitch,
loudness and length depend on the emotion (and a little on the speaker), named like RAVDESS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

from emomon.errors import DataError
from emomon.labels import EMOTIONS
from emomon.models import load_model
from emomon.records import Utterance
from emomon.training.cache import FeatureCache
from emomon.training.corpora import read_ravdess
from emomon.training.normalize import apply_speaker_norm, mode_from_option, normalize_by_speaker, speaker_stats
from emomon.training.protocols import make_folds
from emomon.training.recipes.base import Recipe, TrainContext, parse_options
from emomon.training.runner import run_protocol

SR = 16000


def write_synthetic_ravdess(root: Path, speakers: int = 4, reps: int = 2, sr: int = SR) -> Path:
    """RAVDESS-named wav tones: emotion e → length 0.5+0.1e s, pitch 120·1.15^e Hz, amplitude 0.05+0.05e."""
    import soundfile as sf

    for a in range(1, speakers + 1):
        d = root / f"Actor_{a:02d}"
        d.mkdir(parents=True, exist_ok=True)
        for e in range(len(EMOTIONS)):
            for r in range(reps):
                rng = np.random.default_rng(a * 1000 + e * 10 + r)
                t = np.arange(int(sr * (0.5 + 0.1 * e + 0.04 * rng.random()))) / sr
                f0 = 120 * (1.15**e) * (1 + 0.02 * a)
                x = (0.05 + 0.05 * e) * np.sin(2 * np.pi * f0 * t) + 0.005 * rng.standard_normal(len(t))
                sf.write(d / f"03-01-{e + 1:02d}-01-{r % 2 + 1:02d}-{r // 2 + 1:02d}-{a:02d}.wav", x.astype(np.float32), sr)
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Utterance]:
    return read_ravdess(write_synthetic_ravdess(tmp_path_factory.mktemp("syn")))


class OracleRecipe(Recipe):
    """Predicts from the file name (fast, perfect): exercises the runner, not learning."""

    name = "baseline"  # saved via the baseline architecture so the final model loads

    def fit(self, train, ctx):
        from emomon.training.recipes.baseline import BaselineRecipe

        return BaselineRecipe().fit(train, ctx)

    def predict_proba(self, model, utts: Sequence[Utterance], ctx) -> np.ndarray:
        p = np.zeros((len(utts), len(ctx.labels)))
        p[np.arange(len(utts)), ctx.label_indices(utts)] = 1.0
        return p


def ctx_for(tmp_path, **kw) -> TrainContext:
    return TrainContext(cache=FeatureCache(tmp_path / "cache"), **kw)


def test_run_writes_contract(tmp_path, corpus):
    folds = make_folds("kfold-speaker", corpus, k=2)
    res = run_protocol(OracleRecipe(), corpus, folds, tmp_path / "out", ctx_for(tmp_path), protocol="kfold-speaker", data="syn")
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    for key in ("model", "protocol", "speaker_independent", "mode", "labels", "data", "n_utterances", "ua", "wa", "f1", "per_class_recall",
                "folds", "confusion", "num_parameters", "train_seconds", "cpu_ms_per_clip", "cpu_ms_per_window", "final_model", "created", "emomon_version", "extra"):
        assert key in m, key
    assert m["speaker_independent"] is True and m["mode"] == "strict" and m["protocol"] == "kfold-speaker"
    assert m["ua"] == {"mean": 1.0, "std": 0.0} and m["wa"]["mean"] == 1.0
    assert m["labels"] == list(EMOTIONS) and m["n_utterances"] == len(corpus)
    assert len(m["folds"]) == 2 and sum(f["n_test"] for f in m["folds"]) == len(corpus)
    assert np.trace(np.array(m["confusion"])) == len(corpus)
    assert m["cpu_ms_per_clip"] > 0 and m["cpu_ms_per_window"] > 0 and m["num_parameters"] == 24
    lines = [json.loads(s) for s in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == len(corpus) and set(lines[0]) == {"id", "speaker", "corpus", "fold", "true", "pred", "scores"}
    assert (tmp_path / "out" / "confusion.png").stat().st_size > 1000
    assert m["final_model"] == "model"
    model = load_model(tmp_path / "out" / "model", device="cpu")
    assert model.predict(corpus[0].path).label in EMOTIONS
    assert res.metrics == m


def test_refuses_overwrite_without_force(tmp_path, corpus):
    folds = make_folds("kfold-speaker", corpus, k=2)
    out = tmp_path / "out"
    run_protocol(OracleRecipe(), corpus, folds, out, ctx_for(tmp_path), protocol="kfold-speaker", final=False)
    assert json.loads((out / "metrics.json").read_text())["final_model"] is None
    with pytest.raises(DataError):
        run_protocol(OracleRecipe(), corpus, folds, out, ctx_for(tmp_path), protocol="kfold-speaker", final=False)
    run_protocol(OracleRecipe(), corpus, folds, out, ctx_for(tmp_path), protocol="kfold-speaker", force=True)
    assert (out / "model" / "config.json").is_file()


def test_random_protocol_labelled_everywhere(tmp_path, corpus):
    folds = make_folds("random", corpus, k=2)
    run_protocol(OracleRecipe(), corpus, folds, tmp_path / "out", ctx_for(tmp_path), protocol="random", final=False)
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["speaker_independent"] is False and m["protocol_label"] == "speaker-dependent"
    line = json.loads((tmp_path / "out" / "predictions.jsonl").read_text().splitlines()[0])
    assert line["split"] == "speaker-dependent"


def test_speaker_norm_mode(tmp_path, corpus):
    folds = make_folds("kfold-speaker", corpus, k=2)
    ctx = ctx_for(tmp_path, mode="speaker-norm", all_utterances=corpus)
    from emomon.training.recipes.baseline import BaselineRecipe

    m = run_protocol(BaselineRecipe(), corpus, folds, tmp_path / "out", ctx, protocol="kfold-speaker").metrics
    assert m["mode"] == "speaker-norm" and m["final_model"] is None  # needs the speaker's statistics
    assert 0.0 <= m["ua"]["mean"] <= 1.0


def test_speaker_norm_refused_by_unsupporting_recipe(tmp_path, corpus):
    class Plain(OracleRecipe):
        supports_speaker_norm = False

    with pytest.raises(DataError):
        run_protocol(Plain(), corpus, make_folds("loso", corpus), tmp_path / "o", ctx_for(tmp_path, mode="speaker-norm"), protocol="loso")


def test_speaker_stats_and_apply():
    rng = np.random.default_rng(0)
    feats = [rng.normal(5, 2, (10, 3)) for _ in range(4)] + [rng.normal(-1, 0.5, 3) for _ in range(50)]
    spk = ["a"] * 4 + ["b"] * 50
    stats = speaker_stats(feats, spk)
    assert stats["a"].mean.shape == (3,)
    out = normalize_by_speaker(feats, spk, stats)
    rows_b = np.stack(out[4:])
    np.testing.assert_allclose(rows_b.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(rows_b.std(0), 1, atol=1e-4)
    np.testing.assert_allclose(np.concatenate(out[:4]).mean(0), 0, atol=1e-5)
    assert apply_speaker_norm(np.array([1.0, 2.0, 3.0]), stats["b"]).dtype == np.float32
    with pytest.raises(KeyError):
        normalize_by_speaker(feats[:1], ["zzz"], stats)
    assert mode_from_option("speaker") == "speaker-norm" and mode_from_option("strict") == "strict"
    with pytest.raises(ValueError):
        mode_from_option("global")


def test_parse_options_and_ctx_option(tmp_path):
    opts = parse_options(["lr=0.01", "backbone=facebook/wav2vec2-base", "layers=[1,2]", "calibrate=false"])
    assert opts == {"lr": 0.01, "backbone": "facebook/wav2vec2-base", "layers": [1, 2], "calibrate": False}
    from emomon.training.recipes import get_recipe

    ctx = ctx_for(tmp_path, options={"epochs": "3", "lr": "0.5"})
    get_recipe("transformer").validate(ctx)  # typed by the recipe's declared options
    assert ctx.option("epochs") == 3 and ctx.option("lr") == 0.5 and ctx.option("batch_size") == 32
    assert ctx.option("missing", 1.5) == 1.5
    with pytest.raises(ValueError):
        parse_options(["novalue"])


class HedgingRecipe(OracleRecipe):
    """Right label at 0.6 on even clips, a wrong one at 0.6 on odd clips: 50 % accurate at 60 % confidence."""

    def predict_proba(self, model, utts: Sequence[Utterance], ctx) -> np.ndarray:
        y = ctx.label_indices(utts)
        top = np.where(np.arange(len(utts)) % 2 == 0, y, (y + 1) % len(ctx.labels))
        p = np.full((len(utts), len(ctx.labels)), 0.4 / (len(ctx.labels) - 1))
        p[np.arange(len(utts)), top] = 0.6
        return p


def test_ece_per_fold_pooled_and_its_floor(tmp_path, corpus):
    from emomon.training.calibration import ece_floor, expected_calibration_error

    folds = make_folds("kfold-speaker", corpus, k=2)
    m = run_protocol(HedgingRecipe(), corpus, folds, tmp_path / "out", ctx_for(tmp_path), protocol="kfold-speaker", final=False).metrics
    # every clip sits in the 0.6 bin and half are right: ECE 0.1, in each fold and pooled
    assert m["ece"]["mean"] == pytest.approx(0.1) and m["ece_pooled"] == pytest.approx(0.1)
    assert all(f["ece"] == pytest.approx(0.1) and 0 < f["ece_floor"] < 0.2 for f in m["folds"])
    # the floor: what labels drawn from the model's own probabilities give (a calibrated model), smaller on more clips
    p = np.full((len(corpus), 8), 0.4 / 7)
    p[:, 0] = 0.6
    assert m["ece_floor"] == pytest.approx(ece_floor(p), abs=0.02)  # a seeded estimate: the same up to which column is on top
    rng = np.random.default_rng(0)
    many = np.tile(p, (50, 1))
    assert ece_floor(many) < ece_floor(p) / 3
    calibrated = expected_calibration_error(many, np.where(rng.random(len(many)) < 0.6, 0, 1 + rng.integers(0, 7, len(many))))
    assert calibrated == pytest.approx(ece_floor(many), abs=0.02)


def test_metrics_and_predictions_are_strict_json(tmp_path):
    """A NaN or infinity anywhere in a run's results is written as null, never as NaN/Infinity."""
    import json as _json

    from emomon.records import dumps

    text = dumps({"ua": {"mean": float("nan"), "std": float("inf")}, "folds": [{"ece": -float("inf")}]}, indent=2)
    assert _json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in strict JSON")) == {
        "ua": {"mean": None, "std": None}, "folds": [{"ece": None}]}


def test_results_carry_the_collapse_measure_through_json():
    from emomon.training.metrics import Collapse, compute_metrics
    from emomon.training.results import FoldResult, Row

    m = compute_metrics([0, 1, 2, 3, 0, 1], [2, 2, 2, 2, 2, 1], ["neutral", "happy", "sad", "angry"])
    row = Row.of(m)
    back = Row.parse(json.loads(json.dumps(row.to_dict())))
    assert back.collapse == Collapse("sad", round(5 / 6, 6), round(m.collapse.entropy, 6), 2.0)
    fold = FoldResult("f", ["s"], 10, 6, 0.1, 0.2, 0.1, collapse=m.collapse)
    assert FoldResult.parse(json.loads(json.dumps(fold.to_dict()))).collapse.label == "sad"
    assert Row.parse({"ua": 0.5}).collapse is None  # a metrics.json written before the measure

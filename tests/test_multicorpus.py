"""Several corpora in one run: ``--data NAME=DIR``, the emobox/loco/pairs protocols, per-corpus rows,
the online-adaptive evaluation and the typed results. Corpora are synthesized here (tones named
like EmoDB and SAVEE clips), so no ../shared is needed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from emomon.errors import DataError
from emomon.models.adapt import FeatureStats, SpeakerAdapter, heard_weight, shrunk_mean_std, shrunk_state
from emomon.training.adaptation import fit_speaker_norm, online_points, partial_speaker_norm, stream_order
from emomon.training.cli import load_corpora, parse_data_spec, train
from emomon.training.protocols import CROSS_CORPUS_LABELS, make_folds
from emomon.training.results import RunResults
from test_runner import write_synthetic_ravdess

SR = 16000
EMODB_CODES = {"angry": "W", "happy": "F", "neutral": "N", "sad": "T", "fearful": "A", "disgust": "E", "boredom": "L"}
SAVEE_CODES = {"angry": "a", "happy": "h", "neutral": "n", "sad": "sa", "fearful": "f", "disgust": "d", "surprised": "su"}
PITCH = {"angry": 5, "happy": 4, "neutral": 0, "sad": 1, "fearful": 6, "disgust": 2, "surprised": 7, "boredom": 3}


def _tone(path: Path, e: int, speaker: int, seed: int) -> None:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * (0.5 + 0.1 * e))) / SR
    x = (0.05 + 0.05 * e) * np.sin(2 * np.pi * 120 * 1.15**e * (1 + 0.02 * speaker) * t) + 0.005 * rng.standard_normal(len(t))
    sf.write(path, x.astype(np.float32), SR)


def write_synthetic_emodb(root: Path, speakers=(3, 8, 9), reps: int = 2) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for s in speakers:
        for lab, code in EMODB_CODES.items():
            for r in range(reps):
                _tone(root / f"{s:02d}a0{r + 1}{code}a.wav", PITCH[lab], s, s * 100 + PITCH[lab] * 10 + r)
    return root


def write_synthetic_savee(root: Path, speakers=("DC", "JE"), reps: int = 2) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for k, s in enumerate(speakers):
        for lab, code in SAVEE_CODES.items():
            for r in range(reps * (2 if lab == "neutral" else 1)):
                _tone(root / f"{s}_{code}{r + 1:02d}.wav", PITCH[lab], k + 1, k * 100 + PITCH[lab] * 10 + r)
    return root


@pytest.fixture(scope="module")
def dirs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("multi")
    return {
        "ravdess": write_synthetic_ravdess(base / "ravdess", speakers=24, reps=1),
        "emodb": write_synthetic_emodb(base / "emodb"),
        "savee": write_synthetic_savee(base / "savee"),
    }


@pytest.fixture(scope="module")
def utts(dirs):
    return load_corpora([f"{k}={v}" for k, v in dirs.items()])


def test_data_specs(dirs, caplog):
    assert parse_data_spec(f"emo-db={dirs['emodb']}", "ravdess") == ("emodb", dirs["emodb"])
    assert parse_data_spec(str(dirs["ravdess"]), "ravdess") == ("ravdess", dirs["ravdess"])
    with pytest.raises(DataError, match="unknown corpus"):
        parse_data_spec(f"nosuch={dirs['emodb']}", "ravdess")
    with pytest.raises(DataError, match="already given"):
        load_corpora([str(dirs["ravdess"]), f"ravdess={dirs['ravdess']}"])
    with caplog.at_level("WARNING"):
        u = load_corpora([f"emodb={dirs['emodb']}"])
    assert {x.corpus for x in u} == {"emodb"} and all(x.emotion != "boredom" for x in u)
    assert "skipped 6 clips: boredom" in caplog.text  # 3 speakers x 2 takes, counted in the log


def test_each_clip_keeps_corpus_and_speaker(utts):
    assert Counter(u.corpus for u in utts) == {"ravdess": 24 * 8, "emodb": 3 * 6 * 2, "savee": 2 * (6 * 2 + 4)}
    assert all(u.speaker.startswith(u.corpus + ":") for u in utts)


def test_emobox_adds_other_corpora_to_training_only(utts):
    folds = make_folds("emobox", utts)
    assert len(folds) == 6
    for f in folds:
        assert {u.corpus for u in f.test} == {"ravdess"} and len(f.test_speakers) == 4
        assert {u.corpus for u in f.train} == {"ravdess", "emodb", "savee"}
        assert not {u.speaker for u in f.train} & set(f.test_speakers)
    assert sorted(s for f in folds for s in f.test_speakers) == sorted({u.speaker for u in utts if u.corpus == "ravdess"})


def test_loco_leaves_each_corpus_out(utts):
    folds = make_folds("loco", utts)
    assert [f.id for f in folds] == ["emodb", "ravdess", "savee"]
    for f in folds:
        assert {u.corpus for u in f.test} == {f.id} and f.id not in {u.corpus for u in f.train}
        assert len(f.test) == sum(u.corpus == f.id for u in utts)
    with pytest.raises(DataError, match="at least 2 corpora"):
        make_folds("loco", [u for u in utts if u.corpus == "emodb"])


def test_pairs_four_classes_balanced(utts):
    four = [u for u in utts if u.emotion in CROSS_CORPUS_LABELS]
    folds = make_folds("pairs", four)
    assert len(folds) == 6 and "savee_to_ravdess" in {f.id for f in folds}
    for f in folds:
        a, b = f.id.split("_to_")
        assert {u.corpus for u in f.train} == {a} and {u.corpus for u in f.test} == {b}
        counts = Counter(u.emotion for u in f.test)
        assert set(counts) == set(CROSS_CORPUS_LABELS) and len(set(counts.values())) == 1  # balanced
        assert {u.emotion for u in f.train} <= set(CROSS_CORPUS_LABELS)
    # SAVEE has twice as many neutral clips: balancing drops half of them, the same ones every time
    sv = next(f for f in folds if f.id == "ravdess_to_savee")
    assert len(sv.test) == 4 * 2 * 2 and make_folds("pairs", four)[folds.index(sv)].test == sv.test


def test_train_loco_reports_per_corpus_rows(tmp_path, dirs):
    specs = [f"{k}={v}" for k, v in dirs.items()]
    res = train("baseline", specs, tmp_path / "loco", protocol="loco", cache=tmp_path / "cache", progress=False, final=False)
    r = RunResults.from_dict(json.loads((tmp_path / "loco" / "metrics.json").read_text()))
    assert r.protocol == "loco" and set(r.corpora) == {"ravdess", "emodb", "savee"}
    assert [f.fold for f in r.folds] == ["emodb", "ravdess", "savee"] and all(set(f.corpora) == {f.fold} for f in r.folds)
    # UA over a corpus is the mean recall over the classes it has: EmoDB has no calm, no surprised
    emodb = r.corpora["emodb"]
    assert emodb.per_class_recall["calm"].mean is None and emodb.per_class_recall["angry"].mean is not None
    present = [s.mean for s in emodb.per_class_recall.values() if s.mean is not None]
    assert len(present) == 6 and emodb.ua.mean == pytest.approx(np.mean(present), abs=1e-5)
    assert "emodb=" in r.data and res.results == r
    # the collapse measure beside UA: of each held-out corpus's answers, as its predictions show
    preds = [json.loads(line) for line in (tmp_path / "loco" / "predictions.jsonl").read_text().splitlines()]
    for corpus, f in r.corpora.items():
        answers = [p["pred"] for p in preds if p["corpus"] == corpus]
        most = max(answers.count(a) for a in set(answers))
        assert f.collapse is not None and f.collapse.share == pytest.approx(most / len(answers), abs=1e-6)
        assert answers.count(f.collapse.label) == most and 0.0 <= f.collapse.entropy <= f.collapse.entropy_max + 1e-9
        assert f.collapse.entropy_max == pytest.approx(np.log2(len(present) if corpus == "emodb" else
                                                               len({p["true"] for p in preds if p["corpus"] == corpus})))
    assert all(fr.corpora[fr.fold].collapse is not None for fr in r.folds)


def test_train_pairs_uses_four_classes(tmp_path, dirs):
    specs = [f"{k}={v}" for k, v in dirs.items()]
    res = train("baseline", specs, tmp_path / "pairs", protocol="pairs", cache=tmp_path / "cache", progress=False)
    r = res.results
    assert sorted(r.labels) == list(CROSS_CORPUS_LABELS) and len(r.folds) == 6 and r.final_model is None
    assert not (tmp_path / "pairs" / "model").exists()
    preds = [json.loads(x) for x in (tmp_path / "pairs" / "predictions.jsonl").read_text().splitlines()]
    assert {p["true"] for p in preds} == set(CROSS_CORPUS_LABELS) and set(preds[0]["scores"]) == set(CROSS_CORPUS_LABELS)


def test_final_model_records_its_corpora_and_their_terms(tmp_path, dirs):
    specs = [f"{k}={v}" for k, v in dirs.items()]
    res = train("baseline", specs, tmp_path / "emobox", cache=tmp_path / "cache", progress=False)
    meta = json.loads((tmp_path / "emobox" / "model" / "config.json").read_text())["meta"]
    assert meta["corpora"] == ["emodb", "ravdess", "savee"] and meta["n_utterances"] == len(load_corpora(specs))
    for terms in ("RAVDESS (Livingstone & Russo 2018, CC BY-NC-SA 4.0", "EmoDB (Burkhardt et al. 2005", "SAVEE (Haq & Jackson"):
        assert terms in meta["license"]
    assert res.final_model is not None and res.results.final_model == "model"


def test_results_round_trip_and_old_files(tmp_path, dirs):
    res = train("baseline", [f"emodb={dirs['emodb']}"], tmp_path / "o", protocol="loso", cache=tmp_path / "cache", progress=False, final=False)
    d = res.metrics
    assert RunResults.from_dict(d).to_dict() == d
    old = {k: v for k, v in d.items() if k not in ("corpora", "online_adaptive")}  # a metrics.json of an earlier version
    assert RunResults.from_dict(old).corpora == {}
    with pytest.raises(DataError, match="not an emomon metrics"):
        RunResults.from_dict({"ua": 1})


# -- online adaptation ---------------------------------------------------------------------


def test_shrinkage_pools_prior_and_heard():
    rng = np.random.default_rng(0)
    prior_m, prior_v = np.zeros(3), np.ones(3)
    rows = rng.normal(5.0, 2.0, size=(400, 3))
    m, s = shrunk_mean_std(prior_m, prior_v, 0.0, FeatureStats.of(rows))
    assert np.allclose(m, rows.mean(0)) and np.allclose(s, rows.std(0), atol=1e-4)
    m0, s0 = shrunk_mean_std(prior_m, prior_v, 10.0, FeatureStats.empty(3))
    assert np.allclose(m0, 0) and np.allclose(s0, 1, atol=1e-4)
    m0, s0 = shrunk_mean_std(prior_m, prior_v, 0.0, FeatureStats.empty(3))  # a prior worth nothing, nothing heard: still the prior
    assert np.allclose(m0, 0) and np.allclose(s0, 1, atol=1e-4)
    m10, _ = shrunk_mean_std(prior_m, prior_v, 10.0, FeatureStats.of(rows[:10]))
    assert np.allclose(m10, rows[:10].mean(0) / 2)  # 10 rows against a prior worth 10
    a = SpeakerAdapter(prior_m, prior_v, 10.0)
    a.update(np.array([[np.nan, 1, 1]]))  # a non-finite row is never learnt
    assert a.heard.count == 0
    a.update(rows[:10], seconds=5.0)
    assert a.heard.count == 10 and a.heard.seconds == 5.0
    assert FeatureStats.from_dict(json.loads(json.dumps(a.heard.to_dict())), dims=3).count == 10
    with pytest.raises(ValueError):
        FeatureStats.from_dict(a.heard.to_dict(), dims=4)


def test_heard_weight_is_the_share_of_the_speakers_own_rows():
    assert heard_weight(20.0, 0) == 0.0 and heard_weight(20.0, 20) == 0.5 and heard_weight(0.0, 3) == 1.0
    a = SpeakerAdapter(np.zeros(2), np.ones(2), 20.0)
    assert a.state().weight == 0.0
    a.update(np.ones((60, 2)))
    st = a.state()
    assert st.weight == pytest.approx(0.75) and np.allclose(st.mean, 0.75)


def test_speaker_norm_uses_each_speakers_own_statistics():
    rng = np.random.default_rng(1)
    rows = [rng.normal(10 * k, 1 + k, size=(50, 4)) for k in range(3)]
    norm = fit_speaker_norm(rows, np.zeros((3, 4)), ["a", "b", "c"], prior_weight=0.0)
    z = norm.apply(np.concatenate(rows), ["a"] * 50 + ["b"] * 50 + ["c"] * 50)
    for k in range(3):
        part = z[50 * k : 50 * (k + 1)]
        assert np.allclose(part.mean(0), 0, atol=1e-5) and np.allclose(part.std(0), 1, atol=1e-3)
    assert np.allclose(norm.prior_mean, np.mean([r.mean(0) for r in rows], axis=0))


def test_prior_standardisation_and_calibration_of_a_session_that_has_heard_nothing(tmp_path):
    """``calib_heard``: held-out speakers standardised with the prior are classified less surely
    than with their own statistics, so a temperature fitted on them (``none``) is higher, and the
    pooled one (``both``) lies between."""
    from emomon.training.recipes import get_recipe
    from test_runner import ctx_for

    rng = np.random.default_rng(2)
    speakers = np.repeat([f"c:{k}" for k in range(6)], 40)
    y = np.tile(np.arange(2), 120)
    offsets = {s: rng.normal(0, 3.0, size=4) for s in set(speakers)}  # what each voice adds to every feature
    x = np.stack([offsets[s] for s in speakers]) + rng.normal(0, 1.0, size=(240, 4))
    x[:, 0] += 2.5 * y
    norm = fit_speaker_norm([x[speakers == s] for s in sorted(set(speakers))], np.zeros((6, 4)), sorted(set(speakers)), 0.0)
    prior = norm.apply_prior(x)
    assert np.allclose(prior, (x - norm.prior_mean) / np.sqrt(norm.prior_var + 1e-6), atol=1e-5)
    adapted = norm.apply(x, speakers)
    recipe = get_recipe("default")
    temps = {h: recipe._calibration_temperature(adapted, y, speakers, ctx_for(tmp_path, options={"calib_heard": h}, labels=("a", "b")),
                                                1.0, unadapted=prior) for h in ("all", "none", "both")}
    assert temps["none"] > temps["both"] > temps["all"]
    # partial: each speaker standardised with some of their clips (here one row a clip, 15 of 40): between the two
    part = partial_speaker_norm(norm, [r[None, :] for r in x], np.zeros((240, 4)), list(speakers), clips=15, seed=0)
    assert set(part.per_speaker) == set(speakers) and np.array_equal(part.prior_mean, norm.prior_mean)
    first15 = x[(speakers == "c:0") & (stream_order(list(speakers), 0) < 15)]
    assert len(first15) == 15 and np.allclose(part.per_speaker["c:0"][0], first15.mean(0))  # prior worth 0 rows here
    t_part = recipe._calibration_temperature(adapted, y, speakers, ctx_for(tmp_path, options={"calib_heard": "partial"}, labels=("a", "b")),
                                             1.0, unadapted=part.apply(x, speakers))
    assert temps["all"] < t_part < temps["none"]
    # a model that does not adapt has one form of its rows: calib_heard changes nothing
    assert recipe._calibration_temperature(adapted, y, speakers, ctx_for(tmp_path, options={"calib_heard": "none"}, labels=("a", "b")),
                                           1.0) == temps["all"]


def test_online_points_use_only_earlier_clips():
    """Each clip's statistics come from the clips before it in its speaker's order: the fake
    classifier reads how many rows were heard back from the standardisation's mean."""
    speakers = ["a"] * 12 + ["b"] * 7
    x = np.zeros((19, 1))
    stats = [FeatureStats.of(np.ones((1, 1)) * 1.0) for _ in speakers]  # every clip adds one row of value 1
    def state(heard):  # a prior worth one row of value 0
        return shrunk_state(np.zeros(1), np.ones(1), 1.0, heard)

    def classify(rows, st):
        mean = float(st.mean[0])  # = heard / (heard + 1), which is also the state's weight
        assert st.weight == pytest.approx(mean)
        heard = mean / (1 - mean) if mean < 1 else 1e9
        return np.array([[heard, 0.0]])

    pts = {p.heard: p for p in online_points(x, stats, speakers, state, classify, seed=3, points=(0, 5, None))}
    pos = stream_order(speakers, 3)
    assert sorted(pos[:12]) == list(range(12)) and sorted(pos[12:]) == list(range(7))
    assert np.array_equal(stream_order(speakers, 3), pos) and not np.array_equal(stream_order(speakers, 4), pos)
    assert np.allclose(pts[0].probs[:, 0], 0) and pts[0].counted.all()
    # with 5 heard: only clips at position >= 5 count, each after exactly 5 clips
    assert np.array_equal(pts[5].counted, pos >= 5) and np.allclose(pts[5].probs[pts[5].counted, 0], 5)
    # all: clip at position p heard p clips
    assert pts[None].counted.all() and np.allclose(pts[None].probs[:, 0], pos)


def test_shift_aware_temperature_learns_how_unsure_to_be_of_another_corpus():
    """Rows far from the training features (another corpus) whose logits are as sure as the
    near ones but right less often: the fitted exponent makes them less sure; where the far rows
    are as right as the near ones, it stays 0."""
    from emomon.training.calibration import expected_calibration_error, fit_shift_exponent, mean_square_z, shift_factor, softmax

    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 4, n)
    logits = np.full((n, 4), 0.0)
    logits[np.arange(n), y] = 3.0  # confident and right ...
    far = np.arange(n) >= n // 2
    wrong = far & (rng.random(n) < 0.6)  # ... but far rows are right only 40 % of the time
    logits[wrong] = np.roll(logits[wrong], 1, axis=1)
    dist = np.where(far, 4.0, 0.8)
    b = fit_shift_exponent(logits, y, dist, d0=1.0, temperature=1.0)
    assert b > 0.3
    before = expected_calibration_error(softmax(logits[far]), y[far])
    after = expected_calibration_error(softmax(logits[far] / shift_factor(dist[far], 1.0, b)[:, None]), y[far])
    assert after < before / 3
    assert np.allclose(shift_factor(dist[~far], 1.0, b), 1.0)  # rows like the training data keep their temperature
    right = logits.copy()
    right[wrong] = np.roll(right[wrong], -1, axis=1)  # far rows as right as near ones: no reason to be less sure
    assert fit_shift_exponent(right, y, dist, d0=1.0, temperature=1.0) < 0.1
    x = rng.normal(2.0, 3.0, size=(500, 6))
    assert mean_square_z(x, x.mean(0), x.std(0)).mean() == pytest.approx(1.0, abs=1e-4)


def test_recipe_learns_the_shift_from_held_out_training_corpora(tmp_path):
    from emomon.training.recipes import get_recipe
    from test_runner import ctx_for

    rng = np.random.default_rng(3)
    rows, labels, speakers = [], [], []
    for k, (corpus, offset, noise) in enumerate((("a", 0.0, 0.3), ("b", 6.0, 2.5), ("c", -6.0, 2.5))):
        for s in range(3):
            y = rng.integers(0, 2, 60)
            x = rng.normal(offset, 1.0, size=(60, 5)) + noise * rng.normal(size=(60, 5))
            x[:, 0] += 2.0 * y
            rows.append(x)
            labels.append(y)
            speakers += [f"{corpus}:{s}"] * 60
    x, y, speakers = np.concatenate(rows), np.concatenate(labels), np.array(speakers)
    recipe = get_recipe("default")
    shift = recipe._shift(x, y, speakers, ctx_for(tmp_path, options={"calib_shift": True}, labels=("p", "q")), 1.0)
    assert shift is not None and shift["d0"] > 0 and shift["b"] > 0
    assert recipe._shift(x, y, speakers, ctx_for(tmp_path, options={"calib_shift": False}, labels=("p", "q")), 1.0) is None
    one = np.char.startswith(speakers.astype(str), "a:")
    assert recipe._shift(x[one], y[one], speakers[one], ctx_for(tmp_path, options={"calib_shift": True}, labels=("p", "q")), 1.0) is None

"""Additive noise at a set SNR, noisy copies of a corpus, and the runner's noise evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emomon.audio import decode_audio
from emomon.training.noise import NoiseTransform, mix_at_snr, noisy_copies, parse_conditions, pink_noise
from emomon.training.protocols import make_folds
from emomon.training.recipes.baseline import BaselineRecipe
from emomon.training.runner import run_protocol
from test_runner import corpus, ctx_for  # noqa: F401 - fixture


def snr_of(clean: np.ndarray, mixed: np.ndarray) -> float:
    noise = mixed - clean
    return 10 * np.log10(np.mean(clean**2) / np.mean(noise**2))


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
@pytest.mark.parametrize("snr", [20.0, 0.0])
def test_mix_reaches_the_asked_snr(kind, snr):
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    clean = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    sources = [rng.standard_normal(8000).astype(np.float32) * 0.3 for _ in range(5)]
    mixed = NoiseTransform(kind, snr, sources)(clean, rng)
    assert mixed.shape == clean.shape and mixed.dtype == np.float32
    assert snr_of(clean, mixed) == pytest.approx(snr, abs=0.2)


def test_pink_noise_has_falling_spectrum():
    x = pink_noise(2**16, np.random.default_rng(1))
    p = np.abs(np.fft.rfft(x)) ** 2
    low, high = p[10:100].mean(), p[10000:20000].mean()
    assert low > 50 * high  # 1/f: ~ two decades of frequency apart


def test_silent_clip_is_left_alone():
    z = np.zeros(100, dtype=np.float32)
    assert np.array_equal(mix_at_snr(z, np.ones(100, dtype=np.float32), 0.0), z)


def test_parse_conditions():
    assert parse_conditions("white,babble", "20,0") == [("white", 20.0), ("white", 0.0), ("babble", 20.0), ("babble", 0.0)]
    with pytest.raises(ValueError, match="unknown noise kind"):
        parse_conditions("brown", "10")


def test_noisy_copies_deterministic_and_other_speakers_babble(tmp_path, corpus):  # noqa: F811
    utts = corpus[:3]
    a = noisy_copies(utts, "babble", 10.0, tmp_path / "n", pool=corpus, seed=0)
    first = [decode_audio(u.path, 16000) for u in a]
    for p in a:  # regenerate from scratch: same bytes
        __import__("os").remove(p.path)
    b = noisy_copies(utts, "babble", 10.0, tmp_path / "n", pool=corpus, seed=0)
    for x, u in zip(first, b):
        np.testing.assert_array_equal(x, decode_audio(u.path, 16000))
    assert [u.emotion for u in b] == [u.emotion for u in utts] and [u.speaker for u in b] == [u.speaker for u in utts]
    clean = decode_audio(utts[0].path, 16000)
    assert snr_of(clean, first[0][: len(clean)]) == pytest.approx(10.0, abs=0.5)
    # another pool (e.g. another fold's training speakers) gets its own files, never these
    c = noisy_copies(utts, "babble", 10.0, tmp_path / "n", pool=corpus[1:], seed=0)
    assert {Path(u.path).parent for u in c}.isdisjoint({Path(u.path).parent for u in b})


def test_runner_reports_noise_conditions(tmp_path, corpus):  # noqa: F811
    folds = make_folds("kfold-speaker", corpus, k=2)
    res = run_protocol(BaselineRecipe(), corpus, folds, tmp_path / "out", ctx_for(tmp_path), protocol="kfold-speaker",
                       final=False, noise=[("white", 20.0), ("white", 0.0)], noise_dir=tmp_path / "noisy")
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert [(c["kind"], c["snr_db"]) for c in m["noise"]] == [("white", 20.0), ("white", 0.0)]
    assert all(0.0 <= c["ua"]["mean"] <= 1.0 for c in m["noise"])
    assert set(m["folds"][0]["noise"]) == {"white@20dB", "white@0dB"}
    assert "ece" in m and 0.0 <= m["ece"]["mean"] <= 1.0
    # the baseline reads amplitude variation: loud white noise changes its answers
    assert m["noise"][1]["ua"]["mean"] != pytest.approx(m["ua"]["mean"]) or m["ua"]["mean"] < 0.2
    assert res.metrics["noise"] == m["noise"]


def test_babble_finds_other_speakers_beyond_the_first_64_drawn(tmp_path, corpus):  # noqa: F811
    a = [u for u in corpus if u.speaker == corpus[0].speaker]
    b = next(u for u in corpus if u.speaker != corpus[0].speaker)
    pool = a * 10 + [b]  # 160 clips of one speaker, one of another
    assert len(pool) - 1 not in set(np.random.default_rng(0).permutation(len(pool))[:64])  # b is not among the 64 drawn
    (noisy,) = noisy_copies(a[:1], "babble", 0.0, tmp_path / "n", pool=pool, seed=0)
    clean = decode_audio(a[0].path, 16000)
    assert snr_of(clean, decode_audio(noisy.path, 16000)[: len(clean)]) == pytest.approx(0.0, abs=0.5)

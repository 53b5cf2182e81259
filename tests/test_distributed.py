"""Data-parallel training: ``emomon train`` under ``torchrun`` with two CPU processes (gloo) takes the
steps one process takes, and only rank 0 writes OUT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import make_tiny_whisper
from emomon.training import distributed
from test_runner import write_synthetic_ravdess
from test_wav2vec2 import tiny_backbone  # noqa: F401 - a fixture

# the seed transformer, tiny, with no random draws in training (no dropout, no input noise): the
# two runs may then differ only by float rounding in the gradient all-reduce
TINY = {"sample_rate": 16000, "n_fft": 256, "hop_length": 128, "n_mels": 16, "num_frames": 80, "embed_dim": 16, "num_heads": 2,
        "head_dim": 8, "num_layers": 1, "ff_dim": 32, "dropout": 0, "noise_std": 0, "lr": 3e-3, "batch_size": 8}


def test_local_part_splits_a_batch_between_ranks():
    idx = np.arange(7)
    parts = [distributed.local_part(idx, distributed.Ranks(r, 3)) for r in range(3)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(7))
    assert [len(p) for p in parts] == [3, 2, 2]
    assert distributed.ranks() == distributed.Ranks(0, 1, 0) and distributed.is_main()  # not under torchrun


def _train(data: Path, out: Path, cache: Path, nproc: int, model: str = "transformer", options: dict | None = None,
           epochs: int = 4) -> subprocess.CompletedProcess:
    emomon = ["-m", "emomon", "train", "--model", model, "--data", str(data), "--protocol", "kfold-speaker", "--k", "2",
              "--epochs", str(epochs), "--compute", "cpu", "--cache", str(cache), "--out", str(out), "--quiet",
              *[a for k, v in (TINY if options is None else options).items() for a in ("--set", f"{k}={v}")]]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"] if nproc > 1 else [sys.executable]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([*launcher, *emomon], capture_output=True, text=True, timeout=300, env=env)


def _probs(out: Path) -> dict[str, list[float]]:
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines() if line.strip()]
    return {r["id"]: [r["scores"][k] for k in sorted(r["scores"])] for r in rows}


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    data = write_synthetic_ravdess(tmp_path / "syn", speakers=4, reps=2)
    one = _train(data, tmp_path / "one", tmp_path / "cache", 1)
    assert one.returncode == 0, one.stderr[-2000:]
    two = _train(data, tmp_path / "two", tmp_path / "cache2", 2)  # its own cache: the two processes share the features' extraction
    assert two.returncode == 0, two.stderr[-3000:]
    p1, p2 = _probs(tmp_path / "one"), _probs(tmp_path / "two")
    assert set(p1) == set(p2) and len(p1) == 64  # every clip once: rank 1 wrote no rows of its own
    diff = max(np.abs(np.array(p1[k]) - np.array(p2[k])).max() for k in p1)
    assert diff < 1e-4, diff
    m1 = json.loads((tmp_path / "one" / "metrics.json").read_text())
    m2 = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert m1["ua"] == m2["ua"]
    meta1 = json.loads((tmp_path / "one" / "model" / "config.json").read_text())["meta"]
    meta2 = json.loads((tmp_path / "two" / "model" / "config.json").read_text())["meta"]
    assert (meta1["processes"], meta2["processes"]) == (1, 2)  # the second run really was split between two ranks
    h1, h2 = meta1["history"], meta2["history"]
    np.testing.assert_allclose([r["train_loss"] for r in h1], [r["train_loss"] for r in h2], rtol=1e-4)
    # and they did learn: the loss falls over the four epochs
    assert h1[-1]["train_loss"] < h1[0]["train_loss"]


def _meta(out: Path) -> dict:
    return json.loads((out / "model" / "config.json").read_text())["meta"]


@pytest.mark.slow
def test_finetune_two_processes_match_one(tmp_path):
    """The finetune recipe's random draws (noisy copy, crop, masks) depend on (seed, step, clip), not
    on the rank: with dropout off, two processes take the steps of one."""
    data = write_synthetic_ravdess(tmp_path / "syn", speakers=4, reps=2)
    whisper = make_tiny_whisper(tmp_path / "whisper")
    opts = {"backbone_source": whisper, "tuned_layers": 1, "layers": [0, 1, 2], "dropout": 0, "batch_size": 8, "lr": 1e-3,
            "head_lr": 1e-2, "crop_s": 0.3, "augment": "white:10"}  # layers: the tiny encoder's states, one of them frozen  # 0.3 s crops: every clip is longer, one crop length
    runs = {n: _train(data, tmp_path / f"p{n}", tmp_path / f"cache{n}", n, "finetune", opts, epochs=3) for n in (1, 2)}
    for n, run in runs.items():
        assert run.returncode == 0, (n, run.stderr[-3000:])
    p1, p2 = _probs(tmp_path / "p1"), _probs(tmp_path / "p2")
    assert set(p1) == set(p2) and len(p1) == 64
    diff = max(np.abs(np.array(p1[k]) - np.array(p2[k])).max() for k in p1)
    assert diff < 1e-4, diff
    m1, m2 = _meta(tmp_path / "p1"), _meta(tmp_path / "p2")
    assert (m1["processes"], m2["processes"]) == (1, 2)
    assert m1["history"][0]["epoch"] == m2["history"][0]["epoch"] == 0  # both started from the same linear probe
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose([r.get(key, 0.0) for r in m1["history"]], [r.get(key, 0.0) for r in m2["history"]], rtol=1e-4)


@pytest.mark.slow
def test_wav2vec2_trains_under_torchrun(tmp_path, tiny_backbone):  # noqa: F811 - the imported fixture
    """transformers' Trainer runs DDP itself under torchrun: the run completes, rank 0 writes OUT once."""
    data = write_synthetic_ravdess(tmp_path / "syn", speakers=4, reps=1)
    opts = {"backbone": tiny_backbone, "max_seconds": 1.0, "batch_size": 8, "grad_accum": 1}
    run = _train(data, tmp_path / "out", tmp_path / "cache", 2, "wav2vec2", opts, epochs=1)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _meta(tmp_path / "out")["processes"] == 2
    assert len(_probs(tmp_path / "out")) == 32
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["model"] == "wav2vec2" and len(metrics["folds"]) == 2

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

from emomon.training import distributed
from test_runner import write_synthetic_ravdess

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


def _train(data: Path, out: Path, cache: Path, nproc: int) -> subprocess.CompletedProcess:
    emomon = ["-m", "emomon", "train", "--model", "transformer", "--data", str(data), "--protocol", "kfold-speaker", "--k", "2",
              "--epochs", "4", "--compute", "cpu", "--cache", str(cache), "--out", str(out), "--quiet",
              *[a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]]
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
    two = _train(data, tmp_path / "two", tmp_path / "cache", 2)
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

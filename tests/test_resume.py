"""An interrupted ``emomon train`` resumes: finished folds (OUT/folds) and a whole final model are
reused, the metrics are those of an uninterrupted run; other settings are refused without --force."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emomon.errors import DataError
from emomon.training import runner
from emomon.training.corpora import read_ravdess
from emomon.training.protocols import make_folds
from emomon.training.resume import FoldFile, FoldOutcome, RunSettings, fold_filename, from_json, to_json
from emomon.training.runner import run_protocol
from test_runner import OracleRecipe, ctx_for, write_synthetic_ravdess
from test_seed_models import TINY_TRANSFORMER

VOLATILE = {"created", "wall_seconds", "train_seconds", "cpu_ms_per_clip", "cpu_ms_per_window"}


def comparable(metrics: dict) -> dict:
    """metrics.json without its timings and creation time (what two runs of one seed share)."""
    m = {k: v for k, v in metrics.items() if k not in VOLATILE}
    m["folds"] = [{k: v for k, v in f.items() if k != "train_seconds"} for f in m["folds"]]
    for f in m["folds"]:  # a neural recipe's training curve: every epoch's figures but its seconds
        if "history" in f:
            f["history"] = [{k: v for k, v in e.items() if k != "seconds"} for e in f["history"]]
    return m


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_synthetic_ravdess(tmp_path_factory.mktemp("syn"), speakers=4, reps=2)


@pytest.fixture(scope="module")
def corpus(data):
    return read_ravdess(data)


class CountingRecipe(OracleRecipe):
    """The oracle, counting its fits; ``stop_at``: the fit (1-based) that is interrupted instead."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.fits = 0
        self.stop_at = stop_at

    def fit(self, train, ctx):
        self.fits += 1
        if self.fits == self.stop_at:
            raise KeyboardInterrupt("interrupted")
        return super().fit(train, ctx)


def run(recipe, corpus, out, tmp_path, **kw):
    folds = make_folds("loso", corpus)
    ctx = ctx_for(tmp_path, seed=kw.pop("seed", 0))
    return run_protocol(recipe, corpus, folds, out, ctx, protocol="loso", data="syn", **kw)


def test_an_interrupted_run_reuses_its_finished_folds(tmp_path, corpus, caplog):
    whole = run(CountingRecipe(), corpus, tmp_path / "whole", tmp_path)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(CountingRecipe(stop_at=3), corpus, out, tmp_path)  # folds 1 and 2 finish, fold 3 is interrupted
    saved = sorted(p.name for p in (out / "folds").glob("*.json"))
    assert saved == ["_settings.json", "ravdess%3A01.json", "ravdess%3A02.json"]
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 2 * len(corpus) // 4
    again = CountingRecipe()
    with caplog.at_level("INFO", logger="emomon.training"):
        res = run(again, corpus, out, tmp_path)
    assert again.fits == 2 + 1  # folds 3 and 4, and the final model
    assert "resuming: 2 of 4 folds" in caplog.text and "fold ravdess:01: reusing" in caplog.text
    assert comparable(res.metrics) == comparable(whole.metrics)
    assert (out / "predictions.jsonl").read_text() == (tmp_path / "whole" / "predictions.jsonl").read_text()


def test_a_run_killed_after_its_final_model_reuses_it(tmp_path, corpus, monkeypatch):
    """The issue's case: OUT/model written, metrics.json not: the rerun trains nothing and is not refused."""
    out = tmp_path / "out"

    def crash(*a, **k):
        raise KeyboardInterrupt("killed before metrics.json")

    with monkeypatch.context() as m:
        m.setattr(runner, "write_results", crash)
        with pytest.raises(KeyboardInterrupt):
            run(CountingRecipe(), corpus, out, tmp_path)
    assert (out / "model" / "model.safetensors").is_file() and not (out / "metrics.json").exists()
    weights = (out / "model" / "model.safetensors").stat().st_mtime_ns
    again = CountingRecipe()
    res = run(again, corpus, out, tmp_path)
    assert again.fits == 0 and res.final_model is not None and res.results.final_model == "model"
    assert (out / "model" / "model.safetensors").stat().st_mtime_ns == weights
    assert json.loads((out / "metrics.json").read_text())["ua"]["mean"] == 1.0


def test_other_settings_are_refused_in_one_line_unless_forced(tmp_path, corpus):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(CountingRecipe(stop_at=2), corpus, out, tmp_path, seed=0)
    with pytest.raises(DataError) as exc:
        run(CountingRecipe(), corpus, out, tmp_path, seed=1)
    message = str(exc.value)
    assert "\n" not in message and "seed: 0 -> 1" in message and "--force" in message
    assert (out / "folds" / fold_filename("ravdess:01")).is_file()  # nothing was touched
    forced = CountingRecipe()
    run(forced, corpus, out, tmp_path, seed=1, force=True)
    assert forced.fits == 4 + 1  # started again


def test_a_fresh_copy_of_the_corpus_elsewhere_resumes_the_run(tmp_path, data, corpus):
    """The data is known by its contents: copied without its file times, to another path (a new
    machine, CI), it resumes; ``data`` (the directories as typed) is not compared."""
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(CountingRecipe(stop_at=2), corpus, out, tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(data, copy, copy_function=shutil.copyfile)  # new paths, new mtimes
    moved = read_ravdess(copy)
    assert {Path(u.path).stat().st_mtime_ns for u in moved}.isdisjoint({Path(u.path).stat().st_mtime_ns for u in corpus})
    again = CountingRecipe()
    run_protocol(again, moved, make_folds("loso", moved), out, ctx_for(tmp_path), protocol="loso", data="elsewhere")
    assert again.fits == 3 + 1  # fold 1 reused


def test_an_edited_clip_is_other_data(tmp_path, data, corpus):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(CountingRecipe(stop_at=2), corpus, out, tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)  # file times kept: only the contents tell
    edited = read_ravdess(copy)
    victim = Path(edited[0].path)
    stat = victim.stat()
    raw = bytearray(victim.read_bytes())
    raw[-1] ^= 1
    victim.write_bytes(bytes(raw))
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(DataError, match="the data's files"):
        run_protocol(CountingRecipe(), edited, make_folds("loso", edited), out, ctx_for(tmp_path), protocol="loso")


def test_another_split_of_a_fold_is_refused(tmp_path, corpus):
    out = tmp_path / "out"
    folds = make_folds("kfold-speaker", corpus, k=2)
    with pytest.raises(KeyboardInterrupt):
        run_protocol(CountingRecipe(stop_at=2), corpus, folds, out, ctx_for(tmp_path), protocol="kfold-speaker")
    other = make_folds("kfold-speaker", corpus, k=3)
    with pytest.raises(DataError, match="split otherwise"):
        run_protocol(CountingRecipe(), corpus, other, out, ctx_for(tmp_path), protocol="kfold-speaker")


def test_outputs_without_a_run_state_are_not_overwritten(tmp_path, corpus):
    out = tmp_path / "out"
    (out / "model").mkdir(parents=True)
    (out / "model" / "config.json").write_text("{}")  # the user's own model
    with pytest.raises(DataError, match="no run to resume"):
        run(CountingRecipe(), corpus, out, tmp_path)
    assert (out / "model" / "config.json").read_text() == "{}"
    (out / "notes.txt").write_text("mine")
    run(CountingRecipe(), corpus, out, tmp_path, force=True)
    assert (out / "notes.txt").read_text() == "mine" and (out / "model" / "model.safetensors").is_file()


def test_fold_files_are_strict_typed_json(tmp_path, corpus):
    out = tmp_path / "out"
    run(CountingRecipe(), corpus, out, tmp_path, final=False)
    text = (out / "folds" / "ravdess%3A01.json").read_text()
    record = from_json(FoldFile, text)
    assert isinstance(record.outcome, FoldOutcome) and record.outcome.fold == "ravdess:01"
    assert to_json(record) == text and '"format": 2' in text
    settings = json.loads((out / "folds" / "_settings.json").read_text())["settings"]
    assert settings["recipe"] == "baseline" and settings["seed"] == 0 and settings["protocol"] == "loso"
    for bad in (text.replace('"train_seconds": ', '"train_seconds": NaN, "x": '), text.replace('"fold": "ravdess:01"', '"fold": 1'),
                text.replace('"format": 2', '"format": 2, "extra": 2')):
        with pytest.raises(ValueError):
            from_json(FoldFile, bad)
    with pytest.raises(ValueError, match="unknown key"):
        from_json(RunSettings, json.dumps({**settings, "colour": "blue"}))


def test_an_unreadable_fold_file_is_trained_again(tmp_path, corpus, caplog):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(CountingRecipe(stop_at=3), corpus, out, tmp_path, final=False)
    (out / "folds" / "ravdess%3A02.json").write_text('{"format": 1')
    again = CountingRecipe()
    with caplog.at_level("WARNING", logger="emomon.training"):
        run(again, corpus, out, tmp_path, final=False)
    assert again.fits == 3 and "unreadable" in caplog.text


# -- the real command, killed with SIGKILL -------------------------------------------------------
def _train_cmd(data: Path, out: Path) -> list[str]:
    opts = [a for k, v in TINY_TRANSFORMER.items() for a in ("--set", f"{k}={v}")]
    return [sys.executable, "-m", "emomon", "train", "--model", "transformer", *opts, "--epochs", "2", "--protocol", "loso",
            "--data", str(data), "--out", str(out), "--seed", "5", "--compute", "cpu", "--quiet"]


def _kill_after_first_fold(cmd: list[str], folds: Path, env: dict) -> None:
    """Start ``cmd``, SIGKILL it as soon as its first fold file appears (polled)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if any(p.name != "_settings.json" for p in folds.glob("*.json")):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow  # about 50 s: three real training runs in subprocesses
def test_sigkill_then_rerun_gives_the_metrics_of_an_uninterrupted_run(tmp_path, data):
    env = {**os.environ, "EMOMON_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    whole = tmp_path / "whole"
    done = subprocess.run(_train_cmd(data, whole), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    _kill_after_first_fold(_train_cmd(data, out), out / "folds", env)
    assert not (out / "metrics.json").exists()
    finished = {p.name: p.stat().st_mtime_ns for p in (out / "folds").glob("ravdess*.json")}
    assert finished and not list((out / "folds").glob(".*"))  # whole fold files only, no temporary file
    again = subprocess.run(_train_cmd(data, out), env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"resuming: {len(finished)} of 4 folds" in again.stderr
    assert {n: (out / "folds" / n).stat().st_mtime_ns for n in finished} == finished  # reused, not trained again
    first = json.loads((whole / "metrics.json").read_text())
    second = json.loads((out / "metrics.json").read_text())
    assert comparable(second) == comparable(first)
    assert (out / "predictions.jsonl").read_text() == (whole / "predictions.jsonl").read_text()


def test_a_finished_run_of_some_folds_is_extended_by_a_run_of_all(tmp_path, corpus, caplog):
    """A quick ``--fold 1`` run, then the same command for every fold: fold 1 is reused, not refused
    nor trained again, and the outputs hold every fold; a rerun of all is then a finished run."""
    whole = run(CountingRecipe(), corpus, tmp_path / "whole", tmp_path, final=False)
    out = tmp_path / "out"
    folds = make_folds("loso", corpus)
    quick = CountingRecipe()
    run_protocol(quick, corpus, folds[:1], out, ctx_for(tmp_path), protocol="loso", data="syn", final=False)
    assert quick.fits == 1 and len(json.loads((out / "metrics.json").read_text())["folds"]) == 1
    rest = CountingRecipe()
    with caplog.at_level("INFO", logger="emomon.training"):
        res = run(rest, corpus, out, tmp_path, final=False)
    assert rest.fits == 3 and "fold ravdess:01: reusing" in caplog.text
    assert comparable(res.metrics) == comparable(whole.metrics)
    with pytest.raises(DataError, match="already holds metrics.json of a finished run"):
        run(CountingRecipe(), corpus, out, tmp_path, final=False)
    with pytest.raises(DataError, match="already holds metrics.json"):  # a subset of a finished run's folds: nothing to add
        run_protocol(CountingRecipe(), corpus, folds[:2], out, ctx_for(tmp_path), protocol="loso", data="syn", final=False)

"""``emomon train`` through Typer (the command :func:`emomon.training.cli.register` adds)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from emomon.errors import DataError, EmomonError
from emomon.training.cli import load_utterances, parse_fold_subset, register, train
from test_runner import write_synthetic_ravdess


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_synthetic_ravdess(tmp_path_factory.mktemp("syn"), speakers=4, reps=2)


@pytest.fixture()
def app():
    a = typer.Typer()
    register(a)

    @a.command("other")
    def other() -> None:  # a second command keeps "train" a sub-command
        pass

    return a


def test_train_command_runs_and_writes(tmp_path, data, app):
    out = tmp_path / "out"
    args = ["train", "--model", "baseline", "--protocol", "kfold-speaker", "--k", "2", "--data", str(data), "--out", str(out), "--cache", str(tmp_path / "c"), "--quiet", "--set", "C=0.5"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "UA" in res.output and "baseline kfold-speaker strict" in res.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["extra"]["options"] == {"C": 0.5} and m["final_model"] == "model"
    again = CliRunner().invoke(app, args)  # OUT holds metrics.json: refused without --force
    assert again.exit_code != 0 and isinstance(again.exception, DataError)
    forced = CliRunner().invoke(app, args + ["--force", "--no-final"])
    assert forced.exit_code == 0, forced.output
    assert json.loads((out / "metrics.json").read_text())["final_model"] is None


def test_train_help_lists_recipes(app):
    res = CliRunner().invoke(app, ["train", "--help"])
    assert res.exit_code == 0
    for name in ("default", "baseline", "transformer", "wav2vec2", "egemaps"):
        assert name in res.output


def test_unknown_model_and_protocol(tmp_path, data):
    with pytest.raises(EmomonError):
        train("nope", data, tmp_path / "o")
    with pytest.raises(DataError):
        train("baseline", data, tmp_path / "o", protocol="holdout")
    with pytest.raises(DataError):
        train("baseline", data, tmp_path / "o", normalize="global")


def test_fold_subset_and_speaker_norm(tmp_path, data):
    res = train("baseline", data, tmp_path / "o", protocol="loso", fold_subset=["ravdess:02"], normalize="speaker", cache=tmp_path / "c", progress=False)
    m = res.metrics
    assert [f["fold"] for f in m["folds"]] == ["ravdess:02"] and m["mode"] == "speaker-norm"
    with pytest.raises(DataError):
        train("baseline", data, tmp_path / "o2", protocol="loso", fold_subset=["ravdess:99"], progress=False)


def test_random_protocol_output_is_labelled(tmp_path, data, app):
    res = CliRunner().invoke(app, ["train", "--model", "baseline", "--protocol", "random", "--k", "2", "--data", str(data), "--out", str(tmp_path / "o"), "--no-cache", "--quiet", "--no-final"])
    assert res.exit_code == 0, res.output
    assert "speaker-dependent" in res.output


def test_helpers(data):
    assert parse_fold_subset("1, 2") == ["1", "2"] and parse_fold_subset(None) is None
    assert len(load_utterances("ravdess", data)) == 4 * 8 * 2

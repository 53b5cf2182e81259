"""``emomon train`` through Typer (the command :func:`emomon.training.cli.register` adds)."""

from __future__ import annotations

import json
import logging

import pytest
import typer
from typer.testing import CliRunner

from conftest import default_model_available
from emomon.errors import DataError, DeviceError, EmomonError
from emomon.training.cli import Compute, load_utterances, parse_fold_subset, register, resolve_compute, train
from emomon.training.report import make_report
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
    args = ["train", "--model", "baseline", "--protocol", "kfold-speaker", "--k", "2", "--data", str(data), "--out", str(out),
            "--cache", str(tmp_path / "c"), "--quiet", "--set", "C=0.5", "--compute", "cpu"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "UA" in res.output and "baseline kfold-speaker strict" in res.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["extra"]["options"] == {"C": 0.5, "sample_rate": 16000} and m["final_model"] == "model"  # every option, typed
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
    assert "--compute" in res.output and "--device" not in res.output


def test_compute_is_a_choice_and_device_is_a_usage_error(tmp_path, data, app):
    base = ["train", "--model", "baseline", "--data", str(data), "--out", str(tmp_path / "o"), "--no-cache", "--quiet"]
    bad = CliRunner().invoke(app, base + ["--compute", "tpu"])
    assert bad.exit_code == 2 and "tpu" in bad.output, bad.output
    old = CliRunner().invoke(app, base + ["--device", "cpu"])
    assert old.exit_code == 2 and "--compute" in old.output, old.output
    assert not (tmp_path / "o").exists()  # refused before any work


def test_device_option_through_the_real_cli_is_one_usage_line(tmp_path, data, capsys):
    from emomon.cli import main

    rc = main(["train", "--model", "baseline", "--data", str(data), "--out", str(tmp_path / "o"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2, err
    errors = [line for line in err.splitlines() if line.startswith("emomon: error:")]
    assert len(errors) == 1 and "--device" in errors[0] and "--compute" in errors[0], err
    assert "Traceback" not in err


def test_resolve_compute():
    assert resolve_compute(None) == "auto"
    assert resolve_compute("cpu") == "cpu" and resolve_compute(Compute.cuda) == "cuda" and resolve_compute("cuda:1") == "cuda:1"
    with pytest.raises(DeviceError, match="tpu"):
        resolve_compute("tpu")


def test_deprecated_device_keyword(tmp_path, data, caplog):
    caplog.set_level(logging.WARNING, logger="emomon.training.cli")
    with pytest.raises(DeviceError, match="tpu"):  # the alias's value is what gets checked
        train("baseline", data, tmp_path / "o", device="tpu")
    assert any("deprecated" in r.getMessage() and "compute" in r.getMessage() for r in caplog.records)
    with pytest.raises(EmomonError, match="disagree"):
        train("baseline", data, tmp_path / "o", compute="cpu", device="cuda")
    caplog.clear()
    res = train("baseline", data, tmp_path / "o", device="cpu", protocol="loso", fold_subset=["ravdess:01"], final=False,
                no_cache=True, progress=False)
    assert [f["fold"] for f in res.metrics["folds"]] == ["ravdess:01"]
    assert any("deprecated" in r.getMessage() for r in caplog.records)


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


def md_cells(md: str, first_cell: str, after: str = "") -> list[str]:
    for line in md[md.index(after):].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r}")


def test_report_over_a_real_run_its_model_and_the_shipped_model(tmp_path, data):
    """A real `emomon train` run folder, the final model it saved (a model directory) and the shipped default, in one report."""
    run = tmp_path / "baseline-run"
    res = train("baseline", data, run, protocol="kfold-speaker", k=2, compute="cpu", cache=tmp_path / "c", progress=False)
    m = res.metrics
    runs = [run, run / "model"] + (["default"] if default_model_available() else [])
    md = make_report(runs, tmp_path / "rep", progress=False).markdown.read_text()
    row = md_cells(md, "baseline-run")
    assert row[1:6] == ["baseline", "kfold-speaker", "speaker-independent, strict", "2", str(4 * 8 * 2)]
    assert row[6] == f"{100 * m['ua']['mean']:.1f} ± {100 * m['ua']['std']:.1f}"
    model = md_cells(md, "model")  # the final model's meta: cv_ua / cv_wa without std, no F1, costs n/a
    assert model[1:4] == ["baseline", "kfold-speaker", "speaker-independent, strict"]
    assert model[6:] == [f"{100 * m['ua']['mean']:.1f}", f"{100 * m['wa']['mean']:.1f}", "–", "n/a", "n/a", "n/a", "n/a"]
    recall = md_cells(md, "angry", "## Per-class recall")
    assert recall[1] != "n/a" and recall[2:] == ["n/a"] * (len(runs) - 1)
    pngs = sorted(p.name for p in (tmp_path / "rep" / "figures").glob("*.png"))
    assert pngs == ["confusion-baseline-run.png", "summary.png"]
    assert "model: confusion matrix n/a" in md
    if default_model_available():
        assert md_cells(md, "default")[1:5] == ["default", "emobox", "speaker-independent, strict", "6"]

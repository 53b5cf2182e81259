"""``emomon report`` and the ``data`` commands: synthetic metrics.json files and synthetic audio."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer
from typer.testing import CliRunner

from conftest import default_model_available
from emomon.errors import DataError
from emomon.labels import EMOTIONS
from emomon.models.card import parse_card
from emomon.training.cli_data import register
from emomon.training.metrics import Collapse
from emomon.training.report import ece_cell, load_run, make_report, pct
from emomon.training.results import FoldResult, Figures, OnlineAdaptive, OnlinePointFigures, Row, RunResults, Score

PNG = b"\x89PNG\r\n\x1a\n"


def write_run(root: Path, name: str, ua: float, wa: float, f1: float, *, protocol: str = "emobox", si: bool = True,
              mode: str = "strict", labels: tuple[str, ...] = EMOTIONS) -> Path:
    d = root / name
    d.mkdir(parents=True)
    n = len(labels)
    cm = (np.eye(n, dtype=int) * 10 + 1).tolist()
    metrics = {
        "model": name.split("-")[0], "protocol": protocol, "speaker_independent": si, "mode": mode, "labels": list(labels),
        "data": "/data/ravdess", "n_utterances": 1440,
        "ua": {"mean": ua, "std": 0.02}, "wa": {"mean": wa, "std": 0.015}, "f1": {"mean": f1, "std": 0.031},
        "per_class_recall": {lab: {"mean": 0.1 * (i + 1), "std": 0.05} for i, lab in enumerate(labels)},
        "folds": [{"fold": "1", "test_speakers": ["ravdess:01", "ravdess:02"], "n_train": 1200, "n_test": 240, "ua": ua - 0.01,
                   "wa": wa, "f1": f1, "per_class_recall": {}, "train_seconds": 42.0},
                  {"fold": "2", "test_speakers": ["ravdess:03"], "n_train": 1320, "n_test": 120, "ua": ua + 0.01, "wa": wa, "f1": f1,
                   "per_class_recall": {}, "train_seconds": 40.0}],
        "confusion": cm, "num_parameters": 377123, "train_seconds": 82.0, "cpu_ms_per_clip": 12.345, "cpu_ms_per_window": 9.876, "final_model": "model",
        "created": "2025-01-01T00:00:00+00:00", "emomon_version": "0.1.0", "extra": {"seed": 0, "options": {"lr": 0.001}},
    }
    (d / "metrics.json").write_text(json.dumps(metrics))
    return d


def is_png(path: Path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(PNG)


def md_row(md: str, first_cell: str, after: str = "") -> list[str]:
    for line in md[md.index(after):].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r}")


def test_pct() -> None:
    assert pct({"mean": 0.4567, "std": 0.0123}) == "45.7 ± 1.2"
    assert pct(0.5) == "50.0" and pct(None) == "–"
    assert ece_cell(Score(0.068, 0.017), 0.0456, 0.028) == "4.6 (floor 2.8; folds 6.8 ± 1.7)"
    assert ece_cell(Score(0.068, 0.017), None, None) == "6.8 ± 1.7"  # a run written before the pooled ECE


def test_report_tables_and_figures(tmp_path: Path) -> None:
    a = write_run(tmp_path / "runs", "baseline-si", 0.451, 0.462, 0.443)
    b = write_run(tmp_path / "runs", "transformer-norm", 0.552, 0.561, 0.549, mode="speaker-norm")
    c = write_run(tmp_path / "runs", "baseline-random", 0.701, 0.712, 0.699, protocol="random", si=False)
    d = write_run(tmp_path / "runs", "crema-six", 0.5, 0.5, 0.5, labels=("neutral", "happy", "sad", "angry", "fearful", "disgust"))
    res = make_report([a, b, c / "metrics.json", d], tmp_path / "rep", progress=False)
    md = res.markdown.read_text()
    row = md_row(md, "baseline-si")
    assert row[1:4] == ["baseline", "emobox", "speaker-independent, strict"]
    assert row[6:9] == ["45.1 ± 2.0", "46.2 ± 1.5", "44.3 ± 3.1"]
    assert row[9:] == ["377 k", "82.0 s", "12.3", "9.9"]
    assert "speaker-norm" in md_row(md, "transformer-norm")[3]
    assert md_row(md, "baseline-random")[3].startswith("speaker-dependent")
    # seed figures, with the split said
    assert md_row(md, "seed: transformer")[1:3] == ["51.4", "random (speaker-dependent)"]
    assert md_row(md, "seed: logistic baseline")[1] == "37.8" and md_row(md, "seed: wav2vec2")[1] == "62.5"
    assert "random split" in md
    # per-class recall: calm missing for the six-label run
    assert md_row(md, "calm")[1:] == ["20.0 ± 5.0", "20.0 ± 5.0", "20.0 ± 5.0", "–"]
    # per-fold rows and figures
    assert "ravdess:01, ravdess:02" in md
    pngs = sorted(p.name for p in (tmp_path / "rep" / "figures").glob("*.png"))
    assert pngs == sorted(["summary.png", "confusion-baseline-si.png", "confusion-transformer-norm.png",
                           "confusion-baseline-random.png", "confusion-crema-six.png"])
    assert all(is_png(p) for p in res.figures) and len(res.figures) == 5
    for name in pngs:
        assert f"(figures/{name})" in md
    page = res.html.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("data:image/png;base64,") == 5
    assert "45.1 ± 2.0" in page and "<td>speaker-independent, strict</td>" in page


def test_report_refuses_to_overwrite(tmp_path: Path) -> None:
    a = write_run(tmp_path, "r1", 0.4, 0.4, 0.4)
    out = tmp_path / "rep"
    make_report([a], out, progress=False)
    first = (out / "report.md").read_text()
    with pytest.raises(DataError, match="already exists.*--force"):
        make_report([a], out, progress=False)
    assert (out / "report.md").read_text() == first
    write_run(tmp_path, "r2", 0.6, 0.6, 0.6)
    res = make_report([tmp_path / "r2"], out, progress=False, force=True)
    assert "60.0 ± 2.0" in res.markdown.read_text()


def test_bad_runs(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such run"):
        load_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no metrics.json"):
        load_run(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "metrics.json").write_text('{"model": "x"}')
    with pytest.raises(DataError, match="missing protocol"):
        load_run(tmp_path / "bad")
    assert not (tmp_path / "rep").exists() or not (tmp_path / "rep" / "report.md").exists()


def synth_ravdess(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for actor in (1, 2):
        for code in range(1, 9):
            amp = 0.05 * code
            secs = 0.5 + 0.1 * code
            x = (amp * np.sin(2 * np.pi * 200 * np.arange(int(16000 * secs)) / 16000) + 0.001 * rng.standard_normal(int(16000 * secs)))
            p = root / f"Actor_{actor:02d}" / f"03-01-{code:02d}-01-01-01-{actor:02d}.wav"
            p.parent.mkdir(parents=True, exist_ok=True)
            sf.write(p, x.astype(np.float32), 16000)
    return root


def test_report_with_data_draws_exploration(tmp_path: Path) -> None:
    a = write_run(tmp_path / "runs", "baseline", 0.45, 0.46, 0.44)
    data = synth_ravdess(tmp_path / "rav")
    res = make_report([a], tmp_path / "rep", data=data, progress=False)
    md = res.markdown.read_text()
    for name in ("amplitude_by_emotion.png", "length_by_emotion.png", "mel_spectrogram.png"):
        p = tmp_path / "rep" / "figures" / name
        assert is_png(p) and f"(figures/{name})" in md
    row = md_row(md, "angry", after="## Exploring")  # code 05: 2 clips of 1.0 s
    assert row[1:3] == ["2", "1.00"]
    amp = lambda e: float(md_row(md, e, after="## Exploring")[4])  # noqa: E731
    assert amp("surprised") > amp("angry") > amp("neutral")  # louder codes, larger std  # louder code, larger std


def app_with_commands() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test app"""

    register(app)
    return app


def test_cli_report_and_data_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    app = app_with_commands()
    a = write_run(tmp_path / "runs", "baseline", 0.45, 0.46, 0.44)
    out = tmp_path / "rep"
    r = runner.invoke(app, ["report", str(a), "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    r = runner.invoke(app, ["report", str(a), "--out", str(out), "--quiet"])
    assert r.exit_code != 0 and isinstance(r.exception, DataError)
    data = synth_ravdess(tmp_path / "rav")
    r = runner.invoke(app, ["data", "inspect", str(data)])
    assert r.exit_code == 0 and re.search(r"ravdess, 16 clips, 2 speakers", r.output), r.output
    r = runner.invoke(app, ["data", "corpora"])
    assert r.exit_code == 0 and "emodb" in r.output and "manifest" in r.output
    r = runner.invoke(app, ["data", "download", "--help"])
    assert r.exit_code == 0 and "--dest" in r.output and "--restart" in r.output


def test_cli_download_from_local_server(tmp_path: Path) -> None:
    import hashlib

    from test_download import Server, make_zip

    payload = make_zip()
    runner = CliRunner()
    with Server(payload) as srv:
        r = runner.invoke(app_with_commands(), ["data", "download", "ravdess", "--dest", str(tmp_path / "rav"), "--url", srv.url,
                                                "--md5", hashlib.md5(payload).hexdigest(), "--size", str(len(payload)), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "3 files unpacked" in r.output
    assert len(list((tmp_path / "rav").rglob("*.wav"))) == 3


def test_streaming_calibration_noise_section(tmp_path: Path) -> None:
    plain = write_run(tmp_path / "runs", "baseline-x", 0.34, 0.36, 0.32)
    rich = write_run(tmp_path / "runs", "default-x", 0.758, 0.765, 0.757)
    m = json.loads((rich / "metrics.json").read_text())
    m["streamed"] = {"ua": {"mean": 0.736, "std": 0.057}}
    m["file"] = {"ua": {"mean": 0.741, "std": 0.05}, "unanswered": 3}
    m["ece"] = {"mean": 0.068, "std": 0.008}
    m["noise"] = [{"kind": "white", "snr_db": 20.0, "ua": {"mean": 0.70, "std": 0.05}},
                  {"kind": "white", "snr_db": 0.0, "ua": {"mean": 0.31, "std": 0.04}}]
    (rich / "metrics.json").write_text(json.dumps(m))
    md = make_report([plain, rich], tmp_path / "rep", progress=False).markdown.read_text()
    assert "## Streaming, files, calibration and noise" in md
    after = "## Streaming, files, calibration and noise"
    assert md_row(md, "default-x", after) == ["default-x", "75.8 ± 2.0", "73.6 ± 5.7", "74.1 ± 5.0", "3", "6.8 ± 0.8", "70.0 ± 5.0", "31.0 ± 4.0"]
    assert md_row(md, "baseline-x", after)[2:] == ["–"] * 6
    header = next(line for line in md[md.index(after):].splitlines() if line.startswith("| run"))
    assert "white 20 dB UA %" in header and header.index("white 20 dB") < header.index("white 0 dB")


def test_no_streaming_section_without_such_figures(tmp_path: Path) -> None:
    run = write_run(tmp_path / "runs", "baseline-y", 0.34, 0.36, 0.32)
    md = make_report([run], tmp_path / "rep", progress=False).markdown.read_text()
    assert "Streaming, files, calibration and noise" not in md


# ----------------------------------------------------------------------------------------------
# trained models as runs: the shipped default, a model directory, and names that are neither
# ----------------------------------------------------------------------------------------------
def shipped_meta() -> dict:
    from emomon.models import resolve_model_dir

    return json.loads((resolve_model_dir("default") / "config.json").read_text())["meta"]


def pm(stat: dict) -> str:
    return f"{100 * stat['mean']:.1f} ± {100 * stat['std']:.1f}"


needs_default = pytest.mark.skipif(not default_model_available(), reason="no shipped default model")


@needs_default
def test_report_over_the_shipped_default_alone(tmp_path: Path) -> None:
    meta = shipped_meta()
    res = make_report(["default"], tmp_path / "rep", progress=False)
    md = res.markdown.read_text()
    row = md_row(md, "default", "## Summary")
    assert row[1:4] == [meta["recipe"], meta["protocol"].split()[0], "speaker-independent, strict"]
    assert row[5] == str(meta["n_utterances"])
    assert row[6:9] == [pm(meta["ua"]), pm(meta["wa"]), pm(meta["f1"])]
    assert row[9:] == ["n/a"] * 4
    streamed = md_row(md, "default", "## Streaming, files, calibration and noise")
    file_ua = pm(meta["file_ua"]) if meta.get("file_ua") else "–"
    answered = str(meta["file_unanswered"]) if meta.get("file_unanswered") is not None else "–"
    assert streamed[1:] == [pm(meta["ua"]), pm(meta["streamed_ua"]), file_ua, answered, pm(meta["ece"])]
    details = md[md.index("## Runs in detail"):]
    assert md_row(details, "source")[1] == "shipped model"
    assert md_row(details, "protocol")[1] == parse_card(meta).protocol_detail and md_row(details, "command")[1] == meta["command"]
    assert "default: confusion matrix n/a" in md and "none of these runs carries per-class recall" in md
    assert sorted(p.name for p in (tmp_path / "rep" / "figures").glob("*.png")) == ["summary.png"]
    assert "<td>shipped model</td>" in res.html.read_text()


@needs_default
def test_report_mixes_a_run_folder_and_the_shipped_default(tmp_path: Path) -> None:
    from emomon.models import resolve_model_dir

    meta = shipped_meta()
    a = write_run(tmp_path / "runs", "baseline-si", 0.451, 0.462, 0.443)
    model_dir = resolve_model_dir("default")
    res = make_report([a, model_dir], tmp_path / "rep", progress=False)  # the model by its directory
    md = res.markdown.read_text()
    assert md_row(md, "baseline-si")[6] == "45.1 ± 2.0" and md_row(md, "default")[6] == pm(meta["ua"])
    assert md_row(md, "calm", "## Per-class recall")[1:] == ["20.0 ± 5.0", "n/a"]
    assert "n/a: not available for default" in md
    assert md_row(md, "baseline-si", "## Streaming")[2:] == ["–"] * 4  # a run without these figures: a plain dash
    assert md_row(md, "default", "## Streaming")[2] == pm(meta["streamed_ua"])
    pngs = sorted(p.name for p in (tmp_path / "rep" / "figures").glob("*.png"))
    assert pngs == ["confusion-baseline-si.png", "summary.png"]
    assert "ravdess:01, ravdess:02" in md  # the run's per-fold rows are still there
    assert md_row(md[md.index("### default"):], "source")[1] == "model directory"


def test_report_model_directory_without_figures(tmp_path: Path) -> None:
    from conftest import make_test_model_dir

    d = make_test_model_dir(tmp_path / "energy")  # meta: a description only
    md = make_report([d / "config.json"], tmp_path / "rep", progress=False).markdown.read_text()
    row = md_row(md, "energy", "## Summary")
    assert row[1:4] == ["test-energy", "–", "unknown (not recorded)"] and row[6:9] == ["–", "–", "–"]
    assert md_row(md, "description", "### energy")[1] == "test model (energy + ZCR)"
    (d / "model.safetensors").unlink()
    with pytest.raises(DataError, match="no model.safetensors"):
        load_run(d)


def test_report_unknown_name_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(DataError, match="no such run folder, metrics.json, model directory or shipped model"):
        make_report(["no-such-model"], tmp_path / "rep", progress=False)
    assert not (tmp_path / "rep").exists()
    from emomon.cli import main

    rc = main(["report", "no-such-model", "--out", str(tmp_path / "rep"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and err.startswith("emomon: error: no-such-model: no such run folder"), err


@needs_default
def test_cli_report_accepts_the_shipped_name(tmp_path: Path) -> None:
    r = CliRunner().invoke(app_with_commands(), ["report", "default", "--out", str(tmp_path / "rep"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "| default | default |" in (tmp_path / "rep" / "report.md").read_text()


# ----------------------------------------------------------------------------------------------
# metrics.json written through RunResults: per test corpus, pairs folds, the online-adaptive curve
# ----------------------------------------------------------------------------------------------
FOUR = ("neutral", "happy", "sad", "angry")


def figs(ua: float, sd: float = 0.0, *, wa: float | None = None, f1: float | None = None, ece: float | None = None,
         n: int | None = None) -> Figures:
    return Figures(Score(ua, sd), Score(wa if wa is not None else ua + 0.01, sd), Score(f1 if f1 is not None else ua - 0.01, sd),
                   {lab: Score(ua, sd) for lab in FOUR}, ece=None if ece is None else Score(ece, 0.01), n=n)


def fold(fid: str, ua: float, wa: float, f1: float, n_test: int = 100) -> FoldResult:
    return FoldResult(fid, [f"{fid}:s1"], 400, n_test, ua, wa, f1, {lab: ua for lab in FOUR}, train_seconds=3.0, ece=0.05)


def results(model: str, *, protocol: str = "loco", folds: list[FoldResult] | None = None, corpora: dict[str, Figures] | None = None,
            online: OnlineAdaptive | None = None) -> RunResults:
    return RunResults(
        model=model, protocol=protocol, speaker_independent=True, mode="strict", labels=list(FOUR), data="ravdess=/d/r savee=/d/s",
        n_utterances=600, ua=Score(0.6, 0.05), wa=Score(0.62, 0.04), f1=Score(0.59, 0.03), per_class_recall={lab: Score(0.6, 0.1) for lab in FOUR},
        folds=folds or [fold("ravdess", 0.55, 0.56, 0.54), fold("savee", 0.65, 0.66, 0.64)],
        confusion=(np.eye(4, dtype=int) * 20 + 2).tolist(), ece=Score(0.07, 0.01), num_parameters=1234, train_seconds=6.0,
        corpora=corpora or {}, online_adaptive=online, created="2025-01-01T00:00:00+00:00", emomon_version="0.2.0",
    )


def write_results(root: Path, name: str, res: RunResults) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps(res.to_dict()))
    return d


def section(md: str, heading: str) -> str:
    """The text of the section that starts at ``heading``, up to the next heading of the same or a higher level."""
    start = md.index(heading + "\n")
    level = heading.split(" ")[0]
    ends = [i for i in (md.find("\n## ", start + 1), md.find(f"\n{level} ", start + 1)) if i > 0]
    return md[start:min(ends)] if ends else md[start:]


def table_rows(text: str, first_cell: str) -> list[list[str]]:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines() if line.startswith("|")]
    return [r for r in rows if r[0] == first_cell]


def test_per_test_corpus_and_pairs_tables(tmp_path: Path) -> None:
    adapted = fold("savee_to_ravdess", 0.412, 0.431, 0.405, 192)
    adapted.online = {"0": Row(0.41, 0.42, 0.4), "10": Row(0.633, 0.64, 0.62), "all": Row(0.671, 0.68, 0.66)}
    adapted.collapse = Collapse("disgust", 0.7041, 1.2149, 2.0)
    ravdess = replace(figs(0.412, ece=0.081, n=192, wa=0.431, f1=0.405), collapse=Collapse("disgust", 0.7041, 1.2149, 2.0))
    pairs = results("pairs-run", protocol="pairs",
                    folds=[adapted, fold("ravdess_to_savee", 0.523, 0.55, 0.5, 120)],
                    corpora={"ravdess": ravdess, "savee": figs(0.523, ece=0.112, n=120, wa=0.55, f1=0.5)})
    loco = results("loco-run", corpora={"ravdess": figs(0.551, 0.0, ece=0.06, n=300), "savee": figs(0.648, 0.0, ece=0.09, n=300),
                                        "emodb": figs(0.702, 0.021, ece=0.05, n=200)})
    old = write_run(tmp_path / "runs", "old-run", 0.45, 0.46, 0.44)
    runs = [write_results(tmp_path / "runs", "pairs-run", pairs), write_results(tmp_path / "runs", "loco-run", loco), old]
    md = make_report(runs, tmp_path / "rep", progress=False).markdown.read_text()
    corpora = section(md, "## Per test corpus")
    table = section(corpora, "## Per test corpus")[: corpora.index("### Cross-corpus pairs")]
    # the collapse columns: the largest predicted class with its share, entropy against its ceiling; – when not recorded
    assert table_rows(table, "pairs-run") == [["pairs-run", "ravdess", "192", "41.2 ± 0.0", "43.1 ± 0.0", "40.5 ± 0.0", "8.1 ± 1.0",
                                               "disgust 70.4", "1.21 / 2.00"],
                                              ["pairs-run", "savee", "120", "52.3 ± 0.0", "55.0 ± 0.0", "50.0 ± 0.0", "11.2 ± 1.0", "–", "–"]]
    assert [r[1:4] + r[6:7] for r in table_rows(table, "loco-run")] == [
        ["ravdess", "300", "55.1 ± 0.0", "6.0 ± 1.0"], ["savee", "300", "64.8 ± 0.0", "9.0 ± 1.0"], ["emodb", "200", "70.2 ± 2.1", "5.0 ± 1.0"]]
    assert table_rows(corpora, "old-run") == []  # no per-corpus figures in an old metrics.json: not listed
    pair_rows = table_rows(section(md, "### Cross-corpus pairs"), "pairs-run")
    assert pair_rows == [["pairs-run", "savee_to_ravdess", "savee", "ravdess", "192", "41.2", "43.1", "40.5", "5.0",
                          "disgust 70.4", "1.21 / 2.00", "63.3", "67.1"],
                         ["pairs-run", "ravdess_to_savee", "ravdess", "savee", "120", "52.3", "55.0", "50.0", "5.0", "–", "–", "–", "–"]]
    assert table_rows(section(md, "### Cross-corpus pairs"), "loco-run") == []  # only the pairs protocol has that table
    assert md_row(md, "loco-run", "## Summary")[6] == "60.0 ± 5.0"


def test_no_corpus_or_online_section_without_such_figures(tmp_path: Path) -> None:
    one = results("one-corpus", protocol="emobox", corpora={"ravdess": figs(0.6, 0.05, n=1440)})
    runs = [write_run(tmp_path / "runs", "old-run", 0.45, 0.46, 0.44), write_results(tmp_path / "runs", "one-corpus", one)]
    md = make_report(runs, tmp_path / "rep", progress=False).markdown.read_text()
    assert "## Summary" in md and "## Per test corpus" not in md  # a single corpus's row would repeat the summary
    assert "Online-adaptive" not in md and "online-adaptive" not in md


def online_curve() -> OnlineAdaptive:
    uas = {"0": 0.553, "5": 0.581, "10": 0.604, "20": 0.627, "all": 0.612}
    points = [OnlinePointFigures(h, figs(ua, 0.03, ece=0.09 - 0.01 * i)) for i, (h, ua) in enumerate(uas.items())]
    per_corpus = {"ravdess": [OnlinePointFigures(h, figs(ua - 0.1, 0.02)) for h, ua in uas.items()],
                  "savee": [OnlinePointFigures(h, figs(ua + 0.1, 0.04)) for h, ua in uas.items()]}
    return OnlineAdaptive(points[::-1], corpora=per_corpus)  # stored out of order: the report sorts 0, 5, 10, 20, all


def test_online_adaptive_section_is_labelled_and_separate(tmp_path: Path) -> None:
    adaptive = results("adapt-run", corpora={"ravdess": figs(0.5, n=300), "savee": figs(0.7, n=300)}, online=online_curve())
    runs = [write_results(tmp_path / "runs", "adapt-run", adaptive), write_run(tmp_path / "runs", "old-run", 0.45, 0.46, 0.44)]
    res = make_report(runs, tmp_path / "rep", progress=False)
    md = res.markdown.read_text()
    heading = "## Online-adaptive mode (labelled, not strict)"
    online = section(md, heading)
    assert "seeded random order" in online and "clips before it only" in online and "`online-adaptive`" in online
    curve = section(online, heading)[: online.index("### ")]
    assert [r[:4] for r in table_rows(curve, "adapt-run")] == [
        ["adapt-run", "0", "55.3 ± 3.0", "9.0 ± 1.0"], ["adapt-run", "5", "58.1 ± 3.0", "8.0 ± 1.0"],
        ["adapt-run", "10", "60.4 ± 3.0", "7.0 ± 1.0"], ["adapt-run", "20", "62.7 ± 3.0", "6.0 ± 1.0"],
        ["adapt-run", "all", "61.2 ± 3.0", "5.0 ± 1.0"]]
    assert table_rows(online, "old-run") == []
    per_corpus = table_rows(section(md, "### Online-adaptive mode per test corpus"), "adapt-run")
    assert [r[1:4] for r in per_corpus] == [["ravdess", h, pct(Score(ua - 0.1, 0.02))] for h, ua in
                                            (("0", 0.553), ("5", 0.581), ("10", 0.604), ("20", 0.627), ("all", 0.612))] + \
                                           [["savee", h, pct(Score(ua + 0.1, 0.04))] for h, ua in
                                            (("0", 0.553), ("5", 0.581), ("10", 0.604), ("20", 0.627), ("all", 0.612))]
    strict = md[: md.index(heading)]
    assert md_row(strict, "adapt-run", "## Summary")[6] == "60.0 ± 5.0"  # the strict figure stays the summary's
    assert "55.3" not in strict and "62.7" not in strict  # no online-adaptive figure among the strict ones
    assert "<h2>Online-adaptive mode (labelled, not strict)</h2>" in res.html.read_text()


def test_old_metrics_json_still_loads(tmp_path: Path) -> None:
    """A metrics.json from before per-corpus and online-adaptive figures, and an older one with bare numbers."""
    run = load_run(write_run(tmp_path, "old", 0.45, 0.46, 0.44))
    assert run.results is not None and run.results.corpora == {} and run.online is None and run.corpora == {}
    assert run.n_folds == 2 and pct(run.ua) == "45.0 ± 2.0" and run.folds is not None and run.folds[1].ua == pytest.approx(0.46)
    oldest = tmp_path / "oldest"
    oldest.mkdir()
    (oldest / "metrics.json").write_text(json.dumps({
        "model": "baseline", "protocol": "loso", "ua": 0.512, "wa": 0.533, "f1": 0.5,
        "folds": [{"fold": "01", "ua": 0.5, "wa": 0.52, "f1": 0.49}]}))
    md = make_report([oldest], tmp_path / "rep", progress=False).markdown.read_text()
    assert md_row(md, "oldest", "## Summary")[1:9] == ["baseline", "loso", "speaker-independent, strict", "1", "–", "51.2", "53.3", "50.0"]
    assert "oldest: no confusion matrix in its metrics.json." in md
    assert table_rows(section(md, "### oldest"), "01") == [["01", "", "–", "–", "50.0", "52.0", "49.0", "–"]]


def test_metrics_round_trip_and_malformed(tmp_path: Path) -> None:
    res = results("rt", corpora={"ravdess": figs(0.5, n=3)}, online=online_curve())
    run = load_run(write_results(tmp_path, "rt", res))
    assert run.results == RunResults.from_dict(res.to_dict()) and run.results.to_dict() == res.to_dict()
    bad = res.to_dict()
    bad["confusion"] = [["x", 1], [1, 2]]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "metrics.json").write_text(json.dumps(bad))
    with pytest.raises(DataError, match="malformed metrics"):
        load_run(tmp_path / "bad")

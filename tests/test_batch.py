"""``emomon batch`` on a local Ray: the Parquet rows are ``emomon file``'s results, bad files are
error rows, finished shards are skipped on a rerun, a half-written shard never counts, other
settings are refused, Ctrl-C leaves a job the same call resumes.

One local Ray (2 CPUs) serves the module. Its workers import this module first
(``worker_process_setup_hook``), which registers the tests' toy architecture, so the actors load
the test model from its directory exactly as they load a shipped one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import RAVDESS, SR, default_model_available, emomon_command, help_imports, synth_speechlike  # noqa: F401 - registers test-energy
from emomon.batch import BatchItem, list_inputs, plan_shards, read_results, run_batch
from emomon.batch.inputs import read_manifest
from emomon.batch.job import RayOptions, ShardWriter
from emomon.batch.state import STATE_NAME
from emomon.cli import main
from emomon.errors import DataError
from emomon.labels import EMOTIONS
from emomon.records import FileResult
from emomon.timeline.analyze import FileOptions, analyze_or_error

TESTS = Path(__file__).resolve().parent
NOT_AUDIO = "not an audio file (format not recognised)"
RAY_OPTS = RayOptions(actors=2, batch_size=2)


def _worker_setup() -> None:
    """Ray's worker setup hook: importing this module registered ``test-energy``."""


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray for the module (2 CPUs), shut down at its end."""
    ray = pytest.importorskip("ray")
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), *([old] if old else [])])  # the workers find this module
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
             runtime_env={"worker_process_setup_hook": f"{__name__}._worker_setup"})
    try:
        yield ray
    finally:
        ray.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def _write_clips(folder: Path) -> None:
    """Six speech clips (RAVDESS when ../shared has it, else synthesized), silence, not-audio."""
    import soundfile as sf

    folder.mkdir(parents=True)
    (folder / "sub").mkdir()
    clips = sorted((RAVDESS / "Actor_01").glob("03-01-0[1-6]-01-01-01-01.*")) if RAVDESS.is_dir() else []
    for i in range(6):
        dest = folder / ("sub" if i % 2 else ".") / f"clip{i}.flac"
        if len(clips) == 6:
            shutil.copy(clips[i], dest)
        else:
            sf.write(dest, synth_speechlike(2.5 + 0.3 * i, f0=120 + 40 * i, amp=0.1 + 0.08 * i, seed=i), SR)
    sf.write(folder / "silence.wav", np.zeros(2 * SR, dtype=np.float32), SR)
    (folder / "bad.wav").write_text("this is not audio\n")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("batch") / "audio"
    _write_clips(folder)
    return folder


@pytest.fixture(scope="module")
def first_run(ray_local, clips: Path, test_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """One job over the clips: 8 files in 4 shards of 2."""
    out = tmp_path_factory.mktemp("batch-out") / "out"
    summary = run_batch([str(clips)], out, test_model_dir, shard_size=2, ray_options=RAY_OPTS)
    return out, summary


def _expected(clips: Path, model) -> list[FileResult]:  # noqa: ANN001
    return [analyze_or_error(it.path, model, FileOptions()) for it in list_inputs(str(clips))]


def assert_same(got: FileResult, want: FileResult, tol: float = 1e-6) -> None:
    """Equal results: everything exact but the scores, equal to ``tol`` (the actors run torch on
    one thread, this process on more)."""
    assert (got.path, got.label, got.reason, got.uncertain, got.error) == (want.path, want.label, want.reason, want.uncertain, want.error)
    assert got.duration == want.duration and got.speech == pytest.approx(want.speech, abs=1e-9)
    assert (got.scores is None) == (want.scores is None)
    if want.scores is not None:
        assert got.scores == pytest.approx(want.scores, abs=tol)
    assert len(got.segments) == len(want.segments)
    for g, w in zip(got.segments, want.segments):
        assert (g.start, g.end, g.label, g.uncertain) == (w.start, w.end, w.label, w.uncertain)
        assert g.scores == pytest.approx(w.scores, abs=tol)


def _mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(out.glob("part-*.parquet"))}


# -- the rows --------------------------------------------------------------------------------------
def test_rows_are_emomon_files_results(first_run, clips: Path, test_model) -> None:
    out, summary = first_run
    assert (summary.shards, summary.files, summary.written, summary.skipped, summary.errors) == (4, 8, 4, 0, 1)
    assert summary.complete and not summary.interrupted
    got = list(read_results(out))
    want = _expected(clips, test_model)
    assert [r.path for r in got] == sorted((str(p) for p in clips.rglob("*.*")), key=lambda p: Path(p).parts)
    for g, w in zip(got, want, strict=True):
        assert_same(g, w)
    by_name = {Path(r.path).name: r for r in got}
    assert by_name["bad.wav"].error == NOT_AUDIO and by_name["bad.wav"].duration is None
    assert by_name["silence.wav"].label is None and by_name["silence.wav"].reason == "no speech"
    assert sum(len(r.segments) for r in got) > 6  # several clips have several segments
    assert all(by_name[f"clip{i}.flac"].label is not None for i in range(6))


def test_parquet_columns(first_run) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out, _ = first_run
    table = pq.read_table(out / "part-00000.parquet")
    assert table.column_names == ["path", "duration", "speech", "label", "reason", "uncertain", *EMOTIONS, "segments", "error"]
    assert all(table.schema.field(lab).type == pa.float64() for lab in EMOTIONS)
    segment = table.schema.field("segments").type.value_type
    assert [segment.field(i).name for i in range(segment.num_fields)] == ["start", "end", "label", "uncertain", "scores"]
    assert [f.name for f in segment.field("scores").type] == list(EMOTIONS)
    rows = pq.read_table(out).to_pylist()  # the whole folder reads as one table
    assert len(rows) == 8 and sum(r["error"] is not None for r in rows) == 1
    speech = [r for r in rows if r["label"] is not None]
    assert all(abs(sum(r[lab] for lab in EMOTIONS) - 1) < 1e-6 for r in speech)


# -- resuming --------------------------------------------------------------------------------------
def test_resume_redoes_only_unfinished_shards(ray_local, first_run, test_model_dir: Path, clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(first_run[0], out)
    before = _mtimes(out)
    want = {r.path: r for r in read_results(out)}
    (out / "part-00001.parquet").unlink()  # lost
    half = (out / "part-00002.parquet").read_bytes()
    (out / "part-00002.parquet").unlink()  # killed while writing it: only its temporary file is there
    (out / ".part-00002.parquet.x1y2z3.tmp").write_bytes(half[: len(half) // 2])
    (out / "part-00003.parquet").write_bytes(half[: len(half) // 2])  # a truncated file under the final name
    time.sleep(0.01)
    summary = run_batch([str(clips)], out, test_model_dir, shard_size=2, ray_options=RAY_OPTS)
    assert (summary.skipped, summary.written, summary.errors) == (1, 3, 1) and summary.complete
    after = _mtimes(out)
    assert after["part-00000.parquet"] == before["part-00000.parquet"]  # never rewritten
    assert all(after[n] != before[n] for n in ("part-00001.parquet", "part-00002.parquet", "part-00003.parquet"))
    assert not list(out.glob(".*.tmp"))
    for r in read_results(out):
        assert_same(r, want[r.path])
    again = run_batch([str(clips)], out, test_model_dir, shard_size=2, ray_options=RAY_OPTS)
    assert (again.skipped, again.written, again.errors) == (4, 0, 1) and _mtimes(out) == after


def test_interrupted_job_resumes(ray_local, clips: Path, test_model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C after the first shard: the summary says so, the shard stays, a rerun does the rest."""
    out = tmp_path / "out"
    write = ShardWriter._write

    def write_then_interrupt(self, shard):  # noqa: ANN001, ANN202
        write(self, shard)
        raise KeyboardInterrupt

    monkeypatch.setattr(ShardWriter, "_write", write_then_interrupt)
    summary = run_batch([str(clips)], out, test_model_dir, shard_size=3, ray_options=RAY_OPTS)
    assert summary.interrupted and (summary.written, summary.done, summary.shards) == (1, 1, 3)
    first = _mtimes(out)
    assert len(first) == 1
    monkeypatch.setattr(ShardWriter, "_write", write)
    rest = run_batch([str(clips)], out, test_model_dir, shard_size=3, ray_options=RAY_OPTS)
    assert (rest.skipped, rest.written) == (1, 2) and rest.complete and not rest.interrupted
    assert {n: t for n, t in _mtimes(out).items() if n in first} == first
    assert len(list(read_results(out))) == 8


# -- settings ---------------------------------------------------------------------------------------
def test_other_settings_are_refused(first_run, clips: Path, test_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(first_run[0], out)
    before = _mtimes(out)
    run = lambda inputs, **kw: run_batch(inputs, out, test_model_dir, ray_options=RAY_OPTS, **{"shard_size": 2, **kw})  # noqa: E731
    with pytest.raises(DataError, match=r"other settings \(min_confidence: None -> 0\.6\).*--force"):
        run([str(clips)], options=FileOptions(min_confidence=0.6))
    with pytest.raises(DataError, match=r"shard_size: 2 -> 3"):
        run([str(clips)], shard_size=3)
    with pytest.raises(DataError, match=r"precision: 'auto' -> 'fp32'; backend: 'torch' -> 'onnx'"):
        run([str(clips)], precision="fp32", backend="onnx")
    with pytest.raises(DataError, match=r"the input files"):
        run([str(clips / "sub")])
    with pytest.raises(DataError, match=r"the model's files"):
        from conftest import make_test_model_dir

        other = make_test_model_dir(tmp_path / "other-model", window=1.5)
        run_batch([str(clips)], out, other, shard_size=2)
    assert _mtimes(out) == before  # nothing was touched


def test_force_starts_again_and_keeps_other_files(ray_local, first_run, clips: Path, test_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(first_run[0], out)
    (out / "notes.txt").write_text("mine")
    summary = run_batch([str(clips / "sub")], out, test_model_dir, shard_size=2, ray_options=RAY_OPTS, force=True)
    assert (summary.shards, summary.written, summary.skipped) == (2, 2, 0)
    assert sorted(p.name for p in out.iterdir()) == [STATE_NAME, "notes.txt", "part-00000.parquet", "part-00001.parquet"]
    assert [Path(r.path).name for r in read_results(out)] == ["clip1.flac", "clip3.flac", "clip5.flac"]


def test_a_loaded_model_is_shipped_to_the_actors(ray_local, clips: Path, test_model, tmp_path: Path) -> None:
    summary = run_batch([str(clips / "sub")], tmp_path / "out", test_model, shard_size=2, ray_options=RAY_OPTS)
    assert (summary.shards, summary.written, summary.errors) == (2, 2, 0)
    got = list(read_results(tmp_path / "out"))
    for g, w in zip(got, [analyze_or_error(r.path, test_model) for r in got], strict=True):
        assert_same(g, w)
    assert all(r.label is not None for r in got)


def test_shards_without_state_are_not_overwritten(clips: Path, test_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "part-00000.parquet").write_bytes(b"someone else's")
    with pytest.raises(DataError, match=r"no _batch\.json: not an emomon batch job's"):
        run_batch([str(clips)], out, test_model_dir)
    assert (out / "part-00000.parquet").read_bytes() == b"someone else's"


# -- inputs -----------------------------------------------------------------------------------------
def test_manifests(clips: Path, tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text(f"speaker,PATH\nx,{clips}/sub/clip3.flac\ny,../{tmp_path.name}/missing.wav\nz,{clips}/bad.wav\n")
    (tmp_path / "m.jsonl").write_text(f'{{"path": "{clips}/clip0.flac", "label": "angry"}}\n\n{{"path": "{clips}/sub/clip3.flac"}}\n')
    items = list_inputs([str(tmp_path / "m.csv"), str(tmp_path / "m.jsonl")])
    assert [Path(it.path).name for it in items] == ["bad.wav", "clip0.flac", "clip3.flac", "missing.wav"]
    assert items[-1] == BatchItem(str(tmp_path / ".." / tmp_path.name / "missing.wav"), None)  # the actor says why: a row
    (tmp_path / "nopath.csv").write_text("file,label\na.wav,angry\n")
    with pytest.raises(DataError, match="no path column"):
        read_manifest(tmp_path / "nopath.csv")
    (tmp_path / "bad.jsonl").write_text('{"path": "a.wav"}\n[1]\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2: each line must be a JSON object"):
        read_manifest(tmp_path / "bad.jsonl")
    with pytest.raises(DataError, match="no such file"):
        list_inputs([str(clips), str(tmp_path / "nowhere")])


def test_shards_are_deterministic(clips: Path) -> None:
    items = list_inputs(str(clips))
    assert [Path(it.path).name for it in items] == ["bad.wav", "clip0.flac", "clip2.flac", "clip4.flac", "silence.wav",
                                                   "clip1.flac", "clip3.flac", "clip5.flac"]
    shards = plan_shards(items, 3)
    assert [len(s.items) for s in shards] == [3, 3, 2] and [s.name for s in shards] == [f"part-0000{i}.parquet" for i in range(3)]
    assert [it for s in shards for it in s.items] == items
    assert plan_shards(list_inputs([str(clips / "sub"), str(clips)]), 3) == shards  # the same files, the same shards
    with pytest.raises(DataError, match="shard_size"):
        plan_shards(items, 0)


# -- the command -------------------------------------------------------------------------------------
def test_command_runs_resumes_and_refuses(ray_local, clips: Path, test_model_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    args = ["batch", str(clips), "--out", str(out), "--model", str(test_model_dir), "--shard-size", "4", "--actors", "2"]
    assert main(args) == 1  # one file is an error row
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"emomon: batch: 2 shards in {out}: 8 files, 1 error row (see the error column); ")
    assert main(args) == 1
    assert "(2 from an earlier run)" in capsys.readouterr().err
    assert main([*args[:-4], "--shard-size", "2"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"emomon: error: {out}: holds the results of a batch job with other settings (shard_size: 4 -> 2): "
                   "rerun with those settings to resume it, choose another --out, or use --force to start again")
    assert main(["batch", str(clips / "sub"), "--out", str(tmp_path / "o2"), "--model", str(test_model_dir)]) == 0
    assert "3 files, no errors" in capsys.readouterr().err


def test_a_model_that_cannot_load_is_one_line_before_ray(clips: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad-model"
    bad.mkdir()
    shutil.copy(Path(__file__).parents[1] / "emomon" / "pretrained" / "default" / "config.json", bad)
    (bad / "model.safetensors").write_bytes(b"garbage")
    assert main(["batch", str(clips), "--out", str(tmp_path / "out"), "--model", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"emomon: error: {bad / 'model.safetensors'}: cannot read weights"), err
    assert not list((tmp_path / "out").glob("part-*"))


def test_an_address_where_nothing_listens_is_one_line() -> None:
    import socket

    from emomon.batch.job import check_address
    from emomon.errors import EmomonError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed
    started = time.monotonic()
    with pytest.raises(EmomonError, match=r"no Ray cluster answers there \(Connection refused\); start one with `ray start --head`"):
        check_address(f"127.0.0.1:{port}")
    assert time.monotonic() - started < 5
    check_address("auto")  # left to Ray


def test_command_without_ray() -> None:
    code = ("import sys; sys.modules['ray'] = None\n"
            "from emomon.cli import main; sys.exit(main(['batch', '.', '--out', 'nowhere']))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.strip() == "emomon: error: ray: not installed: emomon batch needs it: pip install 'emomon[batch]'"
    assert not Path("nowhere").exists()


def test_help_imports_neither_ray_nor_torch() -> None:
    p = help_imports([["--help"], ["batch", "--help"]], ("torch", "numpy", "ray", "pyarrow", "onnxruntime"))
    assert p.returncode == 0 and "--address" in p.stdout and p.stdout.strip().splitlines()[-1] == "[]", p.stdout + p.stderr


# -- the real command: its own local Ray, the shipped model ------------------------------------------
def _batch_command(clips: Path, out: Path, *extra: str, **popen) -> subprocess.Popen:  # noqa: ANN003
    return subprocess.Popen([sys.executable, "-m", "emomon", "batch", str(clips), "--out", str(out), "--num-cpus", "2", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


@pytest.mark.slow
def test_command_with_the_shipped_model(clips: Path, tmp_path: Path) -> None:
    """`emomon batch` starts its own local Ray, and its rows are `emomon file`'s with the default model."""
    if not default_model_available():
        pytest.skip("the shipped default model is not installed")
    from emomon.stream.api import open_model

    out = tmp_path / "out"
    _, err = _batch_command(clips, out, "--shard-size", "3").communicate(timeout=600)
    assert err.strip().splitlines()[-1].startswith(f"emomon: batch: 3 shards in {out}: 8 files, 1 error row"), err
    model = open_model("default", "cpu")  # as `emomon file` opens it
    # bf16 (auto on AMX/AVX512-BF16) runs the encoder on a bf16 weight copy, whose scores differ by
    # ~1e-3 between processes with other thread counts (Ray's workers); fp32 is exact
    tol = 1e-6 if model.precision == "fp32" else 5e-3
    for got, want in zip(read_results(out), _expected(clips, model), strict=True):
        assert_same(got, want, tol)


@pytest.mark.slow
def test_ctrl_c_then_the_same_command_resumes(clips: Path, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the command's process group, as a terminal sends it) exits 130 with one line;
    the same command then does only the shards that were missing."""
    if not default_model_available():
        pytest.skip("the shipped default model is not installed")
    many = tmp_path / "many"
    many.mkdir()
    for i in range(24):  # one file a shard and a call: the job is far from done when the first shard is
        shutil.copy(clips / ("sub" if i % 2 else ".") / f"clip{i % 6}.flac", many / f"{i:02d}.flac")
    out = tmp_path / "out"
    args = ("--shard-size", "1", "--batch-size", "1")
    p = _batch_command(many, out, *args, "--actors", "1", start_new_session=True)
    deadline = time.monotonic() + 300
    while not (out / "part-00000.parquet").exists() and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=120)
    done = _mtimes(out)
    assert p.returncode == 130, err
    assert err.strip().splitlines()[-1] == (f"emomon: interrupted: {len(done)} of 24 shards done in {out}; "
                                            "run the same command to resume"), err
    assert 1 <= len(done) < 24 and not list(out.glob(".*.tmp"))
    again = _batch_command(many, out, *args)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0 and f"({len(done)} from an earlier run)" in err, err
    assert {n: t for n, t in _mtimes(out).items() if n in done} == done and len(_mtimes(out)) == 24
    assert [Path(r.path).name for r in read_results(out)] == sorted(p.name for p in many.iterdir())

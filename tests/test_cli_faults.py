"""Faults around the command line: a closed pipe, a full disk, a window too short, a bad file in
a streamed folder. The pipe and disk cases run the installed ``emomon`` in real subprocesses."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import soundfile as sf

from conftest import SR, synth_speechlike
from emomon import defaults
from emomon.cli import main
from emomon.errors import EmomonError, OutputError
from emomon.labels import EMOTIONS
from emomon.models.open import check_window_fits
from emomon.records import SessionInfo, SessionSummary

EMOMON = str(Path(sys.executable).with_name("emomon"))
DEV_FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full on this system")


@pytest.fixture(scope="session")
def baseline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real architecture the installed ``emomon`` knows (``baseline``), cheap to run."""
    from emomon.models import ModelConfig
    from emomon.models.baseline import BaselineModel

    d = tmp_path_factory.mktemp("model") / "baseline"
    BaselineModel(ModelConfig(architecture="baseline", labels=list(EMOTIONS), sample_rate=SR, window=1.0, hop=0.25)).save(d)
    return d


@pytest.fixture(scope="session")
def many_clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Twenty distinct short clips (the same file twice is one input)."""
    d = tmp_path_factory.mktemp("clips")
    paths = []
    for i in range(20):
        paths.append(d / f"c{i:02d}.wav")
        sf.write(paths[-1], synth_speechlike(0.5, f0=120 + 10 * i, seed=i), SR)
    return paths


def _emomon(*args: object, **kw: object) -> subprocess.CompletedProcess:
    return subprocess.run([EMOMON, *map(str, args)], capture_output=True, text=True, timeout=180, **kw)


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- a closed pipe ---------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [["-f", "json"], ["-f", "table"], ["--stream", "--fast", "--no-ui"]])
def test_a_reader_gone_before_any_output_is_a_quiet_normal_end(baseline_dir: Path, many_clips: list[Path], extra: list[str]) -> None:
    p = subprocess.Popen([EMOMON, "file", *map(str, many_clips[:3]), "--model", str(baseline_dir), "--vad", "off", *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()  # the reader goes away: every write of emomon's meets a closed pipe
    err = p.stderr.read().decode()
    assert p.wait(timeout=180) == 0 and err == ""


def test_head_dash_1_under_pipefail(baseline_dir: Path, many_clips: list[Path]) -> None:
    script = ('set -o pipefail; "$@" | head -1; echo "status ${PIPESTATUS[0]}" >&2')
    p = subprocess.run(["bash", "-c", script, "bash", EMOMON, "file", *map(str, many_clips), "--model", str(baseline_dir),
                        "-f", "json", "--vad", "off"], capture_output=True, text=True, timeout=180)
    assert json.loads(p.stdout)["path"] == str(many_clips[0])
    assert p.stderr == "status 0\n" and p.returncode == 0


def test_a_closed_pipe_after_a_failed_file_still_says_it_failed(baseline_dir: Path, many_clips: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    p = subprocess.Popen([EMOMON, "file", str(bad), *map(str, many_clips[:3]), "--model", str(baseline_dir), "-f", "json", "--vad", "off"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()
    err = p.stderr.read().decode().splitlines()
    assert p.wait(timeout=180) == 1 and len(err) == 1 and err[0].startswith(f"emomon: error: {bad}: ")


def test_a_stopped_worker_drops_the_windows_still_queued() -> None:
    """A stream ended early (a closed pipe, an error) must not leave the inference thread scoring
    a backlog while the process exits (torch then aborts it: "terminate called...")."""
    import time

    import numpy as np

    from emomon.features.windows import Window
    from emomon.stream.worker import InferenceWorker, Job

    class Slow:
        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            time.sleep(0.2)
            return np.full((len(x), len(EMOTIONS)), 1 / len(EMOTIONS), dtype=np.float32)

    worker = InferenceWorker(Slow(), max_batch=1)  # type: ignore[arg-type]
    for i in range(20):  # 4 s of scoring queued
        worker.submit(Job(Window("s", i, np.zeros(SR, np.float32), SR, i + 1.0, 0.0, SR), speech=1.0))
    worker.start()
    thread = worker._thread
    t0 = time.monotonic()
    worker.stop(timeout=3.0)
    assert time.monotonic() - t0 < 1.0 and thread is not None and not thread.is_alive()
    assert worker.windows <= 2 and worker.pending == 0


def test_a_stop_waits_for_the_batch_being_scored() -> None:
    """The batch in the model's hands when a stream stops is finished before the monitor returns,
    however slow (a process that exits under it aborts); only the queued ones are dropped."""
    import time

    import numpy as np

    from emomon.features.windows import Window
    from emomon.stream.worker import InferenceWorker, Job

    class VerySlow:
        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            time.sleep(2.5)  # longer than the 2 s the monitor used to wait
            return np.full((len(x), len(EMOTIONS)), 1 / len(EMOTIONS), dtype=np.float32)

    worker = InferenceWorker(VerySlow(), max_batch=1)  # type: ignore[arg-type]
    for i in range(3):
        worker.submit(Job(Window("s", i, np.zeros(SR, np.float32), SR, i + 1.0, 0.0, SR), speech=1.0))
    worker.start()
    thread = worker._thread
    time.sleep(0.3)  # the first batch is being scored
    worker.stop(timeout=defaults.WORKER_STOP_TIMEOUT_S)
    assert thread is not None and not thread.is_alive() and worker.windows == 1


# -- a full disk -----------------------------------------------------------------------------
@needs_dev_full
def test_a_stream_log_on_a_full_disk_is_one_line(baseline_dir: Path, many_clips: list[Path]) -> None:
    for how in ("--force", "--append"):
        p = _emomon("file", many_clips[0], "--stream", "--fast", "--no-ui", "--model", baseline_dir, "--vad", "off",
                    "--jsonl", DEV_FULL, how)
        assert p.returncode == 1 and p.stderr == "emomon: error: /dev/full: cannot write (No space left on device)\n", how


@needs_dev_full
@pytest.mark.parametrize("extra", [["-f", "json"], ["-f", "csv"], ["-f", "table"], ["--stream", "--fast", "--no-ui"]])
def test_stdout_on_a_full_disk_is_one_line(baseline_dir: Path, many_clips: list[Path], extra: list[str]) -> None:
    with open(DEV_FULL, "w") as full:
        p = subprocess.run([EMOMON, "file", str(many_clips[0]), "--model", str(baseline_dir), "--vad", "off", *extra],
                           stdout=full, stderr=subprocess.PIPE, text=True, timeout=180)
    assert p.returncode == 1 and p.stderr == "emomon: error: stdout: cannot write (No space left on device)\n"


def test_a_log_that_fills_the_disk_midway_keeps_every_whole_line(baseline_dir: Path, many_clips: list[Path], tmp_path: Path) -> None:
    """The file size limit (RLIMIT_FSIZE) stands in for a disk that fills during the session."""
    log = tmp_path / "session.jsonl"
    before = '{"type": "note", "earlier": "what the user already had"}\n' * 20
    log.write_text(before)
    limit = len(before) + 1500  # the header and a few records fit, then the disk is "full"

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    p = subprocess.run([EMOMON, "file", str(many_clips[0]), "--stream", "--fast", "--no-ui", "--model", str(baseline_dir),
                        "--vad", "off", "--jsonl", str(log), "--append"],
                       capture_output=True, text=True, timeout=180, preexec_fn=small_disk)
    assert p.returncode == 1
    assert p.stderr == f"emomon: error: {log}: cannot write (File too large)\n"
    text = log.read_text()
    assert text.startswith(before) and text.endswith("\n") and len(text) <= limit
    lines = [json.loads(line) for line in text[len(before):].splitlines()]  # no half record left
    assert lines[0]["type"] == "session" and len(lines) > 1 and all(r["type"] == "window" for r in lines[1:])
    assert [json.loads(line) for line in p.stdout.splitlines()][: len(lines) - 1] == lines[1:]


@needs_dev_full
def test_the_listen_log_on_a_full_disk() -> None:
    """``emomon listen --jsonl`` writes through the same sink: a clear OutputError, then quiet."""
    from datetime import datetime, timezone

    from emomon.stream.sinks import JsonlLog

    sink = JsonlLog(DEV_FULL, append=True)
    info = SessionInfo(start=datetime.now(timezone.utc), model="m", settings={}, streams=["mic"], version="0")
    with pytest.raises(OutputError) as caught:
        sink.open(info)
    assert str(caught.value) == "/dev/full: cannot write (No space left on device)"
    summary = SessionSummary(end=info.start, windows=0, speech_windows=0, dropped_s=0.0, latency_median_ms=None,
                             compute_median_ms=None, completed=False)
    sink.close(summary)  # after a failed write nothing more is tried: no second error


# -- windows too short -------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [[], ["--stream", "--fast", "--no-ui", "--hop", "0.01"]])
def test_a_window_too_short_is_one_line(capsys: pytest.CaptureFixture[str], test_model_dir: Path, tmp_path: Path, mode: list[str]) -> None:
    clip = tmp_path / "a.wav"
    sf.write(clip, synth_speechlike(1.0), SR)
    code, out, err = run(capsys, "file", clip, "--model", test_model_dir, "--window", "0.01", *mode)
    assert code == 1 and out == ""
    assert err == (f"emomon: error: --window: 0.01 s is shorter than one voice-activity frame ({defaults.MIN_WINDOW_S:g} s): "
                   "no window that short can hold speech\n")
    code, out, err = run(capsys, "file", clip, "--model", test_model_dir, "--window", str(defaults.MIN_WINDOW_S), *mode)
    assert code == 0 and out and "error" not in err


def test_listen_refuses_a_short_window_before_the_device(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "listen", "--window", "0.02", "--device", "no such device")
    assert code == 1 and err.startswith("emomon: error: --window: 0.02 s is shorter than one voice-activity frame")
    code, _, err = run(capsys, "listen", "--window", "0", "--device", "no such device")
    assert code == 1 and err == "emomon: error: --window: must be a positive number of seconds (got 0.0)\n"


def test_a_window_shorter_than_the_models_input_is_refused() -> None:
    """A model whose front end needs more than one voice-activity frame (n_fft 2048 at 16 kHz)."""
    model = SimpleNamespace(sample_rate=16000, input_needs=SimpleNamespace(min_samples=1025, source="the front end"))
    with pytest.raises(EmomonError) as caught:
        check_window_fits(model, 0.05)  # type: ignore[arg-type]
    assert str(caught.value) == "window: 0.05 s is shorter than the front end takes (1025 samples at 16000 Hz: at least 0.06406 s)"
    check_window_fits(model, 0.065)  # type: ignore[arg-type]
    check_window_fits(model, None)  # type: ignore[arg-type]  # the model's own window: its config is checked


# -- a bad file in a streamed folder -------------------------------------------------------------
def test_stream_over_a_folder_with_a_bad_file(capsys: pytest.CaptureFixture[str], test_model_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "folder"
    d.mkdir()
    sf.write(d / "a.wav", synth_speechlike(1.0), SR)
    (d / "b.wav").write_text("not audio at all")
    sf.write(d / "c.wav", synth_speechlike(1.0, f0=300), SR)
    code, out, err = run(capsys, "file", d, "--stream", "--fast", "--no-ui", "--model", test_model_dir, "--vad", "off")
    assert code == 1
    streams = [json.loads(line)["stream"] for line in out.splitlines()]
    assert streams.count(str(d / "a.wav")) == 4 and streams.count(str(d / "c.wav")) == 4
    errors = [line for line in err.splitlines() if line.startswith("emomon: error:")]
    assert len(errors) == 1 and errors[0].startswith(f"emomon: error: {d / 'b.wav'}: ")
    assert "8 windows" in err  # the session's summary line: the good files ran to the end


def test_stream_with_no_good_file_says_why_for_each(capsys: pytest.CaptureFixture[str], test_model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "b.wav").write_text("not audio at all")
    code, out, err = run(capsys, "file", tmp_path / "b.wav", tmp_path / "nope.wav", "--stream", "--fast", "--no-ui", "--model", test_model_dir)
    lines = err.splitlines()
    assert code == 1 and out == "" and len(lines) == 2
    assert lines[0] == f"emomon: error: {tmp_path / 'nope.wav'}: no such file"
    assert lines[1].startswith(f"emomon: error: {tmp_path / 'b.wav'}: ")


def test_stream_over_a_file_that_breaks_part_way(capsys: pytest.CaptureFixture[str], test_model_dir: Path, tmp_path: Path) -> None:
    """A FLAC damaged in its middle: its stream ends with one error line, the other file streams to its end."""
    import io

    import numpy as np

    buf = io.BytesIO()
    sf.write(buf, synth_speechlike(80.0), SR, format="FLAC")
    data = bytearray(buf.getvalue())
    cut = len(data) // 2
    data[cut:cut + 4000] = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    broken = tmp_path / "broken.flac"
    broken.write_bytes(bytes(data))
    good, alone = tmp_path / "good.wav", tmp_path / "alone.wav"
    sf.write(good, synth_speechlike(100.0), SR)
    code, out, err = run(capsys, "file", broken, good, "--stream", "--fast", "--no-ui", "--model", test_model_dir, "--vad", "off")
    assert code == 1
    streams = [json.loads(line)["stream"] for line in out.splitlines()]
    sf.write(alone, synth_speechlike(100.0), SR)
    _, out_alone, _ = run(capsys, "file", alone, "--stream", "--fast", "--no-ui", "--model", test_model_dir, "--vad", "off")
    assert streams.count(str(good)) == len(out_alone.splitlines())  # the good file ran to its end
    assert 0 < streams.count(str(broken)) <= len(out_alone.splitlines()) * 0.4  # the broken one: its windows before the damage
    errors = [line for line in err.splitlines() if line.startswith("emomon: error:")]
    assert len(errors) == 1 and errors[0].startswith(f"emomon: error: {broken}: cannot decode audio after"), err

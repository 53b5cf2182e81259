"""`emomon listen` when the live input fails: the watchdog, wall-time --duration, prompt signals.

Each test runs ``emomon listen`` on a private PulseAudio's pipe-source virtual microphone (the
fixture of ``test_listen_device``; its own runtime directory, so ``pulseaudio -k`` kills only
that server) and breaks the input: nobody feeds the FIFO, the writer stalls or closes, the pipe
source is unloaded (PulseAudio falls back to a silent source), the server is killed; or stops
the session with SIGINT/SIGTERM. Every run is a subprocess with a timeout, so a regression fails
instead of hanging the suite. The tiny test-energy model keeps start-up short.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from conftest import SR, emomon_command
from test_listen_device import virtmic  # noqa: F401 - the fixture

slow = pytest.mark.slow  # the device tests; the watchdog's logic and the stream closing run without one

STALL = 2.0  # --stall-timeout of these tests
START_S = 120.0  # how long a loaded CI machine may take to start a session (model, VAD, device)
MARGIN = 3.0  # start of the fault → the error line: the timeout plus at most this
EXIT_S = 10.0
SWITCH_S = 2.5  # PulseAudio moves a stream off an unloaded source after about 2 s without audio  # the error or the signal → the process gone (interpreter teardown on a busy machine)


class Writer(threading.Thread):
    """Feeds the virtual microphone's FIFO with a quiet hiss in real time until :attr:`stall` is
    set (then keeps the FIFO open, writing nothing) or :attr:`done` (then closes it)."""

    def __init__(self, fifo: Path) -> None:
        super().__init__(daemon=True, name="test-writer")
        self.fifo = fifo
        self.stall = threading.Event()
        self.done = threading.Event()
        self.written = 0

    def run(self) -> None:
        hiss = (0.003 * np.random.default_rng(0).standard_normal(SR // 50) * 32767).astype("<i2").tobytes()
        fd = os.open(self.fifo, os.O_WRONLY)
        os.set_blocking(fd, False)
        try:
            t0, n = time.monotonic(), 0
            while not self.done.is_set():
                if not self.stall.is_set():
                    try:
                        os.write(fd, hiss)
                        self.written += 1
                    except BlockingIOError:
                        pass
                    except OSError:  # the reader is gone (the source unloaded, the server killed)
                        return
                n += 1
                time.sleep(max(0.0, t0 + n / 50 - time.monotonic()))
        finally:
            os.close(fd)


@dataclass
class Run:
    """A finished ``listen``: exit code, output, its JSONL log, and when it ended."""

    rc: int
    out: str
    err: str
    log: list[dict]
    ended: float  # time.time() when the process was seen gone

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("emomon: error:")]


class Listen:
    """``emomon listen --device pulse --no-ui --jsonl LOG`` as a subprocess, with helpers to wait."""

    def __init__(self, env: dict, model: Path, log: Path, *args: str) -> None:
        self.log_path = log
        cmd = [*emomon_command(), "listen", "--device", "pulse", "--model", str(model), "--no-ui", "--compute", "cpu",
               "--jsonl", str(log), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def lines(self) -> list[str]:
        return self.log_path.read_text().splitlines() if self.log_path.exists() else []

    def wait_for_lines(self, n: int, timeout: float = START_S) -> None:
        """Until the log holds ``n`` lines (the header is one) or the process ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.lines()) < n and self.proc.poll() is None:
            time.sleep(0.05)
        assert len(self.lines()) >= n, f"no {n} log lines in {timeout} s: {self.finish(5).err}"

    def finish(self, timeout: float) -> Run:
        """Wait for the process to end (killed after ``timeout`` s: the test then fails)."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            pytest.fail(f"listen did not end within {timeout} s; stderr: {err}")
        ended = time.time()
        return Run(self.proc.returncode, out, err, [json.loads(line) for line in self.lines()], ended)


@pytest.fixture
def fed(virtmic):  # noqa: F811 - the imported fixture
    """The virtual microphone with a hiss writer on its FIFO; yields (env, writer, fifo)."""
    env, fifo = virtmic
    writer = Writer(fifo)
    writer.start()
    try:
        yield env, writer, fifo
    finally:
        writer.done.set()
        writer.join(5)


def _iso(record: dict) -> float:
    return datetime.fromisoformat(record["time"]).timestamp()


def _assert_device_error(run: Run, fault_at: float, timeout: float, why: str) -> None:
    """One error line for the device, exit 1, the log closed with a summary naming the error,
    and the error came within ``timeout`` + :data:`MARGIN` of the fault."""
    assert run.rc == 1, run.err
    errors = run.error_lines()
    assert len(errors) == 1 and errors[0].startswith("emomon: error: device 'pulse': ") and why in errors[0], run.err
    assert "Traceback" not in run.err and "ALSA lib" not in run.err and "PortAudio" not in run.err, run.err
    summary = run.log[-1]
    assert summary["type"] == "summary" and summary["completed"] is False and summary["stopped_by"] == "error"
    assert why in summary["error"]
    assert summary["input_overflows"] is not None
    took = _iso(summary) - fault_at
    print(f"\n{errors[0]}\n  stopped {took:.2f} s after the fault, process gone {run.ended - fault_at:.2f} s after it")
    assert took <= timeout + MARGIN, f"stopped {took:.1f} s after the fault"
    assert run.ended - _iso(summary) <= EXIT_S


@slow
def test_nobody_feeds_the_microphone(virtmic, test_model_dir, tmp_path):  # noqa: F811
    env, _ = virtmic
    ses = Listen(env, test_model_dir, tmp_path / "log.jsonl", "--stall-timeout", str(STALL))
    ses.wait_for_lines(1)
    started = time.time()  # the header is written just before the device opens
    run = ses.finish(START_S)
    _assert_device_error(run, started, STALL, "no audio for")
    assert "no audio for" in run.err.split("emomon: error:")[0]  # warned on the way
    assert run.log[-1]["windows"] == 0


@slow
@pytest.mark.parametrize("fault", ["stall", "close"])
def test_writer_stalls_or_closes(fed, test_model_dir, tmp_path, fault):
    env, writer, _ = fed
    ses = Listen(env, test_model_dir, tmp_path / "log.jsonl", "--stall-timeout", str(STALL))
    ses.wait_for_lines(6)  # header + windows: audio flows
    (writer.stall if fault == "stall" else writer.done).set()
    fault_at = time.time()
    run = ses.finish(START_S)
    _assert_device_error(run, fault_at, STALL, "no audio for")
    assert run.log[-1]["windows"] >= 5


@slow
def test_pipe_source_unloaded(fed, test_model_dir, tmp_path):
    """PulseAudio moves the stream to its fallback (the null sink's monitor: exact zeros) after
    about 2 s without audio, so the stall timeout is left at its default here."""
    env, _, _ = fed
    ses = Listen(env, test_model_dir, tmp_path / "log.jsonl", "--silence-timeout", "4")
    ses.wait_for_lines(6)
    modules = subprocess.run(["pactl", "list", "short", "modules"], capture_output=True, text=True, env=env, timeout=30).stdout
    pipe = [line.split()[0] for line in modules.splitlines() if "module-pipe-source" in line]
    assert pipe, modules
    subprocess.run(["pactl", "unload-module", pipe[0]], check=True, env=env, timeout=30)
    fault_at = time.time()
    run = ses.finish(START_S)
    _assert_device_error(run, fault_at, 4.0 + SWITCH_S, "digital silence")
    assert "the device delivers digital silence" in run.err  # the warning before the stop


@slow
def test_pulseaudio_server_killed(fed, test_model_dir, tmp_path):
    env, _, _ = fed
    ses = Listen(env, test_model_dir, tmp_path / "log.jsonl", "--stall-timeout", str(STALL))
    ses.wait_for_lines(6)
    subprocess.run(["pulseaudio", "-k"], env=env, timeout=30)  # this test's own server (its runtime dir)
    fault_at = time.time()
    run = ses.finish(START_S)
    _assert_device_error(run, fault_at, STALL, "")


@slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("audio", [True, False], ids=["audio", "no-audio"])
def test_signal_stops_a_live_session(virtmic, test_model_dir, tmp_path, sig, audio):  # noqa: F811
    """Ctrl-C or SIGTERM, with audio flowing or a device that delivers none (where stopping the
    stream used to hang): the summary within a second, exit 0, the log complete."""
    env, fifo = virtmic
    writer = Writer(fifo)
    if audio:
        writer.start()
    try:
        ses = Listen(env, test_model_dir, tmp_path / "log.jsonl", "--stall-timeout", "120")
        ses.wait_for_lines(6 if audio else 1)
        time.sleep(0.5 if audio else 2.0)  # no audio: the stream is open and waiting
        ses.proc.send_signal(sig)
        sent = time.time()
        run = ses.finish(START_S)
    finally:
        writer.done.set()
        if audio:
            writer.join(5)
    assert run.rc == 0, run.err
    assert not run.error_lines() and "Traceback" not in run.err, run.err
    summary = run.log[-1]
    assert summary["type"] == "summary" and summary["completed"] is False
    assert summary["stopped_by"] == ("interrupt" if sig == signal.SIGINT else "terminate")
    print(f"\n{sig.name}: summary {_iso(summary) - sent:.2f} s after the signal, process gone {run.ended - sent:.2f} s after it")
    assert _iso(summary) - sent <= 1.0, "the session took more than a second to stop"
    assert run.ended - sent <= EXIT_S
    assert "(stopped)" in run.err and "device overflows 0" in run.err  # the summary line
    assert all(rec["type"] == "window" for rec in run.log[1:-1])


@slow
def test_duration_counts_wall_time_without_audio(virtmic, test_model_dir, tmp_path):  # noqa: F811
    env, _ = virtmic
    ses = Listen(env, test_model_dir, tmp_path / "log.jsonl", "--duration", "1")
    run = ses.finish(START_S)
    assert run.rc == 0, run.err
    summary = run.log[-1]
    assert summary["type"] == "summary" and summary["completed"] is True and summary["windows"] == 0
    print(f"\n--duration 1 without audio: summary {_iso(summary) - _iso(run.log[0]):.2f} s after the header")
    assert 1.0 <= _iso(summary) - _iso(run.log[0]) <= 1.0 + MARGIN  # from the header: before the device opens
    assert "delivered no audio in 1 s" in run.err


# -- without a device ---------------------------------------------------------------------------
def test_watchdog_stall_warns_then_fails(caplog):
    from emomon.errors import DeviceError
    from emomon.stream.watchdog import InputWatchdog

    dog = InputWatchdog("device 'x'", start=100.0, stall_timeout=4.0, silence_timeout=None)
    with caplog.at_level("WARNING"):
        assert dog.check(101.9) is None and not caplog.records
        assert dog.check(102.1) is None and "no audio for 2.1 s" in caplog.text
        dog.heard(102.5, nonzero=True)
        assert dog.check(102.6) is None and "audio is coming again" in caplog.text
        problem = dog.check(106.6)
    assert isinstance(problem, DeviceError) and problem.what == "device 'x'" and "no audio for 4.1 s" in problem.why


def test_watchdog_digital_silence_warns_then_fails(caplog):
    from emomon.stream.watchdog import InputWatchdog

    dog = InputWatchdog("device 'x'", start=0.0, stall_timeout=5.0, silence_timeout=30.0)
    dog.heard(1.0, nonzero=True)
    with caplog.at_level("WARNING"):
        for i in range(1, 60):
            t = 1.0 + i * 0.1
            dog.heard(t, nonzero=False)
            assert dog.check(t) is None
        assert "the device delivers digital silence" in caplog.text and "stopping after 30 s" in caplog.text
        t = 31.0
        dog.heard(t, nonzero=False)
        problem = dog.check(t)
    assert problem is not None and "digital silence (exact zeros) for 30 s" in problem.why


def test_watchdog_off_and_duration():
    from emomon.stream.watchdog import InputWatchdog

    dog = InputWatchdog("device 'x'", start=0.0, stall_timeout=0, silence_timeout=0, duration=1.5)
    assert dog.check(1000.0) is None  # both timeouts off: never fails
    dog.heard(999.9, nonzero=False)
    assert dog.check(1000.0) is None
    assert not dog.expired(1.4) and dog.expired(1.5)
    assert not InputWatchdog("d", start=0.0).expired(1e9)  # no duration: never


def test_a_stream_that_does_not_stop_is_abandoned_in_time():
    """PortAudio's stop can block forever on a stalled device: closing gives up after STOP_TIMEOUT_S."""
    from emomon import defaults
    from emomon.stream import sources

    release = threading.Event()

    class Stuck:
        closed = False

        def abort(self) -> None:
            release.wait(30)

        def close(self) -> None:
            self.closed = True

    before = len(sources.abandoned_streams())
    t0 = time.monotonic()
    sources._close_stream(Stuck(), "device 'stuck'")
    assert time.monotonic() - t0 < defaults.STOP_TIMEOUT_S + 0.5
    assert sources.abandoned_streams()[before:] == ["device 'stuck'"]
    release.set()
    sources._abandoned.remove("device 'stuck'")  # this process did not really abandon one


def test_the_cli_exits_at_once_when_a_stream_was_abandoned():
    """PortAudio's clean-up at exit would wait for an abandoned stream: the CLI ends with
    os._exit after flushing its output (here an atexit hook that would hang shows it is skipped)."""
    code = (
        "import atexit, time; atexit.register(lambda: time.sleep(60)); "
        "from emomon.stream import sources; from emomon.cli import process; sources._abandoned.append(\"device 'x'\"); "
        "print('written', flush=False); process.exit_now_if_stuck(1)"
    )
    import sys

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == "written\n", proc.stderr


def test_native_diagnostics_are_kept_off_stderr():
    """PortAudio's "Expression ... failed" and ALSA's lines are filtered from descriptor 2 while a
    stream is open; every other line (emomon's own, other libraries') passes at once."""
    code = (
        "import os, sys; from emomon.stream.native_stderr import NativeStderrFilter; f = NativeStderrFilter(); f.start(); "
        "os.write(2, b\"Expression 'x( self->pcm )' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 3665\\n\"); "
        "os.write(2, b'ALSA lib pulse.c:242:(pulse_connect) PulseAudio: Unable to connect\\n'); "
        "print('emomon: WARNING: kept', file=sys.stderr); os.write(2, b'other library\\n'); "
        "f.stop(); print(f.swallowed); print('after', file=sys.stderr)"
    )
    import sys

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "2\n"
    assert proc.stderr == "emomon: WARNING: kept\nother library\nafter\n"

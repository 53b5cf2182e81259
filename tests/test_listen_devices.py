"""`emomon listen --device A --device B`: several live devices, each its own stream, one worker.

The device tests run a private PulseAudio with two pipe-source virtual microphones
(``scripts/virtmic.sh start DIR 2``: sources ``virtmic`` and ``virtmic2``, each named as its own
ALSA device in ``DIR/alsa/asoundrc`` so PortAudio lists them), fed by writer threads; they are
marked slow, as the other device tests are. The rest (device resolution, stream names, the
per-stream summary, the shared stderr filter, refusals) runs without a device.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import AUDIO_STACK, SR, emomon_command, unavailable, virtual_microphones
from emomon.audio import decode_audio
from emomon.errors import DeviceError, EmomonError
from emomon.stream import sources
from emomon.stream.sources import InputDevice

REPO = Path(__file__).resolve().parents[1]
slow = pytest.mark.slow
START_S = 180.0  # how long a loaded machine may take to start a session (model, VAD, devices)


# -- without a device ---------------------------------------------------------------------------
def _dev(index: int, name: str, default: bool = False) -> InputDevice:
    return InputDevice(index, name, 1, 16000.0, "ALSA", default)


@pytest.fixture
def fake_devices(monkeypatch):
    """PortAudio lists pulse (0), virtmic (1), virtmic2 (2), default (3, the default input); the
    devices checked for opening are recorded; "broken" cannot be opened."""
    listed = [_dev(0, "pulse"), _dev(1, "virtmic"), _dev(2, "virtmic2"), _dev(3, "default", True), _dev(4, "broken")]
    checked: list[str] = []

    def check(dev: InputDevice) -> None:
        if dev.name == "broken":
            raise DeviceError(f"device {dev.name!r}", "cannot be opened for input (Input/output error)")
        checked.append(dev.name)

    monkeypatch.setattr(sources, "list_input_devices", lambda: listed)
    monkeypatch.setattr(sources, "check_input_device", check)
    return checked


def test_devices_resolve_in_order_and_are_checked(fake_devices):
    devs = sources.resolve_input_devices(["virtmic2", "1"])
    assert [d.name for d in devs] == ["virtmic2", "virtmic"] and fake_devices == ["virtmic2", "virtmic"]
    assert [d.name for d in sources.resolve_input_devices([])] == ["default"]  # no --device: the default input


@pytest.mark.parametrize("specs, message", [
    (["virtmic", "nosuch"], "device 'nosuch': no such input device (see `emomon devices`)"),
    (["virtmic", "9"], "device 9: no input device with this index (see `emomon devices`)"),
    (["virtmic", "1"], "device 'virtmic': named twice (each --device is its own stream)"),
    (["virtmic", "broken"], "device 'broken': cannot be opened for input (Input/output error)"),
])
def test_a_bad_device_among_several_is_named(fake_devices, specs, message):
    with pytest.raises(DeviceError) as info:
        sources.resolve_input_devices(specs)
    assert str(info.value) == message


def test_an_unopenable_device_is_refused_with_the_reason(monkeypatch):
    """check_input_device asks PortAudio whether the device opens for mono input at its default
    rate; its refusal becomes one DeviceError naming the device."""
    class FakeSd:
        def check_input_settings(self, **kw):
            raise RuntimeError("Unanticipated host error [PaErrorCode -9999]: 'Input/output error'\nmore")

    monkeypatch.setattr(sources, "_sounddevice", lambda: FakeSd())
    with pytest.raises(DeviceError) as info:
        sources.check_input_device(_dev(3, "ghostmic"))
    assert str(info.value) == ("device 'ghostmic': cannot be opened for input "
                               "(Unanticipated host error [PaErrorCode -9999]: 'Input/output error')")


def test_stream_names():
    assert sources.stream_names([_dev(1, "virtmic")]) == ["mic"]  # one device: as before
    assert sources.stream_names([_dev(1, "virtmic"), _dev(2, "virtmic2")]) == ["virtmic", "virtmic2"]
    assert sources.stream_names([_dev(1, "USB mic"), _dev(5, "USB mic"), _dev(2, "x")]) == ["USB mic#1", "USB mic#5", "x"]


def test_the_api_makes_one_monitor_with_a_stream_per_device(fake_devices, test_model):
    """microphone_monitor(devices=[...]): one monitor (one worker), a microphone source per
    device, in order, named after it; a single device keeps the stream name "mic"."""
    from emomon.stream.api import microphone_monitor
    from emomon.stream.sources import MicrophoneSource

    mon = microphone_monitor(devices=["virtmic2", "virtmic"], model=test_model, stall_timeout=3)
    assert mon.streams == ["virtmic2", "virtmic"]
    assert all(isinstance(s, MicrophoneSource) for s in mon.sources)
    assert [s.device.index for s in mon.sources] == [2, 1] and mon.sources[0].what == "device 'virtmic2'"
    assert mon.sources[1].limits["stall_timeout"] == 3
    assert microphone_monitor("virtmic", model=test_model).streams == ["mic"]
    assert microphone_monitor(model=test_model).sources[0].device.name == "default"


def test_a_profile_is_refused_with_several_devices(capsys):
    """One --profile is one speaker's: with several devices it is refused in one line, before
    any device or model is touched (the CLI and the API alike)."""
    from emomon.cli import main
    from emomon.stream.api import microphone_monitor

    assert main(["listen", "--device", "nosuch-a", "--device", "nosuch-b", "--profile", "anna"]) == 1
    err = capsys.readouterr().err
    assert err == "emomon: error: --profile: applies to a single --device (each device is its own speaker: one profile would mix them)\n"
    with pytest.raises(EmomonError, match="applies to a single --device"):
        microphone_monitor(devices=["nosuch-a", "nosuch-b"], model="no-such-model", profile="anna")
    with pytest.raises(EmomonError, match="give device or devices, not both"):
        microphone_monitor("a", devices=["b"], model="no-such-model")


def test_the_summary_names_each_stream(tmp_path, test_model):
    """Two streams through one worker: the summary (log record and stderr line) has each
    stream's own figures, and they add up to the session's."""
    from emomon.stream.api import file_monitor
    from emomon.stream.session import run_session, summary_line

    loud = tmp_path / "loud.wav"
    quiet = tmp_path / "quiet.wav"
    t = np.arange(3 * SR) / SR
    sf.write(loud, (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR)
    sf.write(quiet, np.zeros(2 * SR, np.float32), SR)
    from emomon.features.vad import VadOptions
    from emomon.stream.monitor import MonitorConfig

    cfg = MonitorConfig(vad=VadOptions(method="energy"))
    monitor = file_monitor([loud, quiet], test_model, fast=True, config=cfg)

    class Keep:
        def __init__(self) -> None:
            self.recs = []

        def open(self, info) -> None:
            self.info = info

        def write(self, rec) -> None:
            self.recs.append(rec)

        def close(self, summary) -> None:
            self.summary = summary

    keep = Keep()
    summary = run_session(monitor, [keep], "test")
    per = {s.stream: s for s in summary.streams}
    assert list(per) == [str(loud), str(quiet)] == keep.info.streams
    for name, s in per.items():
        mine = [r for r in keep.recs if r.stream == name]
        assert s.windows == len(mine) > 0 and s.speech_windows == sum(r.label is not None for r in mine)
        assert s.input_overflows is None and s.dropped_s == 0.0
    assert per[str(loud)].speech_windows > 0 and per[str(quiet)].speech_windows == 0
    assert summary.windows == sum(s.windows for s in per.values())
    logged = summary.to_dict()["streams"]
    assert [s["stream"] for s in logged] == [str(loud), str(quiet)]
    line = summary_line(summary)
    assert f"; {loud}: {per[str(loud)].windows} windows ({per[str(loud)].speech_windows} with speech)" in line
    assert f"; {quiet}: {per[str(quiet)].windows} windows (0 with speech)" in line
    assert "\n" not in line


def test_one_stderr_filter_is_shared_by_every_stream():
    """Two open streams hold the one filter of descriptor 2: closing the first keeps filtering,
    closing the last gives descriptor 2 back at once (no chained pipes, no waiting). The blank
    line ALSA's pulse plugin prints after its own line is kept off the screen with it."""
    code = (
        "import os, sys, time; from emomon.stream.native_stderr import SharedNativeStderr as S; a, b = S(), S(); "
        "a.start(); b.start(); a.start(); os.write(2, b'ALSA lib pcm_pulse.c: one\\n\\n'); a.stop(); a.stop(); "
        "os.write(2, b\"Expression 'x' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 1\\n\"); "
        "print('kept', file=sys.stderr); t = time.monotonic(); b.stop(); took = time.monotonic() - t; "
        "os.write(2, b'ALSA lib after\\n'); print(b.swallowed, took < 0.4)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "2 True\n"
    assert proc.stderr == "kept\nALSA lib after\n"  # after the last stop: the real stderr, unfiltered


# -- two PulseAudio virtual microphones ---------------------------------------------------------
@pytest.fixture
def virtmics(tmp_path: Path):
    """A private pulseaudio with two pipe sources, listed by PortAudio as ``virtmic`` and
    ``virtmic2``; yields (env, runtime dir); stops it after."""
    with virtual_microphones(tmp_path / "xdg", 2) as env:
        yield env, tmp_path / "xdg"


def _speech(speech_clip: Path) -> np.ndarray:
    """Loud synthesized speech and half a second of silence (the toy model calls it angry)."""
    return np.concatenate([decode_audio(speech_clip, SR) * 3.0, np.zeros(SR // 2, np.float32)])


def _hiss() -> np.ndarray:
    """A quiet hiss: a live microphone with nobody speaking."""
    return (0.003 * np.random.default_rng(0).standard_normal(4 * SR)).astype(np.float32)


def _listen(env: dict, model: Path, *args: str, timeout: float = START_S + 60) -> subprocess.CompletedProcess:
    cmd = [*emomon_command(), "listen", "--model", str(model), "--compute", "cpu", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def _feeding(runtime: Path, **audio: np.ndarray):
    from emomon.stream.virtmic import FifoWriter

    writers = {name: FifoWriter(runtime / name, a) for name, a in audio.items()}
    for w in writers.values():
        w.start()
    return writers


def _stop(writers) -> None:
    for w in writers.values():
        w.stop_event.set()
        w.join(5)


@slow
def test_two_microphones_speech_and_silence(virtmics, test_model_dir, speech_clip, tmp_path):
    """Speech into one virtual microphone, a quiet hiss into the other: each stream's records say
    what its device heard, both streams are in the log's header, records and summary, and in the
    summary line."""
    env, runtime = virtmics
    log = tmp_path / "two.jsonl"
    duration = 8.0
    writers = _feeding(runtime, virtmic=_speech(speech_clip), virtmic2=_hiss())
    try:
        proc = _listen(env, test_model_dir, "--device", "virtmic", "--device", "virtmic2", "--duration", str(duration),
                       "--no-ui", "--jsonl", str(log))
    finally:
        _stop(writers)
    assert all(w.error is None and w.written > 0 for w in writers.values()), {n: (w.error, w.written) for n, w in writers.items()}
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "ALSA lib" not in proc.stderr, proc.stderr
    recs = [json.loads(line) for line in proc.stdout.splitlines()]
    by = {name: [r for r in recs if r["stream"] == name] for name in ("virtmic", "virtmic2")}
    assert {r["stream"] for r in recs} == {"virtmic", "virtmic2"}
    hop = 0.25  # the toy model's
    for name, mine in by.items():
        assert abs(len(mine) - duration / hop) <= 3, (name, len(mine))
        ts = [r["t"] for r in mine]
        assert ts == sorted(ts) and all(r["latency_ms"] > 0 for r in mine)
    speech = [r for r in by["virtmic"] if r["label"] is not None]
    assert len(speech) >= len(by["virtmic"]) // 3, [r["reason"] for r in by["virtmic"]]
    labels = [r["label"] for r in speech]
    assert labels.count("angry") > len(labels) / 2, labels
    assert all(r["label"] is None and r["reason"] == "no speech" for r in by["virtmic2"]), by["virtmic2"]

    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert logged[0]["type"] == "session" and logged[0]["streams"] == ["virtmic", "virtmic2"]
    assert [r for r in logged[1:-1]] == recs  # the log holds the very records stdout got
    summary = logged[-1]
    assert summary["type"] == "summary" and summary["completed"] is True
    per = {s["stream"]: s for s in summary["streams"]}
    assert list(per) == ["virtmic", "virtmic2"]
    assert per["virtmic"]["speech_windows"] == len(speech) and per["virtmic2"]["speech_windows"] == 0
    assert per["virtmic"]["windows"] == len(by["virtmic"]) and per["virtmic2"]["windows"] == len(by["virtmic2"])
    assert per["virtmic2"]["input_overflows"] is not None  # live devices: PortAudio's flags, per device
    line = [ln for ln in proc.stderr.splitlines() if "windows (" in ln][-1]
    assert f"; virtmic: {len(by['virtmic'])} windows ({len(speech)} with speech)" in line
    assert f"; virtmic2: {len(by['virtmic2'])} windows (0 with speech)" in line


@slow
@pytest.mark.parametrize("bad, message", [
    ("nosuch", "emomon: error: device 'nosuch': no such input device (see `emomon devices`)"),
    ("ghostmic", "emomon: error: device 'ghostmic': cannot be opened for input ("),
    ("virtmic", "emomon: error: device 'virtmic': named twice (each --device is its own stream)"),
], ids=["unknown", "unopenable", "twice"])
def test_a_bad_device_among_two_fails_in_one_line(virtmics, test_model_dir, tmp_path, bad, message):
    """An unknown device, one PortAudio lists but cannot open (an ALSA device for a PulseAudio
    source that is not there), or one named twice: one line naming it, exit 1, before anything
    starts (no log written)."""
    env, runtime = virtmics
    with open(runtime / "alsa" / "asoundrc", "a") as f:
        f.write('pcm.ghostmic {\n  type pulse\n  device "nosuchsource"\n  hint { show on description "gone" }\n}\n')
    log = tmp_path / "never.jsonl"
    proc = _listen(env, test_model_dir, "--device", "virtmic", "--device", bad, "--no-ui", "--jsonl", str(log))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), proc.stderr
    assert proc.stdout == "" and not log.exists()


@slow
def test_a_stalled_device_among_two_is_named(virtmics, test_model_dir, tmp_path):
    """Audio on one microphone, nobody feeding the other: the watchdog of that device warns, then
    stops the session with one error line naming it (exit 1); the log's summary has the error
    and both streams, the fed one with its windows."""
    env, runtime = virtmics
    log = tmp_path / "stall.jsonl"
    writers = _feeding(runtime, virtmic=_hiss())
    try:
        proc = _listen(env, test_model_dir, "--device", "virtmic", "--device", "virtmic2", "--stall-timeout", "3",
                       "--no-ui", "--jsonl", str(log))
    finally:
        _stop(writers)
    assert proc.returncode == 1, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("emomon: error:")]
    assert len(errors) == 1 and errors[0].startswith("emomon: error: device 'virtmic2': no audio for "), proc.stderr
    assert "emomon: WARNING: device 'virtmic2': no audio for" in proc.stderr  # warned on the way
    assert "device 'virtmic':" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    summary = [json.loads(line) for line in log.read_text().splitlines()][-1]
    assert summary["stopped_by"] == "error" and summary["error"].startswith("device 'virtmic2': no audio for")
    per = {s["stream"]: s for s in summary["streams"]}
    assert per["virtmic2"]["windows"] == 0 and per["virtmic"]["windows"] >= 4


@slow
def test_two_microphones_in_the_terminal_ui(virtmics, test_model_dir, speech_clip, tmp_path):
    """The live screen in tmux shows a panel per device, named after it: the speaking one with
    its top emotion, the other with "no speech"."""
    if shutil.which("tmux") is None:
        unavailable("tmux is not installed", AUDIO_STACK)
    env, runtime = virtmics
    done = tmp_path / "done"
    cmd = shlex.join(["env", f"XDG_RUNTIME_DIR={runtime}", f"XDG_CONFIG_HOME={runtime}", *emomon_command(), "listen",
                      "--model", str(test_model_dir), "--compute", "cpu", "--device", "virtmic", "--device", "virtmic2",
                      "--duration", "8"])
    tmux = ["tmux", "-L", f"emomon-test-{uuid.uuid4().hex[:8]}"]
    writers = _feeding(runtime, virtmic=_speech(speech_clip), virtmic2=_hiss())
    subprocess.run([*tmux, "new-session", "-d", "-x", "110", "-y", "50", "-s", "t", f"{cmd}; echo $? > {done}; sleep 600"], check=True)
    try:
        deadline = time.monotonic() + START_S + 60
        while time.monotonic() < deadline and not done.exists():
            time.sleep(0.2)
        time.sleep(0.5)
        screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        _stop(writers)
    assert done.exists() and done.read_text().strip() == "0", screen
    panels = screen.split("emomon — virtmic2")
    assert len(panels) == 2 and "emomon — virtmic " in panels[0], screen  # two panels, in --device order
    assert "top emotion: ANGRY" in panels[0] or "last: angry" in panels[0], screen  # speaking, or between its sentences
    assert "no speech" in panels[1] and "top emotion:" not in panels[1], screen
    assert screen.count("[done]") == 2 and screen.count("│ latency") == 2, screen
    assert "; virtmic: " in screen and "; virtmic2: " in screen  # the summary line names both


@slow
def test_ctrl_c_stops_two_silent_devices_within_a_second(virtmics, test_model_dir, tmp_path):
    """Ctrl-C while neither device delivers audio: the session ends within a second, its log
    closed with a summary naming both streams, exit 0."""
    import signal
    from datetime import datetime

    env, _ = virtmics
    log = tmp_path / "log.jsonl"
    proc = subprocess.Popen([*emomon_command(), "listen", "--device", "virtmic", "--device", "virtmic2", "--model",
                             str(test_model_dir), "--no-ui", "--compute", "cpu", "--jsonl", str(log), "--stall-timeout", "120"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline and not (log.exists() and log.read_text()) and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(2.0)  # the header is written just before the devices open: let them open and wait
        proc.send_signal(signal.SIGINT)
        sent = time.time()
        _, err = proc.communicate(timeout=START_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0 and "emomon: error" not in err and "Traceback" not in err, err
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    summary = logged[-1]
    assert summary["stopped_by"] == "interrupt" and [s["stream"] for s in summary["streams"]] == ["virtmic", "virtmic2"]
    took = datetime.fromisoformat(summary["time"]).timestamp() - sent
    print(f"\nSIGINT with two silent devices: summary {took:.2f} s after the signal")
    assert took <= 1.0, "the session took more than a second to stop"

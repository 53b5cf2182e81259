"""`emomon listen` on a real PortAudio device: a PulseAudio virtual microphone (pipe source)
fed in real time by a writer thread. Needs pulseaudio + libportaudio2 + libasound2-plugins
(CI installs them; locally the test is skipped without them, in CI it fails)."""

from __future__ import annotations

import json
import statistics
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import RAVDESS, SR, default_model_available, emomon_command, virtual_microphones
from emomon.audio import decode_audio

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
# A strong "angry" RAVDESS clip; with the default model its non-silent windows must read angry.
ANGRY_CLIP = RAVDESS / "Actor_02" / "03-01-05-02-02-01-02.flac"


@pytest.fixture
def virtmic(tmp_path: Path):
    """Start a private pulseaudio with a pipe source; yields (env, fifo path); stops it after."""
    with virtual_microphones(tmp_path / "xdg") as env:
        yield env, tmp_path / "xdg" / "virtmic"


def test_listen_on_pulse_virtual_mic(virtmic, test_model_dir, speech_clip):
    from emomon.stream.virtmic import FifoWriter

    env, fifo = virtmic
    use_default = default_model_available() and ANGRY_CLIP.is_file()
    if use_default:
        audio, model, expected = decode_audio(ANGRY_CLIP, SR), "default", "angry"
    else:  # the toy model calls loud speech "angry"
        audio = np.concatenate([decode_audio(speech_clip, SR) * 3.0, np.zeros(SR // 2, np.float32)])
        model, expected = str(test_model_dir), "angry"
    writer = FifoWriter(fifo, audio)
    writer.start()
    duration = 8.0
    try:
        proc = subprocess.run(
            [*emomon_command(), "listen", "--device", "pulse", "--model", model, "--duration", str(duration), "--no-ui", "--compute", "cpu"],
            capture_output=True, text=True, timeout=300, env=env,
        )
    finally:
        writer.stop_event.set()
        writer.join(5)
    assert writer.error is None, writer.error
    assert writer.written > 0, "pulseaudio never read the virtual microphone's FIFO"
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(line) for line in proc.stdout.splitlines()]
    hop = recs[0]["t"]
    assert abs(len(recs) - duration / hop) <= 1
    ts = [r["t"] for r in recs]
    assert ts == sorted(ts) and ts[-1] == pytest.approx(duration, abs=hop)
    for r in recs:
        assert r["latency_ms"] > 0  # a live device: capture-to-result
        if r["scores"] is not None:
            assert abs(sum(r["scores"].values()) - 1) < 1e-3
    speech = [r for r in recs if r["label"] is not None]
    assert len(speech) >= len(recs) // 3
    labels = [r["label"] for r in speech]
    assert labels.count(expected) > len(labels) / 2, labels
    lat = sorted(r["latency_ms"] for r in recs)
    print(f"\nlisten via pulse ({model}): {len(recs)} windows, latency median {statistics.median(lat):.0f} ms, "
          f"p95 {lat[int(0.95 * (len(lat) - 1))]:.0f} ms")


def test_listen_to_a_silent_microphone_reports_no_speech(virtmic, test_model_dir, tmp_path):
    """Nobody speaking (a quiet hiss): every window says "no speech"; the JSONL log has its
    header and summary; SIGTERM ends the session cleanly (sinks closed, exit 0)."""
    import signal
    import time

    from emomon.stream.virtmic import FifoWriter

    env, fifo = virtmic
    hiss = (0.003 * np.random.default_rng(0).standard_normal(4 * SR)).astype(np.float32)
    writer = FifoWriter(fifo, hiss)
    writer.start()
    log = tmp_path / "session.jsonl"
    try:
        proc = subprocess.Popen(
            [*emomon_command(), "listen", "--device", "pulse", "--model", str(test_model_dir), "--no-ui", "--compute", "cpu", "--jsonl", str(log)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 8):
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        writer.stop_event.set()
        writer.join(5)
    assert proc.returncode == 0, err
    recs = [json.loads(line) for line in out.splitlines()]
    assert len(recs) >= 6 and all(r["label"] is None and r["reason"] == "no speech" for r in recs)
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert logged[0]["type"] == "session" and logged[-1]["type"] == "summary"
    assert logged[-1]["completed"] is False and logged[-1]["speech_windows"] == 0
    assert "(stopped)" in err

"""The rich UI in a real terminal: `emomon file clip --stream` inside tmux, read back with
capture-pane."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
import uuid

import pytest
import soundfile as sf

import numpy as np

from conftest import SR, default_model_available, emomon_command
from emomon.audio import decode_audio
from emomon.labels import EMOTIONS

pytestmark = pytest.mark.slow


def test_stream_ui_in_tmux(tmp_path, test_model_dir, speech_clip):
    import os

    if shutil.which("tmux") is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("tmux is not installed: CI must install it")
        pytest.skip("tmux is not installed")
    clip = tmp_path / "clip.wav"
    sf.write(clip, np.concatenate([np.zeros(SR, np.float32), decode_audio(speech_clip, SR)]), SR)
    model = "default" if default_model_available() else str(test_model_dir)
    done = tmp_path / "done"
    cmd = shlex.join([*emomon_command(), "file", str(clip), "--stream", "--model", model, "--compute", "cpu"])
    sock = f"emomon-test-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", sock]
    subprocess.run([*tmux, "new-session", "-d", "-x", "110", "-y", "40", "-s", "t", f"{cmd}; echo $? > {done}; sleep 600"], check=True)
    try:
        deadline = time.monotonic() + 240
        screen = ""
        seen_live = False
        while time.monotonic() < deadline:
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True).stdout
            if "top emotion" in screen and not done.exists():
                seen_live = True  # the UI updates while the clip plays (paced in real time)
            if done.exists():
                time.sleep(0.5)
                screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True).stdout
                break
            time.sleep(0.2)
        assert done.exists(), screen
        assert done.read_text().strip() == "0", screen
        for lab in EMOTIONS:
            assert lab in screen, screen
        assert "█" in screen and "top emotion:" in screen
        assert "latency" in screen and "dropped" in screen and "[done]" in screen
        assert "speech" in screen and "VAD silero" in screen and "without speech" in screen
        assert seen_live, screen
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def _watch(cmd: str, done, seconds: float = 300) -> tuple[list[str], str]:
    """Run ``cmd`` in a fresh tmux pane; every screen seen while it runs, and the last one."""
    sock = f"emomon-test-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", sock]
    subprocess.run([*tmux, "new-session", "-d", "-x", "110", "-y", "40", "-s", "t", f"{cmd}; echo $? > {done}; sleep 600"], check=True)
    screens: list[str] = []
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not done.exists():
            screens.append(subprocess.run([*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True).stdout)
            time.sleep(0.1)
        time.sleep(0.5)
        last = subprocess.run([*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    return screens, last


def test_file_shows_loading_and_progress_then_the_table(tmp_path, speech_clip, test_model_dir):
    """A terminal user sees "loading model…" while the model loads, a progress bar while many files
    are analysed, and the table at the end (the bar is gone)."""
    from conftest import needs

    needs("tmux")
    if not default_model_available():
        pytest.skip("needs the shipped model (a toy model loads and runs too fast to watch)")
    folder = tmp_path / "clips"
    folder.mkdir()
    x = decode_audio(speech_clip, SR)
    for i in range(12):
        sf.write(folder / f"clip{i:02d}.wav", np.concatenate([x, np.zeros(SR // 2, np.float32), x]), SR)
    done = tmp_path / "done"
    cmd = shlex.join([*emomon_command(), "file", str(folder), "--compute", "cpu"])
    screens, last = _watch(cmd, done)
    assert done.read_text().strip() == "0", last
    assert any("loading model default" in s for s in screens), screens[-1]
    assert any("analysing" in s and "/12" in s for s in screens), screens[-1]
    assert "analysing" not in last and "11.wav" in last
    assert re.search(r"\d+\.\d\d s of \d+\.\d\d s", last)  # seconds of speech of the file's duration

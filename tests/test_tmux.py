"""The rich UI in a real terminal: `emomon file clip --stream` inside tmux, read back with
capture-pane."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid

import pytest
import soundfile as sf

from conftest import SR, default_model_available, emomon_command, synth_speechlike
from emomon.labels import EMOTIONS

pytestmark = pytest.mark.slow


def test_stream_ui_in_tmux(tmp_path, test_model_dir):
    import os

    if shutil.which("tmux") is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("tmux is not installed: CI must install it")
        pytest.skip("tmux is not installed")
    clip = tmp_path / "clip.wav"
    sf.write(clip, synth_speechlike(2.0), SR)
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
        assert seen_live, screen
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)

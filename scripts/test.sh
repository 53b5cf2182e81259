#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, then run it.
#   bash scripts/test.sh            # the whole suite (slow tests included, as CI runs it)
#   bash scripts/test.sh -m "not slow"   # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: PortAudio (sounddevice), PulseAudio + ALSA plugin (the real-device test's
# virtual microphone), tmux (the terminal UI test) and espeak-ng (real speech for the voice
# activity and segment tests, on machines without ../shared's corpora), chromium (the web page of
# emomon serve in a headless browser).
need=()
command -v pulseaudio >/dev/null 2>&1 || need+=(pulseaudio)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # the serve page's browser test (headless, fake microphone)
ldconfig -p 2>/dev/null | grep -q libportaudio.so.2 || need+=(libportaudio2)
[ -e /usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so ] || [ -e /usr/lib/aarch64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so ] || need+=(libasound2-plugins)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Python: a virtual environment in .venv with emomon and its test extra.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'
# Lint first (pyproject's [tool.ruff]): a failure stops before the tests.
.venv/bin/python -m ruff check emomon tests scripts benchmarks examples
exec .venv/bin/python -m pytest "$@"

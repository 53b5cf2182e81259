#!/usr/bin/env bash
# A PulseAudio virtual microphone for tests and CI: a pipe source that plays whatever is written
# (s16le, 16 kHz, mono) into a FIFO. Usage:
#   eval "$(scripts/virtmic.sh start [RUNTIME_DIR [COUNT]])"   # prints exports: XDG_RUNTIME_DIR, VIRTMIC_FIFO
#   scripts/virtmic.sh stop [RUNTIME_DIR]
# While recording, something must keep writing audio into $VIRTMIC_FIFO in real time (the pipe
# source produces nothing while nobody writes). sounddevice then lists an input device "pulse".
# COUNT > 1 adds sources virtmic2 .. virtmicCOUNT (FIFOs RUNTIME_DIR/virtmic2 ...) and an ALSA
# config RUNTIME_DIR/alsa/asoundrc naming each source as its own ALSA device (pcm.virtmic,
# pcm.virtmic2, ...), so PortAudio lists them as input devices "virtmic", "virtmic2", ...; it
# also prints `export XDG_CONFIG_HOME=RUNTIME_DIR` (where alsa-lib reads that config).
set -euo pipefail

cmd="${1:-}"
dir="${2:-${VIRTMIC_DIR:-/tmp/emomon-virtmic}}"
count="${3:-1}"

case "$cmd" in
  start)
    command -v pulseaudio >/dev/null || { echo "virtmic: pulseaudio is not installed (apt-get install pulseaudio libportaudio2 libasound2-plugins)" >&2; exit 3; }
    mkdir -p "$dir"
    chmod 700 "$dir"
    export XDG_RUNTIME_DIR="$dir"
    fifo="$dir/virtmic"
    # start clean if a previous run left a daemon behind
    pulseaudio --kill >/dev/null 2>&1 || true
    # root needs these flags; --exit-idle-time=-1 keeps it alive between clients
    pulseaudio -D --exit-idle-time=-1 --system=false --disallow-exit -n \
      --load="module-native-protocol-unix" --load="module-null-sink sink_name=null" >/dev/null 2>&1 \
      || pulseaudio -D --exit-idle-time=-1 >/dev/null 2>&1
    for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
    pactl info >/dev/null 2>&1 || { echo "virtmic: pulseaudio did not start" >&2; exit 4; }
    rm -f "$fifo"
    pactl load-module module-pipe-source source_name=virtmic file="$fifo" format=s16le rate=16000 channels=1 >/dev/null
    pactl set-default-source virtmic
    exports="export XDG_RUNTIME_DIR='$dir'; export VIRTMIC_FIFO='$fifo'"
    if [ "$count" -gt 1 ]; then
      mkdir -p "$dir/alsa"
      : > "$dir/alsa/asoundrc"
      for i in $(seq 1 "$count"); do
        name="virtmic"; [ "$i" -gt 1 ] && name="virtmic$i"
        if [ "$i" -gt 1 ]; then
          rm -f "$dir/$name"
          pactl load-module module-pipe-source source_name="$name" file="$dir/$name" format=s16le rate=16000 channels=1 >/dev/null
        fi
        printf 'pcm.%s {\n  type pulse\n  device "%s"\n  hint { show on description "emomon virtual microphone %s" }\n}\n' \
          "$name" "$name" "$i" >> "$dir/alsa/asoundrc"
      done
      exports="$exports; export XDG_CONFIG_HOME='$dir'"
    fi
    echo "$exports"
    ;;
  stop)
    export XDG_RUNTIME_DIR="$dir"
    pulseaudio --kill >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|stop [RUNTIME_DIR]" >&2
    exit 2
    ;;
esac

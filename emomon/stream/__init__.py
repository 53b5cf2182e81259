"""The streaming pipeline behind ``emomon listen`` and ``emomon file --stream``.

Layers (each its own module)::

    source (mic callback / file feeder) → RingBuffer → Windower + VoiceActivity
        → InferenceWorker → Monitor → WindowRecord → session → sinks (screen, JSONL, stdout, plot)

The one-call API: :func:`stream_file` and :func:`stream_microphone` (iterators of
:class:`~emomon.records.WindowRecord`); :class:`Monitor` for several streams or custom sources;
:func:`run_session` to drive a monitor into sinks. Names are imported on first use.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "file_monitor": "api",
    "microphone_monitor": "api",
    "open_model": "api",
    "open_profile": "api",
    "session_sinks": "api",
    "stream_file": "api",
    "stream_microphone": "api",
    "Monitor": "monitor",
    "MonitorConfig": "monitor",
    "MonitorStats": "monitor",
    "CollapseOptions": "familiarity",
    "CollapseWatch": "familiarity",
    "Chunk": "ring",
    "RingBuffer": "ring",
    "Ema": "smoothing",
    "FileSource": "sources",
    "InputDevice": "sources",
    "MicrophoneSource": "sources",
    "PushSource": "sources",
    "Source": "sources",
    "list_input_devices": "sources",
    "resolve_input_device": "sources",
    "run_session": "session",
    "summary_line": "session",
    "ProfileSaver": "sinks",
    "MonitorState": "ui",
    "render": "ui",
    "InferenceWorker": "worker",
    "Scored": "worker",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

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

_EXPORTS = {  # submodule (relative to this package) -> the names it gives
    "api": ["file_monitor", "microphone_monitor", "open_model", "open_profile", "session_sinks", "stream_file", "stream_microphone"],
    "monitor": ["Monitor", "MonitorConfig", "MonitorStats"],
    "familiarity": ["CollapseOptions", "CollapseWatch"],
    "ring": ["Chunk", "RingBuffer"],
    "smoothing": ["Ema"],
    "sources": ["FileSource", "InputDevice", "MicrophoneSource", "PushSource", "Source", "list_input_devices", "resolve_input_device"],
    "session": ["run_session", "summary_line"],
    "sinks": ["ProfileSaver"],
    "ui": ["MonitorState", "render"],
    "worker": ["InferenceWorker", "Scored"],
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

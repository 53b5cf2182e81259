"""The streaming pipeline behind ``emomon listen`` and ``emomon file --stream``.

Layers (each its own module)::

    source (mic callback / file feeder) → RingBuffer → Windower → InferenceWorker → Monitor
        → WindowRecord (gate + EMA) → UI / JSON lines

The one-call API: :func:`stream_file` and :func:`stream_microphone` (iterators of
:class:`~emomon.records.WindowRecord`); :class:`Monitor` for several streams or custom sources.
"""

from .api import file_monitor, microphone_monitor, open_model, stream_file, stream_microphone
from .monitor import Monitor, MonitorConfig, MonitorStats
from .ring import Chunk, RingBuffer
from .smoothing import Ema
from .sources import FileSource, InputDevice, MicrophoneSource, Source, list_input_devices, resolve_input_device
from .ui import MonitorState, render
from .vad import EnergyGate, rms_dbfs
from .windows import Window, Windower
from .worker import InferenceWorker, Scored

__all__ = [
    "Chunk",
    "Ema",
    "EnergyGate",
    "FileSource",
    "InferenceWorker",
    "InputDevice",
    "MicrophoneSource",
    "Monitor",
    "MonitorConfig",
    "MonitorState",
    "MonitorStats",
    "RingBuffer",
    "Scored",
    "Source",
    "Window",
    "Windower",
    "file_monitor",
    "list_input_devices",
    "microphone_monitor",
    "open_model",
    "render",
    "resolve_input_device",
    "rms_dbfs",
    "stream_file",
    "stream_microphone",
]

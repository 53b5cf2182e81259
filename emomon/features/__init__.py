"""Below both the stream and the training package: functions of ``(samples, sample_rate)``.

* :mod:`.mel` — the log-mel front end (torch);
* :mod:`.windows` — cutting a signal into the stream's analysis windows;
* :mod:`.vad` — voice activity (Silero VAD on onnxruntime, an energy gate, or none);
* :mod:`.segments` — speech regions of a whole signal and the segments a file is classified by.

Modules are imported on first use, so the VAD and windowing never import torch.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "FrontEnd": "mel",
    "log_mel": "mel",
    "mel_filterbank": "mel",
    "Window": "windows",
    "Windower": "windows",
    "clip_windows": "windows",
    "VadOptions": "vad",
    "VoiceActivity": "vad",
    "rms_dbfs": "vad",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

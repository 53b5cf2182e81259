"""Below both the stream and the training package: functions of ``(samples, sample_rate)``.

* :mod:`.mel` — the log-mel front end (torch);
* :mod:`.windows` — cutting a signal into the stream's analysis windows;
* :mod:`.vad` — voice activity (Silero VAD on onnxruntime, an energy gate, or none);
* :mod:`.segments` — speech regions of a whole signal and the segments a file is classified by.

Modules are imported on first use, so the VAD and windowing never import torch.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {  # submodule (relative to this package) -> the names it gives
    "mel": ["FrontEnd", "log_mel", "mel_filterbank"],
    "windows": ["Window", "Windower", "clip_windows"],
    "vad": ["VadOptions", "VoiceActivity", "rms_dbfs"],
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

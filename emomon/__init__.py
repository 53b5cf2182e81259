"""emomon: a real-time speech emotion monitor and the training package behind its models.

The flat API::

    import emomon
    model = emomon.load_model("default")          # or a model directory
    model = emomon.load_onnx_model("default")     # the same on onnxruntime, without torch
    pred = model.predict("clip.wav")              # Prediction(label, scores, start, end)
    result = emomon.analyze_file("talk.mp3")      # FileResult: speech segments + summary
    for rec in emomon.stream_file("clip.wav"):    # WindowRecord per window
        ...

Names are imported on first use (PEP 562), so ``import emomon`` and ``emomon --help`` stay fast
and torch is loaded only by what needs a model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports
from .version import __version__

_EXPORTS = {
    "EMOTIONS": "labels",
    "AudioError": "errors",
    "DataError": "errors",
    "DeviceError": "errors",
    "EmomonError": "errors",
    "ModelError": "errors",
    "decode_audio": "audio",
    "EmotionModel": "models",
    "ModelConfig": "models",
    "load_model": "models",
    "load_onnx_model": "models",
    "export_onnx": "models",
    "shipped_models": "models",
    "Prediction": "records",
    "Utterance": "records",
    "WindowRecord": "records",
    "Segment": "records",
    "FileResult": "records",
    "VadOptions": "features.vad",
    "Monitor": "stream",
    "MonitorConfig": "stream",
    "stream_file": "stream",
    "stream_microphone": "stream",
    "analyze_file": "timeline",
    "analyze_files": "timeline",
    "analyze_session": "timeline",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from .audio import decode_audio
    from .errors import AudioError, DataError, DeviceError, EmomonError, ModelError
    from .features.vad import VadOptions
    from .labels import EMOTIONS
    from .models import EmotionModel, ModelConfig, export_onnx, load_model, load_onnx_model, shipped_models
    from .records import FileResult, Prediction, Segment, Utterance, WindowRecord
    from .stream import Monitor, MonitorConfig, stream_file, stream_microphone
    from .timeline import analyze_file, analyze_files, analyze_session

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

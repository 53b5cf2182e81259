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

_EXPORTS = {  # submodule (relative to this package) -> the names it gives
    "labels": ["EMOTIONS"],
    "errors": ["AudioError", "DataError", "DeviceError", "EmomonError", "ModelError"],
    "audio": ["decode_audio"],
    "models": ["EmotionModel", "ModelConfig", "load_model", "load_onnx_model", "export_onnx", "shipped_models"],
    "records": ["Prediction", "Utterance", "WindowRecord", "Segment", "FileResult"],
    "features.vad": ["VadOptions"],
    "stream": ["Monitor", "MonitorConfig", "stream_file", "stream_microphone"],
    "timeline": ["analyze_file", "analyze_files", "analyze_session"],
}

if TYPE_CHECKING:  # pragma: no cover
    from .audio import decode_audio
    from .errors import AudioError, DataError, DeviceError, EmomonError, ModelError
    from .features.vad import VadOptions
    from .labels import EMOTIONS
    from .models import EmotionModel, ModelConfig, export_onnx, load_model, load_onnx_model, shipped_models
    from .records import FileResult, Prediction, Segment, Utterance, WindowRecord
    from .stream import Monitor, MonitorConfig, stream_file, stream_microphone
    from .timeline import analyze_file, analyze_files, analyze_session

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

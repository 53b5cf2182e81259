"""A model's config.json is checked when it is read and when the model is built from its weights:
every problem is one ModelError naming the file and the field, never a torch error or a silent
wrong answer."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, emomon_command, make_test_model_dir, synth_speechlike
from emomon.errors import ModelError
from emomon.labels import EMOTIONS
from emomon.models import load_model, read_config

WHISPER_FRONT = {"sample_rate": 16000, "n_fft": 400, "hop_length": 160, "n_mels": 80, "f_min": 0.0, "f_max": None,
                 "log": "whisper", "mel_scale": "slaney", "norm": "slaney"}


def good_config() -> dict[str, Any]:
    """A config as the default model's is written (layer-head on Whisper)."""
    return {"architecture": "layer-head", "labels": list(EMOTIONS), "sample_rate": 16000, "frontend": dict(WHISPER_FRONT),
            "params": {"backbone": "whisper-base", "layers": [2, 3]}, "window": 3.0, "hop": 0.5, "meta": {"name": "x"}}


def write_config(directory: Path, config: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def edited(directory: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``edit`` to ``directory/config.json`` in place."""
    cfg = json.loads((directory / "config.json").read_text())
    edit(cfg)
    (directory / "config.json").write_text(json.dumps(cfg))


def test_a_valid_config_reads_back(tmp_path):
    cfg = good_config()
    cfg["window"], cfg["extra"] = 2, "ignored"  # a whole number of seconds is a number; unknown keys are ignored
    got = read_config(write_config(tmp_path, cfg))
    assert got.architecture == "layer-head" and got.labels == list(EMOTIONS) and got.sample_rate == 16000
    assert got.window == 2.0 and isinstance(got.window, float) and got.hop == 0.5 and got.frontend == WHISPER_FRONT
    minimal = read_config(write_config(tmp_path / "minimal", {"architecture": "baseline"}))  # the rest has defaults
    assert minimal.labels == list(EMOTIONS) and minimal.frontend is None and minimal.params == {}


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(c: dict[str, Any]) -> None:
        *path, last = key.split(".")
        d = c
        for p in path:
            d = d[p]
        d[last] = value
    return edit


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda c: c.pop(key)


BAD_CONFIGS = [
    # (edit, the field, a piece of the reason)
    (_set("labels", ["neutral", "happy", "sad", "happy"]), "labels", "'happy' appears twice"),
    (_set("labels", ["happy"] * 3), "labels", "'happy' appears 3 times"),
    (_set("labels", "happy"), "labels", 'must be a list of names (got "happy")'),
    (_set("labels", []), "labels", "is empty"),
    (_set("labels", ["happy", ""]), "labels", "item 2 must be a non-empty name"),
    (_set("labels", ["happy", 3]), "labels", "item 2 must be a non-empty name (got 3)"),
    (_drop("architecture"), "architecture", "missing"),
    (_set("architecture", ["layer-head"]), "architecture", "must be the name of an architecture"),
    (_set("architecture", ""), "architecture", "must be the name of an architecture"),
    (_set("sample_rate", 44100.5), "sample_rate", "positive whole number of Hz (got 44100.5)"),
    (_set("sample_rate", 0), "sample_rate", "(got 0)"),
    (_set("sample_rate", -16000), "sample_rate", "(got -16000)"),
    (_set("sample_rate", "abc"), "sample_rate", '(got "abc")'),
    (_set("sample_rate", None), "sample_rate", "(got null)"),
    (_set("sample_rate", True), "sample_rate", "(got true)"),
    (_set("sample_rate", 8000), "frontend.sample_rate", "16000 does not match sample_rate 8000"),
    (_set("frontend", [1, 2]), "frontend", "must be an object or null"),
    (_set("frontend.n_fft", 0), "frontend.n_fft", "positive whole number"),
    (lambda c: c["frontend"].pop("hop_length"), "frontend.hop_length", "missing"),
    (_set("frontend.log", "log2"), "frontend.log", "must be one of"),
    (_set("frontend.f_max", 9000.0), "frontend.f_max", "up to 8000 Hz"),
    (_set("params", None), "params", "must be an object (got null)"),
    (_set("meta", ["x"]), "meta", "must be an object"),
    (_set("window", 0), "window", "positive number of seconds (got 0)"),
    (_set("window", float("nan")), "window", "(got NaN)"),
    (_set("window", float("inf")), "window", "(got Infinity)"),
    (_set("window", "3"), "window", '(got "3")'),
    (_set("hop", -0.5), "hop", "positive number of seconds"),
    (_set("hop", 4.0), "hop", "4 s exceeds the window (3 s)"),
    (_set("window", 0.01), "window", "shorter than the front end takes (201 samples at 16000 Hz"),
    (_set("class_prior", [0.5, 0.5]), "class_prior", "must be a list of 8 shares"),
    (_set("class_prior", [0.125] * 7 + [0]), "class_prior", "every share must be a positive number"),
]


@pytest.mark.parametrize("edit, field, why", BAD_CONFIGS, ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(BAD_CONFIGS)])
def test_a_bad_field_is_one_error_naming_the_file_and_the_field(tmp_path, edit, field, why):
    cfg = good_config()
    edit(cfg)
    write_config(tmp_path, cfg)
    with pytest.raises(ModelError) as err:
        read_config(tmp_path)
    assert err.value.what == str(tmp_path / "config.json")
    assert err.value.why.startswith(f"{field}: ") and why in err.value.why, err.value.why
    assert "\n" not in str(err.value)


def test_a_config_that_is_not_an_object_or_not_json(tmp_path):
    write_config(tmp_path, [good_config()])
    with pytest.raises(ModelError, match="not a JSON object") as err:
        read_config(tmp_path)
    assert err.value.what == str(tmp_path / "config.json")
    (tmp_path / "config.json").write_text('{"architecture": ')
    with pytest.raises(ModelError, match="unreadable"):
        read_config(tmp_path)


# -- checks that need the model: the weights' shape, the backbone's rate and shortest input -----------
@pytest.fixture
def baseline_dir(tmp_path: Path) -> Path:
    """A tiny saved baseline model (8 labels, any sample rate)."""
    from emomon.models import ModelConfig
    from emomon.models.baseline import BaselineModel

    model = BaselineModel(ModelConfig(architecture="baseline", labels=list(EMOTIONS), sample_rate=16000))
    rng = np.random.default_rng(0)
    model.set_linear({"mean": np.zeros(2), "std": np.ones(2), "coef": rng.standard_normal((8, 2)), "intercept": np.zeros(8)})
    return model.save(tmp_path / "baseline")


def test_labels_must_match_the_weights_outputs(baseline_dir):
    edited(baseline_dir, _set("labels", ["neutral", "happy", "sad"]))
    with pytest.raises(ModelError) as err:
        load_model(baseline_dir, device="cpu")
    assert err.value.what == str(baseline_dir / "config.json")
    assert err.value.why == "labels: 3 given, but model.safetensors has 8 outputs (coef (8, 2))"


def test_renamed_labels_of_the_right_count_load(baseline_dir):
    names = [f"e{i}" for i in range(8)]
    edited(baseline_dir, _set("labels", names))
    edited(baseline_dir, _set("sample_rate", 8000))  # the baseline has no front end: any rate is its own
    m = load_model(baseline_dir, device="cpu")
    assert m.labels == names and m.sample_rate == 8000
    assert sorted(m.predict(synth_speechlike(1.0, sr=8000), sample_rate=8000).scores) == sorted(names)


def test_an_unknown_architecture_names_the_config(baseline_dir):
    edited(baseline_dir, _set("architecture", "baseline2"))
    with pytest.raises(ModelError) as err:
        load_model(baseline_dir, device="cpu")
    assert err.value.what == str(baseline_dir / "config.json")
    assert err.value.why.startswith("architecture: unknown 'baseline2' (known: baseline, "), err.value.why


@pytest.fixture
def tiny_layer_head(tmp_path: Path, adaptive_model_dir: Path) -> Path:
    """A copy of the tiny layer-head model (a random 2-layer Whisper backbone) to break."""
    return Path(shutil.copytree(adaptive_model_dir, tmp_path / "layer-head"))


@pytest.mark.parametrize("edit, why", [
    (_set("labels", list(EMOTIONS)[:3]), "labels: 3 given, but model.safetensors has 8 outputs (head.weight (8, 64))"),
    (lambda c: (_set("sample_rate", 8000)(c), _set("frontend.sample_rate", 8000)(c)),
     "sample_rate: the whisper-base backbone runs at 16000 Hz (got 8000)"),
    # without a front end in the config, the backbone's own STFT still sets the shortest window
    (lambda c: (_set("frontend", None)(c), _set("window", 0.01)(c), _set("hop", 0.01)(c)),
     "window: 0.01 s is shorter than the whisper-base backbone takes (201 samples at 16000 Hz"),
    (_set("params.layers", [1, 5]), "params.layers: [1, 5] are not all layers of the backbone (0 to 2)"),
    (_set("params.backbone", "whisper-huge"), "params.backbone: unknown 'whisper-huge'"),
])
def test_what_the_backbone_and_weights_need(tiny_layer_head, edit, why):
    edited(tiny_layer_head, edit)
    with pytest.raises(ModelError) as err:
        load_model(tiny_layer_head, device="cpu")
    assert err.value.what == str(tiny_layer_head / "config.json")
    assert err.value.why.startswith(why), err.value.why


def test_the_tiny_layer_head_loads_unbroken(tiny_layer_head):
    m = load_model(tiny_layer_head, device="cpu")
    assert m.input_needs == ((16000,), 201, "the whisper-base backbone")
    assert m.predict_proba(np.zeros((1, 201), dtype=np.float32)).shape == (1, 8)  # the shortest input does run


def test_conv_receptive_field_of_wav2vec2_base():
    from emomon.models.backbones import conv_receptive_field

    assert conv_receptive_field((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2)) == 400
    assert conv_receptive_field((), ()) == 1


# -- end to end: the CLI's one line --------------------------------------------------------------------
@pytest.mark.parametrize("edit, extra, field", [
    (_set("window", 0), ("--window", "1"), "window"),  # a --window given does not take the blame for the config's
    (_set("window", -1.0), (), "window"),
    (_set("labels", ["happy"] * 8), (), "labels"),
])
def test_cli_names_the_config_file_and_field(tmp_path, edit, extra, field):
    model = make_test_model_dir(tmp_path / "model")
    edited(model, edit)
    clip = tmp_path / "a.wav"
    sf.write(clip, synth_speechlike(1.0), SR)
    p = subprocess.run([*emomon_command(), "file", str(clip), "--model", str(model), *extra], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr and "--window" not in p.stderr
    assert p.stderr.startswith(f"emomon: error: {model / 'config.json'}: {field}: "), p.stderr


def test_the_config_check_knows_the_front_ends_choices():
    """config.py (no torch) keeps its own copy of FrontEnd's Literal choices: they must agree."""
    import typing

    from emomon.features.mel import FrontEnd, LogKind
    from emomon.models.config import FRONTEND_CHOICES

    hints = typing.get_type_hints(FrontEnd, localns={"LogKind": LogKind})

    def choices(tp) -> set:
        out = set()
        for arg in typing.get_args(tp):
            out |= choices(arg) if typing.get_args(arg) else {None if arg is type(None) else arg}
        return out

    assert {name: set(values) for name, values in FRONTEND_CHOICES.items()} == {name: choices(hints[name]) for name in FRONTEND_CHOICES}


def test_a_class_prior_reads_back_normalised(tmp_path):
    from emomon.models.config import ModelConfig

    cfg = good_config()
    cfg["class_prior"] = [2.0] * 4 + [1.0] * 4
    got = ModelConfig.from_dict(cfg)
    assert got.class_prior is not None and abs(sum(got.class_prior) - 1) < 1e-12 and got.class_prior[0] == 2 * got.class_prior[-1]
    assert ModelConfig.from_dict(good_config()).class_prior is None  # older models: unknown

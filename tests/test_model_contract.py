"""The typed model contract (issue 23 item 3): one Classifier protocol both backends implement,
each architecture's params as a frozen dataclass parsed once when a config is read, and the model
card that ship_model.py writes and `emomon models` / the report read."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emomon import defaults
from emomon.cli.root import main
from emomon.errors import ModelError
from emomon.labels import EMOTIONS
from emomon.models.card import Figure, ModelCard, parse_card
from emomon.models.config import ModelConfig, read_config
from emomon.models.interface import Classifier
from emomon.models.params import PARAMS, FinetuneParams, LayerHeadParams, ParamsInvalid, SpeakerNormParams, TransformerParams

REPO = Path(__file__).resolve().parents[1]


# -- the Classifier protocol ---------------------------------------------------------------------------
def _members() -> list[str]:
    return sorted(n for n in Classifier.__dict__ if not n.startswith("_") and n not in ("config",)) + ["config"]


def test_both_backends_implement_the_classifier_protocol(adaptive_model, adaptive_model_dir, tmp_path, monkeypatch):
    from emomon.models.base import EmotionModel
    from emomon.models.export import export_onnx
    from emomon.models.onnx_model import OnnxModel, load_onnx_model

    for cls in (EmotionModel, OnnxModel):  # every member, on the class itself (config is an instance attribute)
        missing = [n for n in _members() if n != "config" and not hasattr(cls, n)]
        assert not missing, (cls.__name__, missing)
    monkeypatch.setenv("EMOMON_ONNX_CACHE", str(tmp_path / "onnx-cache"))
    onnx = load_onnx_model(export_onnx(adaptive_model_dir, tmp_path / "tiny-onnx"), compute="cpu")
    x = np.zeros((2, int(defaults.SAMPLE_RATE * 0.5)), dtype=np.float32)
    for model in (adaptive_model, onnx):
        assert isinstance(model, Classifier)
        assert model.window == model.config.window and model.hop == model.config.hop and model.architecture == "layer-head"
        p = model.predict_proba(x)
        assert p.shape == (2, len(model.labels)) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
        assert model.input_needs.sample_rates == (defaults.SAMPLE_RATE,) and model.adaptive and model.new_adapter() is not None
    assert not isinstance(object(), Classifier)
    from emomon.models.interface import ConfigClassifier

    for name in ("labels", "sample_rate", "window", "hop", "predict"):  # written once for both
        assert getattr(EmotionModel, name) is getattr(OnnxModel, name) is getattr(ConfigClassifier, name)
    clip = np.random.default_rng(0).standard_normal(defaults.SAMPLE_RATE).astype(np.float32) * 0.1
    torch_p, onnx_p = adaptive_model.predict(clip, defaults.SAMPLE_RATE), onnx.predict([clip], defaults.SAMPLE_RATE)[0]
    assert torch_p.label == onnx_p.label and abs(torch_p.end - 1.0) < 1e-9 and onnx_p.path is None


def test_the_interface_module_imports_no_torch():
    code = "import sys, emomon.models.interface, emomon.models.params, emomon.models.card, emomon.models.config; print('torch' in sys.modules)"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "False", p.stderr


# -- params -----------------------------------------------------------------------------------------
def test_every_architecture_has_a_frozen_params_class():
    from emomon.models.registry import architectures

    assert set(PARAMS) == set(architectures()) - {"test-energy"}  # conftest registers its test model
    for cls in PARAMS.values():
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_the_shipped_models_parse_and_write_back_unchanged():
    from emomon.models.shipped import PRETRAINED_DIR, shipped_models

    encoders = {"default": (defaults.BACKBONE, (2, 3, 4, 5, 6)), "fast": ("whisper-tiny.en", (1, 2, 3, 4))}
    assert set(shipped_models()) == set(encoders)
    for name in shipped_models():
        raw = json.loads((PRETRAINED_DIR / name / "config.json").read_text())
        cfg = read_config(PRETRAINED_DIR / name)
        assert cfg.to_dict() == {**raw, "class_prior": raw.get("class_prior")}  # the JSON form is what was read
        hp = cfg.hparams
        assert isinstance(hp, LayerHeadParams) and (hp.backbone, hp.layers) == encoders[name]
        assert hp.speaker_norm == SpeakerNormParams(prior_weight=20.0, unadapted_head=True) and hp.adaptive
        assert LayerHeadParams.from_dict(hp.to_dict()) == hp


def test_layer_head_params_defaults_and_round_trip():
    hp = LayerHeadParams.from_dict({"layers": [1, 2]})
    assert hp == LayerHeadParams(layers=(1, 2)) and hp.backbone == defaults.BACKBONE and hp.backbone_source is None
    assert hp.speaker_norm is None and not hp.adaptive and hp.pooling == "meanstd"
    assert LayerHeadParams.from_dict({"layers": [1], "speaker_norm": {}}).speaker_norm is None  # {}: not adaptive, as before
    with pytest.raises(dataclasses.FrozenInstanceError):
        hp.layers = (3,)  # type: ignore[misc]
    assert FinetuneParams.from_dict({}).pooling == "weighted"  # a config from before there were two poolings
    assert TransformerParams().to_dict()["num_frames"] == 495


@pytest.mark.parametrize("params, why", [
    ({"layers": [2, 3], "layer": [1]}, "params.layer: unknown for layer-head params (known: layers, backbone"),
    ({"layers": [2, "x"]}, 'params.layers: item 2 must be a whole number (got "x")'),
    ({"layers": 3}, "params.layers: must be a list of whole numbers (got 3)"),
    ({"backbone": "whisper-base"}, "params.layers: missing"),
    ({"layers": [2], "backbone": 7}, "params.backbone: must be a string (got 7)"),
    ({"layers": [2], "speaker_norm": {"prior_weight": "a"}}, 'params.speaker_norm.prior_weight: must be a number (got "a")'),
    ({"layers": [2], "speaker_norm": {"prior_weight": -1}}, "params.speaker_norm.prior_weight: must be >= 0"),
    ({"layers": [2], "speaker_norm": {"prior_weight": 1, "x": 1}}, "params.speaker_norm.x: unknown"),
    ({"layers": [2], "shift": {"d0": 1}}, "params.shift.b: missing"),
    ({"layers": [2], "shift": "x"}, 'params.shift: must be an object (got "x")'),
])
def test_a_bad_params_key_is_one_model_error_naming_it(tmp_path, params, why):
    cfg = {"architecture": "layer-head", "params": params}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError) as err:
        read_config(tmp_path)
    assert err.value.what == str(tmp_path / "config.json") and err.value.why.startswith(why), err.value.why


def test_params_of_unregistered_architectures_stay_free_and_typed_ones_follow_edits():
    free = ModelConfig.from_dict({"architecture": "test-energy", "params": {"seed": 0}})
    assert free.hparams is None and free.params == {"seed": 0}
    cfg = ModelConfig.from_dict({"architecture": "whisper-finetune", "params": {"tuned_layers": 1}})
    assert isinstance(cfg.hparams, FinetuneParams) and cfg.hparams.tuned_layers == 1
    cfg.params = {**cfg.params, "tuned_layers": 3}  # a model that rewrites its params is read again
    assert cfg.typed_params(FinetuneParams).tuned_layers == 3
    cfg.params = {"pooling": "max"}
    with pytest.raises(ModelError, match=r"params.pooling: 'max' is not one of layers, weighted"):
        cfg.hparams
    with pytest.raises(ParamsInvalid):
        FinetuneParams.from_dict({"dropout": True})


def test_recipe_options_come_from_the_params_defaults():
    from emomon.training.recipes import get_recipe

    opts = {o.name: o.default for o in get_recipe("default").options}
    assert opts["backbone"] == LayerHeadParams.__dataclass_fields__["backbone"].default == defaults.BACKBONE
    ft = {o.name: o.default for o in get_recipe("finetune").options}
    assert (ft["tuned_layers"], ft["attention"], ft["dropout"]) == (2, 128, 0.1)


# -- the model card -------------------------------------------------------------------------------------
def test_the_shipped_card_reads_its_older_protocol_string():
    card = read_config(REPO / "emomon" / "pretrained" / "default").card
    assert (card.protocol, card.folds, card.speaker_independent, card.mode) == ("emobox", 6, True, "strict")
    assert card.protocol_detail == "emobox (6 folds, speaker-independent=True, strict)"
    assert card.ua is not None and 0 < card.ua.mean < 1 and card.ua.std is not None and card.licence and card.command
    assert card.corpora == ("emodb", "ravdess", "savee") and "all" in card.online_adaptive_ua


def test_a_card_round_trips_and_older_metas_read_leniently():
    card = ModelCard(name="m", protocol="emobox", folds=6, speaker_independent=True, mode="strict", ua=Figure(0.7, 0.02),
                     corpora=("a", "b"), licence="CC", online_adaptive_ua={"0": Figure(0.5, 0.1)})
    d = card.to_dict()
    assert d["license"] == "CC" and d["ua"] == {"mean": 0.7, "std": 0.02} and d["protocol"] == "emobox" and d["folds"] == 6
    assert parse_card(d) == card and card.protocol_detail == "emobox (6 folds, speaker-independent=True, strict)"
    final = parse_card({"recipe": "default", "protocol": "random", "cv_ua": 0.5, "cv_wa": 0.6, "license": None})  # emomon train's final model
    assert final.ua == Figure(0.5) and final.wa == Figure(0.6) and final.speaker_independent is False and final.mode == "strict"
    assert final.folds is None and final.protocol_detail is None
    assert parse_card({}) == ModelCard() and parse_card(None) == ModelCard()


@pytest.mark.parametrize("meta, why", [
    ({"ua": "high"}, 'meta.ua: must be {"mean": number, "std": number} or a number (got "high")'),
    ({"folds": 2.5}, "meta.folds: must be a whole number (got 2.5)"),
    ({"corpora": "emodb"}, 'meta.corpora: must be a list of corpus names (got "emodb")'),
    ({"speaker_independent": "yes"}, 'meta.speaker_independent: must be true or false (got "yes")'),
    ({"license": 3}, "meta.license: must be a string (got 3)"),
])
def test_a_mistyped_card_field_is_one_model_error(tmp_path, meta, why):
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "baseline", "meta": meta}))
    with pytest.raises(ModelError) as err:
        read_config(tmp_path)
    assert err.value.what == str(tmp_path / "config.json") and err.value.why == why


def test_ship_model_writes_the_card_from_run_results(tmp_path, monkeypatch):
    """ship_model.py builds the card from the run's RunResults: the report and `emomon models` read
    it back (protocol, folds, mode as fields, no string to parse)."""
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import ship_model

    from emomon.training.report.loading import run_from_model_config
    from emomon.training.report.runs import Source
    from emomon.training.results import RunResults

    metrics = {"model": "default", "protocol": "kfold-speaker", "speaker_independent": True, "mode": "strict", "labels": list(EMOTIONS),
               "data": "ravdess=/d", "n_utterances": 100, "ua": {"mean": 0.6, "std": 0.05}, "wa": {"mean": 0.62, "std": 0.04},
               "f1": {"mean": 0.59, "std": 0.05}, "folds": [{"fold": "1"}, {"fold": "2"}, {"fold": "3"}],
               "file": {"ua": {"mean": 0.55, "std": 0.1}, "wa": {"mean": 0.5}, "f1": {"mean": 0.5}, "unanswered": 3},
               "extra": {"options": {"adapt": True}}}
    res = RunResults.from_dict(metrics)
    card = ship_model.card_of(res, {"recipe": "default", "corpora": ["ravdess"], "protocol": "kfold-speaker", "cv_ua": 0.6}, "mine", "a test")
    assert (card.protocol, card.folds, card.speaker_independent, card.mode) == ("kfold-speaker", 3, True, "strict")
    assert card.ua == Figure(0.6, 0.05) and card.file_ua == Figure(0.55, 0.1) and card.file_unanswered == 3 and card.streamed_ua is None
    assert card.trained_on == "100 clips of ravdess=/d" and card.command.endswith("--out RUN --set adapt=true") and card.licence
    meta = {"recipe": "default", **card.to_dict()}
    config = ModelConfig.from_dict({"architecture": "layer-head", "params": {"layers": [1]}, "meta": meta})
    assert config.card == card
    run = run_from_model_config("mine", tmp_path, config, Source.MODEL_DIR)
    assert (run.protocol, run.n_folds, run.speaker_independent, run.mode) == ("kfold-speaker", 3, True, "strict")
    assert run.protocol_detail == "kfold-speaker (3 folds, speaker-independent=True, strict)"
    assert run.ua is not None and run.ua.mean == 0.6 and run.file_unanswered == 3 and run.provenance.description == "a test"


def test_emomon_models_reads_the_card(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "protocol: emobox (6 folds, speaker-independent=True, strict)" in " ".join(out.split())


def test_the_onnx_export_record_is_part_of_the_card():
    """`emomon export` records its graph in meta.onnx; the card reads it typed (graph_quantize
    from it), writes it back unchanged, and names a mistyped field."""
    from emomon.models.card import OnnxExport
    from emomon.models.onnx_cache import graph_quantize

    meta = {"onnx": {"graph": "model.onnx", "quantize": "int8", "opset": 18, "exported_by": "emomon 0.1", "source": "x"}}
    config = ModelConfig.from_dict({"architecture": "layer-head", "params": {"layers": [1]}, "meta": meta})
    assert config.card.onnx == OnnxExport("model.onnx", "int8", 18, "emomon 0.1", None, "x")
    assert graph_quantize(config) == "int8" and config.card.to_dict()["onnx"] == meta["onnx"]
    fp32 = ModelConfig.from_dict({"architecture": "layer-head", "params": {"layers": [1]}, "meta": {"onnx": {"graph": "g.onnx"}}})
    plain = ModelConfig.from_dict({"architecture": "layer-head", "params": {"layers": [1]}})
    assert graph_quantize(fp32) is None and graph_quantize(plain) is None
    with pytest.raises(ModelError) as err:
        parse_card({"onnx": {"graph": "g.onnx", "opset": "eighteen"}})
    assert err.value.why.startswith("meta.onnx.opset: must be a whole number")


def test_ship_model_keeps_the_shipped_description_on_a_reship(tmp_path):
    """A reship without --description keeps the description of the model already shipped (the run's
    own config has none); a first ship without one has none."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import ship_model
    finally:
        sys.path.remove(str(REPO / "scripts"))
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "layer-head", "meta": {"description": "the old words"}}))
    assert ship_model.shipped_description(tmp_path) == "the old words"
    assert ship_model.shipped_description(tmp_path / "absent") == ""
    (tmp_path / "config.json").write_text("{not json")
    assert ship_model.shipped_description(tmp_path) == ""


def test_the_shipped_options_are_those_the_default_was_trained_with():
    """SHIPPED_OPTIONS (what the benchmarks call the shipped recipe) agree with the shipped
    default's card: every option is in its command as --set KEY=VALUE, and no other --set is."""
    import shlex

    from emomon.models.config import read_config
    from emomon.training.recipes.layer_head import SHIPPED_OPTIONS

    card = read_config(REPO / "emomon" / "pretrained" / "default").card
    words = shlex.split(card.command or "")
    sets = dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "--set")
    want = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in SHIPPED_OPTIONS.items()}
    assert sets == want

"""The onnxruntime backend (``--backend onnx``) and ``emomon export``, on a tiny random Whisper:
the numpy front end and head against torch's, the exported graph against the torch model (plain,
adapted, lists of clips, inputs longer than 30 s), the export's refusals, the graph cache, and
the CLI never importing torch with onnx. Real-model parity on speech: test_onnx_parity.py."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import SENTENCES, SR, spoken, synth_speechlike
from emomon.cli import main
from emomon.errors import AudioError, EmomonError, ModelError
from emomon.features.mel import FrontEnd, log_mel
from emomon.features.mel_numpy import log_mel_np
from emomon.labels import EMOTIONS
from emomon.models import load_model
from emomon.models.numpy_head import NumpyHead
from emomon.models.onnx_graph import combine_chunks
from emomon.models.onnx_model import OnnxModel, load_onnx_model

pytest.importorskip("onnxscript")

# Measured on these tiny models (float32 both sides): about 1e-6 in probability.
PROBA_ATOL = 1e-4
MEL_ATOL = 1e-4  # Whisper's log scale (about -1 .. 2)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path_factory, monkeypatch):
    """Graphs exported on first use go to a temporary cache, never the user's."""
    monkeypatch.setenv("EMOMON_ONNX_CACHE", str(tmp_path_factory.getbasetemp() / "onnx-cache"))


@pytest.fixture(scope="session")
def exported(tmp_path_factory, adaptive_model_dir) -> Path:
    """The tiny adaptive model exported with ``emomon export`` (fp32)."""
    out = tmp_path_factory.mktemp("exported") / "tiny-onnx"
    assert main(["export", str(adaptive_model_dir), "--format", "onnx", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def onnx_model(exported) -> OnnxModel:
    return load_onnx_model(exported, compute="cpu")


def _speech(seconds: float, seed: int) -> np.ndarray:
    return synth_speechlike(seconds, f0=140 + 30 * seed, amp=0.05 + 0.05 * seed, seed=seed)


# -- the numpy parts ---------------------------------------------------------------------------
@pytest.mark.parametrize("front", [
    FrontEnd(),
    FrontEnd(log="ln", mel_scale="htk", norm=None, n_fft=512, hop_length=128, f_min=20.0, f_max=7600.0, n_mels=40),
    FrontEnd(log="none"),
])
@pytest.mark.parametrize("samples", [201, 333, 16000, 48000 + 17])
def test_numpy_log_mel_matches_torch(front, samples):
    samples = max(samples, front.n_fft // 2 + 1)  # the shortest input the front end takes, or more
    x = np.stack([_speech(samples / SR, 1), np.random.default_rng(0).standard_normal(samples).astype(np.float32) * 0.1])
    ref, got = log_mel(x, front).numpy(), log_mel_np(x, front)
    assert got.shape == ref.shape == (2, front.num_frames(samples), front.n_mels) and got.dtype == np.float32
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(got, ref, atol=MEL_ATOL * scale, rtol=0)
    assert log_mel_np(x[0], front).shape == ref.shape[1:]


def test_numpy_log_mel_refuses_too_short_input_as_torch_does():
    with pytest.raises(AudioError) as np_err:
        log_mel_np(np.zeros(200, np.float32), FrontEnd())
    with pytest.raises(AudioError) as torch_err:
        log_mel(np.zeros(200, np.float32), FrontEnd())
    assert str(np_err.value) == str(torch_err.value) and "too short" in str(np_err.value)


def test_combining_chunks_gives_the_pooled_statistics_of_the_whole():
    rng = np.random.default_rng(3)
    h = rng.standard_normal((2, 101, 3, 5)).astype(np.float32) * 4 + 7  # (batch, time, states, hidden)
    cuts = [0, 40, 90, 101]
    parts = [h[:, a:b] for a, b in zip(cuts, cuts[1:])]
    mean, std = combine_chunks([p.shape[1] for p in parts], [p.mean(1) for p in parts], [p.std(1) for p in parts])
    np.testing.assert_allclose(mean, h.mean(1), atol=1e-5)
    np.testing.assert_allclose(std, h.std(1), atol=1e-5)


def _head_of(model) -> NumpyHead:
    tensors = {k: v.numpy() for k, v in model.persistent_state_dict().items()}
    return NumpyHead(model.config.params, tensors)


def test_numpy_head_matches_torch_adaptive(adaptive_model):
    head = _head_of(adaptive_model)
    prior = adaptive_model.new_adapter()  # features like the training speakers', not extreme ones
    z = np.random.default_rng(1).standard_normal((5, head.num_features))
    feats = (prior.prior_mean + 0.7 * np.sqrt(prior.prior_var) * z).astype(np.float32)
    adapter = adaptive_model.new_adapter()
    adapter.update(feats[:3] * 2 + 1, seconds=3.0)  # weight 3/23: both heads mixed
    states = [None, adapter.state(), (feats.mean(0), feats.std(0) + 0.1)]
    for speaker in states:
        with torch.inference_mode():
            ref = torch.softmax(adaptive_model.classify_features(torch.from_numpy(feats), speaker), -1).numpy()
        np.testing.assert_allclose(head.proba(feats, speaker), ref, atol=1e-5)
    assert head.adaptive and head.new_adapter().prior_weight == adaptive_model.prior_weight


def test_numpy_head_matches_torch_with_shift_and_no_adaptation(tiny_whisper_dir):
    from emomon.models.layer_head import LayerHeadModel

    cfg = LayerHeadModel.make_config(EMOTIONS, layers=[1, 2], backbone_source=str(tiny_whisper_dir), shift={"d0": 0.5, "b": 1.5})
    model = LayerHeadModel(cfg)
    rng = np.random.default_rng(2)
    n = 2 * 16 * 2
    model.set_head(rng.standard_normal(n), rng.random(n) + 0.5, rng.standard_normal((8, n)), rng.standard_normal(8), temperature=2.0)
    feats = rng.standard_normal((4, n)).astype(np.float32) * np.array([[0.5], [1], [2], [4]], np.float32)
    with torch.inference_mode():
        ref = torch.softmax(model.classify_features(torch.from_numpy(feats)), -1).numpy()
    head = _head_of(model)
    assert not head.adaptive and head.new_adapter() is None
    np.testing.assert_allclose(head.proba(feats), ref, atol=1e-5)


# -- the exported model against torch ---------------------------------------------------------
def test_export_writes_a_model_directory_both_backends_load(exported, adaptive_model_dir):
    assert {p.name for p in exported.iterdir()} == {"config.json", "model.safetensors", "model.onnx"}
    cfg = json.loads((exported / "config.json").read_text())
    assert cfg["meta"]["onnx"]["quantize"] == "none" and cfg["params"] == json.loads((adaptive_model_dir / "config.json").read_text())["params"]
    assert (exported / "model.safetensors").read_bytes() == (adaptive_model_dir / "model.safetensors").read_bytes()
    assert load_model(exported, device="cpu").architecture == "layer-head"  # torch still loads it
    m = load_onnx_model(exported, compute="cpu")
    assert m.graph.path == exported / "model.onnx" and m.graph.quantize is None
    assert (m.labels, m.sample_rate, m.adaptive) == (list(EMOTIONS), SR, True)


def test_onnx_probabilities_match_torch(onnx_model, adaptive_model):
    x = np.stack([_speech(1.0, i) for i in range(4)])
    np.testing.assert_allclose(onnx_model.predict_proba(x), adaptive_model.predict_proba(x), atol=PROBA_ATOL)
    clips = [_speech(s, i) for i, s in enumerate((0.5, 1.3, 0.02))]  # different lengths, one of 320 samples
    np.testing.assert_allclose(onnx_model.predict_proba(clips), adaptive_model.predict_proba(clips), atol=PROBA_ATOL)
    with torch.inference_mode():
        ref = adaptive_model.features(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(onnx_model.features(x), ref, atol=1e-4, rtol=1e-4)


def test_the_session_keeps_no_memory_arena(onnx_model):
    """Without onnxruntime's CPU arena, memory is returned after each shape (emomon file feeds many)."""
    assert onnx_model.graph.session.get_session_options().enable_cpu_mem_arena is False


def test_inputs_longer_than_30_s_are_chunked_as_torch_does(onnx_model, adaptive_model):
    x = np.concatenate([_speech(20.0, 1), _speech(25.0, 3), _speech(21.0, 2)])[None]  # 66 s: three encoder chunks
    np.testing.assert_allclose(onnx_model.predict_proba(x), adaptive_model.predict_proba(x), atol=PROBA_ATOL)


def test_adapted_windows_match_torch_in_order(onnx_model, adaptive_model):
    windows = np.stack([_speech(1.0, i % 4) for i in range(6)])
    streams = ["a", "b", "a", "a", "b", "a"]
    got_ad = {s: onnx_model.new_adapter() for s in "ab"}
    ref_ad = {s: adaptive_model.new_adapter() for s in "ab"}
    got = onnx_model.predict_proba_adapted(windows, [got_ad[s] for s in streams], [0.25] * 6)
    ref = adaptive_model.predict_proba_adapted(windows, [ref_ad[s] for s in streams], [0.25] * 6)
    np.testing.assert_allclose(got, ref, atol=PROBA_ATOL)
    for s in "ab":
        assert got_ad[s].heard.count == ref_ad[s].heard.count == streams.count(s)
        np.testing.assert_allclose(got_ad[s].heard.sum, ref_ad[s].heard.sum, rtol=1e-4, atol=1e-3)
    # the later windows of stream a moved away from the prior: adaptation did something
    assert np.abs(got[5] - onnx_model.predict_proba(windows[5:6])[0]).max() > 1e-3


def test_whole_clip_predict(onnx_model, adaptive_model, tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, _speech(1.5, 2), SR)
    got, ref = onnx_model.predict(str(path)), adaptive_model.predict(str(path))
    assert got.label == ref.label and got.path == str(path) and got.end == pytest.approx(1.5)
    assert max(abs(got.scores[k] - ref.scores[k]) for k in EMOTIONS) < PROBA_ATOL


# -- the CLI ------------------------------------------------------------------------------------
def _cli_without_torch(*argv, env=None) -> subprocess.CompletedProcess:
    """The CLI in a fresh interpreter that reports on stderr whether torch was imported."""
    code = ("import sys; from emomon.cli import main; rc = main(sys.argv[1:]); "
            "print('TORCH_IMPORTED=' + str('torch' in sys.modules), file=sys.stderr); sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True, timeout=300,
                          env=env or dict(os.environ))


@pytest.fixture(scope="module")
def two_clips(tmp_path_factory) -> list[Path]:
    """Two clips of real (synthesized) speech: Silero hears them, so every file has segments."""
    d = tmp_path_factory.mktemp("clips")
    return [spoken(d / "a.wav", " ".join(SENTENCES[:2])), spoken(d / "b.wav", SENTENCES[2], pitch=70)]


@pytest.mark.parametrize("extra", [["--format", "json"], ["--adapt", "--format", "json"]])
def test_file_with_onnx_never_imports_torch_and_agrees_with_torch(exported, two_clips, extra):
    onnx = _cli_without_torch("file", *two_clips, "--model", exported, "--backend", "onnx", *extra)
    assert onnx.returncode == 0, onnx.stderr
    assert "TORCH_IMPORTED=False" in onnx.stderr
    ref = _cli_without_torch("file", *two_clips, "--model", exported, "--backend", "torch", "--precision", "fp32", *extra)
    assert ref.returncode == 0 and "TORCH_IMPORTED=True" in ref.stderr  # the check can see torch
    got, want = [json.loads(line) for line in onnx.stdout.splitlines()], [json.loads(line) for line in ref.stdout.splitlines()]
    assert len(got) == len(want) == 2
    for g, w in zip(got, want):
        assert g["label"] == w["label"] and len(g["segments"]) == len(w["segments"]) > 0
        assert max(abs(g["scores"][k] - w["scores"][k]) for k in EMOTIONS) < PROBA_ATOL


def test_file_stream_with_onnx_never_imports_torch(exported, two_clips):
    proc = _cli_without_torch("file", *two_clips, "--stream", "--fast", "--no-ui", "--adapt", "--model", exported, "--backend", "onnx")
    assert proc.returncode == 0, proc.stderr
    assert "TORCH_IMPORTED=False" in proc.stderr
    recs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {r["stream"] for r in recs} == {str(p) for p in two_clips}
    assert any(r["label"] in EMOTIONS and r["adapted_s"] for r in recs)


def test_export_refuses_to_overwrite_without_force(capsys, exported, adaptive_model_dir, tmp_path):
    out = tmp_path / "again"
    out.mkdir()
    (out / "model.onnx").write_bytes(b"mine")
    code, _, err = run(capsys, "export", adaptive_model_dir, "--out", out)
    assert code == 1 and err.strip() == f"emomon: error: {out}: already holds model.onnx (refusing to overwrite; use --force)"
    assert (out / "model.onnx").read_bytes() == b"mine"
    assert run(capsys, "export", adaptive_model_dir, "--out", out, "--force")[0] == 0
    assert load_onnx_model(out, compute="cpu").graph.path == out / "model.onnx"  # a graph now, not "mine"
    (tmp_path / "file.txt").write_text("x")
    code, _, err = run(capsys, "export", adaptive_model_dir, "--out", tmp_path / "file.txt")
    assert code == 1 and "exists and is not a directory" in err and "Traceback" not in err
    assert (tmp_path / "file.txt").read_text() == "x"


def test_export_refuses_other_architectures_and_unknown_models(capsys, test_model_dir, tmp_path):
    code, _, err = run(capsys, "export", test_model_dir, "--out", tmp_path / "x")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "architecture 'test-energy' has no ONNX export (only layer-head models on a Whisper backbone have)" in err
    code, _, err = run(capsys, "export", "no-such-model", "--out", tmp_path / "x")
    assert code == 1 and "no-such-model: no such model" in err
    code, _, err = run(capsys, "export", test_model_dir, "--out", tmp_path / "x", "--quantize", "int4")
    assert code == 2 and "int4" in err
    assert not (tmp_path / "x").exists()


def test_onnx_backend_errors_are_one_line(capsys, test_model_dir, exported, two_clips, monkeypatch):
    code, _, err = run(capsys, "file", two_clips[0], "--model", test_model_dir, "--backend", "onnx")
    assert code == 1 and "cannot run on onnxruntime" in err and "use --backend torch" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "file", two_clips[0], "--model", exported, "--backend", "onnx", "--precision", "bf16")
    assert code == 1 and "--precision bf16: applies to --backend torch" in err
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # not installed
    code, _, err = run(capsys, "file", two_clips[0], "--model", exported, "--backend", "onnx")
    assert code == 1 and err.strip() == "emomon: error: --backend onnx: onnxruntime is not installed (pip install onnxruntime)"


def test_a_graph_that_does_not_fit_the_head_is_refused(exported, tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(exported, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["params"]["layers"] = [1]  # the head has features of two layers
    (other / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="do not fit the head's 64 features"):
        load_onnx_model(other, compute="cpu")
    (other / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(ModelError, match="cannot load the ONNX graph"):
        load_onnx_model(other, compute="cpu")


def test_a_model_without_a_graph_is_exported_once_into_the_cache(adaptive_model_dir, adaptive_model, tmp_path, monkeypatch, caplog):
    from emomon.models.onnx_cache import cached_graph

    monkeypatch.setenv("EMOMON_ONNX_CACHE", str(tmp_path / "cache"))
    assert not (adaptive_model_dir / "model.onnx").exists()
    with caplog.at_level(logging.WARNING, logger="emomon.models.onnx_cache"):
        m = load_onnx_model(adaptive_model_dir, compute="cpu")
    graph = cached_graph(m.config, None)
    assert m.graph.path == graph and graph.is_relative_to(tmp_path / "cache")
    assert [r.getMessage() for r in caplog.records if "exporting it once" in r.getMessage()] != []
    stamp = graph.stat().st_mtime_ns
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="emomon.models.onnx_cache"):
        again = load_onnx_model(adaptive_model_dir, compute="cpu")
    assert again.graph.path == graph and graph.stat().st_mtime_ns == stamp and not caplog.records  # reused, not exported again
    x = np.stack([_speech(1.0, 2)])
    np.testing.assert_allclose(again.predict_proba(x), adaptive_model.predict_proba(x), atol=PROBA_ATOL)
    assert cached_graph(m.config, "int8") != graph  # int8 is its own entry


def test_api_open_model_with_backend(exported):
    from emomon.stream.api import open_model

    m = open_model(str(exported), compute="cpu", backend="onnx")
    assert isinstance(m, OnnxModel) and open_model(m) is m
    with pytest.raises(EmomonError, match="unknown 'tflite'"):
        open_model(str(exported), backend="tflite")

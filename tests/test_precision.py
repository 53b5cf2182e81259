"""The encoder's number format: ``auto`` picks bf16 only where the hardware has it, an explicit
bf16 runs the backbone (only) in bf16, and its answers stay close to fp32's."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from emomon.errors import EmomonError
from emomon.models import load_model, precision as prec
from emomon.models.backbones import WHISPER_FRONT
from emomon.features.mel import log_mel


@pytest.fixture
def cpu_flags(monkeypatch):
    def set_flags(*flags: str) -> None:
        monkeypatch.setattr(prec, "cpu_flags", lambda: frozenset(flags))
    return set_flags


def test_auto_is_bf16_only_where_the_cpu_has_it(cpu_flags):
    cpu = torch.device("cpu")
    cpu_flags("avx2", "fma")
    assert prec.resolve_precision("auto", cpu) == "fp32"
    cpu_flags("avx2", "avx512f", "amx_bf16", "amx_tile")
    assert prec.resolve_precision("auto", cpu) == "bf16"
    cpu_flags("avx512f", "avx512_bf16")
    assert prec.resolve_precision("auto", cpu) == "bf16"


def test_explicit_choices_and_an_unknown_one(cpu_flags, caplog):
    cpu = torch.device("cpu")
    cpu_flags("avx2")
    assert prec.resolve_precision("fp32", cpu) == "fp32"
    with caplog.at_level(logging.WARNING, logger="emomon.models.precision"):
        assert prec.resolve_precision("bf16", cpu) == "bf16"
    assert "emulated" in caplog.text
    with pytest.raises(EmomonError, match="unknown 'fp8'"):
        prec.resolve_precision("fp8", cpu)


def test_cpu_flags_are_read_from_proc_cpuinfo():
    flags = prec.cpu_flags()
    assert isinstance(flags, frozenset)
    if sys.platform == "linux":
        assert flags and ("sse2" in flags or "fp" in flags or "asimd" in flags)  # x86 or arm


def test_bf16_runs_the_backbone_only_and_stays_close(adaptive_model_dir, cpu_flags):
    cpu_flags("avx2")
    model = load_model(adaptive_model_dir, device="cpu")
    rng = np.random.default_rng(0)
    x = torch.from_numpy((0.1 * rng.standard_normal((3, 16000))).astype(np.float32))
    assert model.set_precision("auto") == "fp32"
    with torch.inference_mode():
        ref = model.features(x)
        p32 = model.predict_proba(x.numpy())
    model.set_precision("bf16")
    assert model.precision == "bf16"
    with torch.inference_mode():
        got = model.features(x)
        p16 = model.predict_proba(x.numpy())
    assert got.dtype == torch.float32  # the pooled features and the head stay fp32
    assert not torch.equal(got, ref)  # ... but the backbone did run in bf16
    rel = float((got - ref).norm() / ref.norm())
    assert rel < 0.05, rel
    # bf16 activations throughout (a Whisper backbone's bf16 copy) move this tiny random model's
    # sharp head by up to ~0.06; what bf16 does to a real model's UA: benchmarks/precision_ua.py
    assert np.abs(p16 - p32).max() < 0.08
    assert p16.sum(axis=1) == pytest.approx(np.ones(3), abs=1e-5)


def test_a_whisper_backbone_runs_on_a_bf16_copy_of_its_weights(adaptive_model_dir, cpu_flags):
    cpu_flags("amx_bf16")
    model = load_model(adaptive_model_dir, device="cpu")
    keys = set(model.state_dict())
    x = torch.from_numpy((0.1 * np.random.default_rng(2).standard_normal((2, 16000))).astype(np.float32))
    with torch.inference_mode():
        ref = model.features(x)
        assert model.set_precision("auto") == "bf16"
        got = model.features(x)
    copy = model._bf16_cache[1]
    assert {p.dtype for p in copy.parameters()} == {torch.bfloat16}  # the copy is bf16 ...
    assert {p.dtype for p in model.backbone.parameters()} == {torch.float32}  # ... the model's own weights stay fp32
    assert set(model.state_dict()) == keys  # the copy is not part of what is saved
    with torch.inference_mode():  # bf16 without autocast: the copy's own answer
        states = copy(x)
    assert states[1].dtype == torch.bfloat16
    assert got.dtype == torch.float32 and not torch.equal(got, ref)
    assert float((got - ref).norm() / ref.norm()) < 0.05
    model.set_precision("fp32")
    with torch.inference_mode():
        assert torch.equal(model.features(x), ref)  # back to fp32, exactly


def test_the_front_end_stays_fp32_under_autocast():
    x = torch.from_numpy((0.1 * np.random.default_rng(1).standard_normal((2, 8000))).astype(np.float32))
    ref = log_mel(x, WHISPER_FRONT)
    from emomon.models.backbones import WhisperBackbone
    from test_whisper_backbone import tiny_encoder

    bb = WhisperBackbone(tiny_encoder())
    seen = {}
    orig = bb.encoder.forward

    def spy(mel, upto=None):  # the encoder's signature: mel frames, and optionally the last state wanted
        seen["mel"] = mel
        return orig(mel, upto)

    bb.encoder.forward = spy
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        bb(x)
    assert seen["mel"].dtype == torch.float32
    assert torch.allclose(seen["mel"], ref[:, : seen["mel"].shape[1]])


def test_cli_takes_precision_and_refuses_an_unknown_one(tmp_path):
    run = subprocess.run([sys.executable, "-m", "emomon", "file", str(tmp_path / "x.wav"), "--precision", "fp8"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "fp8" in run.stderr and "Traceback" not in run.stderr


def test_bf16_copy_benchmark_times_both_bf16_paths(adaptive_model_dir, capsys):
    bench = str(Path(__file__).resolve().parents[1] / "benchmarks")
    sys.path.insert(0, bench)
    try:
        import bf16_copy
    finally:
        sys.path.remove(bench)
    assert bf16_copy.main(["--model", str(adaptive_model_dir), "--seconds", "0.05", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("bf16 copy / autocast") == 2  # batch 1 and 16
    errs = [float(e) for line in out.splitlines() if "relative error" in line for e in line.split(":")[1].split()]
    assert errs and all(0 < e < 0.1 for e in errs)  # both ran in bf16, and stayed close to fp32

"""benchmarks/ceiling.py's FLOP counter against torch's FlopCounterMode, its ceilings arithmetic,
and ceiling.py / scripts/prepare_gpu_inputs.py / benchmarks/gpu_streams.py (CPU fallback) end to
end with tiny settings on a tiny random Whisper."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import ceiling  # noqa: E402
from ceiling import FlopCount, Shape, ceilings, encoder_frames, measured_flops, model_flops, window_flops  # noqa: E402

from emomon.models.backbones import WHISPER_FRONT, WhisperBackbone  # noqa: E402
from emomon.models.whisper_encoder import WhisperDims, WhisperEncoder  # noqa: E402


def test_encoder_frames_of_a_3s_window() -> None:
    assert encoder_frames(48000, WHISPER_FRONT) == (300, 300)  # 301 STFT frames, the last dropped
    assert encoder_frames(16000 + 170, WHISPER_FRONT) == (101, 100)  # trimmed to an even number


def test_whisper_base_window_count() -> None:
    """The default model's count for a 3 s window, by hand: 150 positions, 6 blocks of d 512."""
    f = window_flops(WhisperDims(), WHISPER_FRONT, 48000, blocks=6, n_feat=5120, n_labels=8, heads=2)
    t, d = 150, 512
    assert f.stem == 2 * 80 * 3 * d * 300 + 2 * d * 3 * d * t
    assert f.attn_proj == 6 * 2 * t * d * 4 * d
    assert f.attn_core == 6 * 4 * t * t * d
    assert f.mlp == 6 * 4 * t * d * 2048
    assert f.front == 2 * 80 * 201 * 300 and f.head == 2 * 2 * 5120 * 8
    assert f.total == 6_258_259_840


def _encoder_counter(encoder: WhisperEncoder, frames: int) -> int:
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:
        encoder(torch.randn(1, frames, encoder.dims.n_mels))
    return int(fc.get_total_flops())


@pytest.mark.parametrize("frames", [300, 102])
def test_chunk_count_matches_the_counter_on_a_random_encoder(frames: int) -> None:
    dims = WhisperDims(d_model=16, n_heads=2, n_layers=3, d_ff=40)
    encoder = WhisperEncoder(dims).eval()
    assert sum(ceiling.chunk_flops(dims, frames, 3).values()) == _encoder_counter(encoder, frames)


@pytest.mark.parametrize("seconds", [1.0, 1.37, 31.0])  # a window, odd frames, two 30 s chunks
def test_model_count_matches_the_counter_on_a_tiny_whisper_head(adaptive_model, seconds: float) -> None:
    samples = int(seconds * 16000)
    analytic, measured = model_flops(adaptive_model, samples), measured_flops(adaptive_model, samples)
    assert analytic == measured, (analytic.as_dict(), measured.as_dict())
    assert analytic.head > 0 and analytic.front > 0 and analytic.attn_core > 0


def test_measured_counts_attention_only_through_the_math_kernel() -> None:
    """The CPU's fused attention kernel is invisible to FlopCounterMode: the count must pick the
    math kernel (a drop of exactly the score and value products would mean it did not)."""
    dims = WhisperDims(d_model=16, n_heads=2, n_layers=1, d_ff=32)
    model_like = WhisperBackbone(WhisperEncoder(dims).eval())

    class Wrap(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = model_like

        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            return self.backbone(x)

    got = measured_flops(Wrap(), 16000)
    want = window_flops(dims, WHISPER_FRONT, 16000, blocks=1, n_feat=1, n_labels=1)
    assert got == FlopCount(**{**want.__dict__, "head": 0})


def test_ceilings_mix_is_total_flops_over_total_time() -> None:
    shapes = [Shape("a", 1, 10, 10, 10, True), Shape("b", 4, 10, 10, 10, True), Shape("issue", 1, 100, 100, 100)]
    fa, fb = shapes[0].flops, shapes[1].flops
    rates = {"torch-fp32": {"a": 1.0, "b": 4.0, "issue": 9.0},
             "ort-fp32": {"a": 2.0, "b": 2.0, "issue": None},
             "ort-int8-mmi": {"a": 8.0, "b": None, "issue": 16.0}}
    got = ceilings(shapes, rates)
    assert got["torch-fp32"]["peak"] == 9.0
    assert got["torch-fp32"]["mix"] == pytest.approx((fa + fb) / (fa / 1.0 + fb / 4.0))
    # int8 runs the batched (attention) product at onnxruntime fp32's rate
    assert got["ort-int8-mmi"]["mix"] == pytest.approx((fa + fb) / (fa / 8.0 + fb / 2.0))


def _run(argv: list[str], timeout: float = 240) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return r


def test_ceiling_script_end_to_end(adaptive_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ceiling.json"
    r = _run(["benchmarks/ceiling.py", "--model", str(adaptive_model_dir), "--models", str(adaptive_model_dir), "--seconds", "0.01",
              "--windows", "2", "--batch", "2", "--streams", "1", "--stream-seconds", "1.5", "--saturation", "3",
              "--backends", "torch-fp32,ort-fp32,ort-int8-mmi,ort-int8-qlmm", "--json", str(out)])
    res = json.loads(out.read_text())
    flops = res["flops"][str(adaptive_model_dir)]
    assert flops["analytic"] == flops["measured"] and flops["relative_difference"] == 0
    assert res["rates"]["torch-fp32"]["fc1 x2"] > 0 and res["ceilings"]["ort-fp32"]["mix"] > 0
    assert [row["what"] for row in res["achieved"]] == ["file, batch 2", "streams x1, fast"] * 2 + ["given saturation"]
    assert all(row["gflops"] > 0 for row in res["achieved"])
    assert "ceiling mix" in r.stdout and "goal: 24 streams" in r.stdout


def test_gpu_streams_cpu_fallback(adaptive_model_dir: Path, tmp_path: Path) -> None:
    inputs, out = tmp_path / "inputs", tmp_path / "gpu_streams.json"
    _run(["scripts/prepare_gpu_inputs.py", "--model", str(adaptive_model_dir), "--out", str(inputs), "--windows", "4", "--allow-tracked"])
    manifest = json.loads((inputs / "manifest.json").read_text())
    assert manifest["round_trip"]["labels_agree"] == 4 and manifest["round_trip"]["max_abs_prob_diff"] < 1e-2
    r = _run(["benchmarks/gpu_streams.py", "--inputs", str(inputs), "--device", "cpu", "--max-streams", "2", "--batches", "1,2",
              "--batch-seconds", "0.05", "--trial-seconds", "1", "--max-batch", "2", "--adapt", "on,off", "--json", str(out)])
    res = json.loads(out.read_text())
    assert [row["batch"] for row in res["sweep"]] == [1, 2]
    assert set(res["streams"]) == {"fp32 max_batch 2 adapt on", "fp32 max_batch 2 adapt off"}
    for rows in res["streams"].values():
        assert rows[0]["streams"] == 2 and rows[0]["classified"] > 0
    assert "largest N with p95" in r.stdout


def test_stream_counts_double() -> None:
    from gpu_streams import stream_counts

    assert stream_counts(16, 1024) == [16, 32, 64, 128, 256, 512, 1024]
    assert stream_counts(16, 4) == [4]


def test_fast_vs_default_times_the_fast_model_on_onnx(adaptive_model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("EMOMON_ONNX_CACHE", str(tmp_path / "onnx-cache"))
    from emomon.cli import main

    int8 = tmp_path / "int8"
    assert main(["export", str(adaptive_model_dir), "--format", "onnx", "--quantize", "int8", "--out", str(int8)]) == 0
    out = tmp_path / "fvd.json"
    r = _run(["benchmarks/fast_vs_default.py", "--default", str(adaptive_model_dir), "--fast", str(int8), "--fast-backend", "onnx",
              "--seconds", "0.2", "--clips", "0", "--json", str(out)])
    res = json.loads(out.read_text())
    fast, default = res["models"]["fast"], res["models"]["default"]
    assert fast["backend"] == "onnx" and default["backend"] == "torch"
    assert fast["precision"] == "as exported" and default["precision"] in ("fp32", "bf16")  # torch in auto's format
    assert fast["gflops_per_window"] == default["gflops_per_window"] > 0  # the same model, its FLOPs counted on torch
    assert fast["windows_per_s_b1"] > 0 and res["ratios"]["windows_per_s_b16"] > 0
    assert "(onnx, as exported)" in r.stdout and "(torch, " in r.stdout

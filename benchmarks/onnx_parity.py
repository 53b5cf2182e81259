"""How far the onnxruntime backend's answers are from torch's, fp32 and int8, on real clips.

    python benchmarks/onnx_parity.py [--model default] [--clips 48] [--data ../shared/data/ravdess-speech]

Exports the model twice (fp32, int8) into a temporary folder, then for every clip (the first
``--clips`` RAVDESS clips, taken evenly over actors and emotions) compares with the torch model:

* whole-clip probabilities (``predict_proba``, what ``emomon file`` gives a clip no longer than
  the window): the largest ``|p_onnx - p_torch|`` over clips and labels, its median, the labels
  that differ, and the accuracy of each against the clip's true emotion;
* adapted probabilities: every clip's 3 s windows through one speaker adapter per actor
  (``predict_proba_adapted``), the same figures.

It prints the machine it ran on. Timings are not measured here (see ``onnx_bench.py``).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RAVDESS_CODES = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised"}


def pick_clips(data: Path, n: int) -> list[Path]:
    """``n`` clips spread over the actors and emotions (sorted, every k-th)."""
    clips = sorted(data.glob("Actor_*/*.flac")) or sorted(data.glob("Actor_*/*.wav"))
    if not clips:
        sys.exit(f"no RAVDESS clips under {data}")
    step = max(1, len(clips) // n)
    return clips[::step][:n]


def compare(name: str, ref: np.ndarray, got: np.ndarray, labels: list[str], truth: list[str] | None) -> None:
    d = np.abs(ref - got)
    same = (ref.argmax(1) == got.argmax(1))
    line = f"{name:24s} max |dp| {d.max():.2e}  median {np.median(d.max(1)):.2e}  labels differ {int((~same).sum())}/{len(same)}"
    if truth is not None:
        acc = lambda p: float(np.mean([labels[i] == t for i, t in zip(p.argmax(1), truth)]))  # noqa: E731
        line += f"  accuracy torch {acc(ref):.3f} onnx {acc(got):.3f}"
    print(line)


def windows_of(x: np.ndarray, rate: int, window: float, hop: float) -> np.ndarray:
    w, h = int(window * rate), int(hop * rate)
    if len(x) < w:
        x = np.concatenate([np.zeros(w - len(x), np.float32), x])
    return np.stack([x[i : i + w] for i in range(0, len(x) - w + 1, h)])


def adapted(model, clips: list[np.ndarray], actors: list[str], window: float, hop: float) -> np.ndarray:
    """Every clip's windows through its actor's adapter, clip order; the mean per clip ``(clips, labels)``."""
    adapters: dict[str, object] = {}
    out = []
    for x, actor in zip(clips, actors):
        ad = adapters.setdefault(actor, model.new_adapter())
        w = windows_of(x, model.sample_rate, window, hop)
        out.append(model.predict_proba_adapted(w, [ad] * len(w), [hop] * len(w)).mean(0))
    return np.stack(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "ravdess-speech")
    args = ap.parse_args()

    from emomon.audio import decode_audio
    from emomon.models import load_model
    from emomon.models.export import export_onnx
    from emomon.models.onnx_model import load_onnx_model

    print(f"machine: {platform.node()} {platform.machine()} {platform.processor() or ''} cpus={__import__('os').cpu_count()} python {platform.python_version()}")
    paths = pick_clips(args.data, args.clips)
    truth = [RAVDESS_CODES[p.name.split("-")[2]] for p in paths]
    actors = [p.parent.name for p in paths]
    torch_model = load_model(args.model, device="cpu")
    clips = [decode_audio(p, torch_model.sample_rate) for p in paths]
    print(f"{len(clips)} clips of {args.data} ({sum(map(len, clips)) / torch_model.sample_rate:.0f} s), model {args.model}")
    ref = np.concatenate([torch_model.predict_proba(x[None]) for x in clips])
    cfg = torch_model.config
    ref_ad = adapted(torch_model, clips, actors, cfg.window, cfg.hop) if torch_model.adaptive else None
    with tempfile.TemporaryDirectory() as tmp:
        for quantize in (None, "int8"):
            out = export_onnx(args.model, Path(tmp) / (quantize or "fp32"), quantize=quantize)
            m = load_onnx_model(out, compute="cpu")
            got = np.concatenate([m.predict_proba(x[None]) for x in clips])
            compare(f"{quantize or 'fp32'} whole clips", ref, got, m.labels, truth)
            if ref_ad is not None:
                compare(f"{quantize or 'fp32'} adapted windows", ref_ad, adapted(m, clips, actors, cfg.window, cfg.hop), m.labels, truth)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The fast model against the default, in one run (issue 24, item 2; prints figures, asserts nothing).

    python benchmarks/fast_vs_default.py                          # default vs fast (a stand-in if not shipped)
    python benchmarks/fast_vs_default.py --fast runs/fast-tiny/model --clips 100 --seconds 5
    python benchmarks/fast_vs_default.py --seconds 1 --clips 10   # a quick look
    emomon export fast --format onnx --quantize int8 --out runs/fast-int8
    python benchmarks/fast_vs_default.py --fast runs/fast-int8 --fast-backend onnx   # fast's int8 graph

For each model, in this one process (run it on an otherwise idle machine; the load average is
printed at the start and the end):

* windows/s at batch 1 and batch 16: 3 s windows (RAVDESS clips' starts, else synthesized) through
  ``predict_proba`` (an adaptive model through ``predict_proba_adapted`` with one adapter per
  window, as the stream worker calls it), median per-call rate over ``--seconds`` after warm-up
  (``_common.sustained_rate``); the models take turns so that a change in load falls on both;
* FLOPs per 3 s window, counted analytically by ``ceiling.model_flops`` (not duplicated here);
* offline real-time factor of ``emomon file``'s path: ``emomon file CLIPS... --model M --format
  json`` in a fresh process over ``--clips`` RAVDESS clips (audio seconds / wall seconds, the
  interpreter's start-up and the model's load included, and once more with a one-clip run's wall
  time subtracted: the steady rate).

``--fast-backend onnx`` times the fast model on onnxruntime (its directory's exported graph, e.g.
int8 from ``emomon export --quantize int8``; the default stays on torch); its FLOPs are still counted
from the torch model of the same directory. Torch models run in ``--precision`` (default ``auto``,
what ``emomon file`` uses: bf16 where the CPU has it natively, else fp32); the precision each
resolved to is printed and recorded.

``--fast`` is a model name or directory. When it does not load (``fast`` not shipped yet), a
stand-in is built: a layer-head model on ``whisper-tiny.en`` (layers 1-4, adaptive with an
unadapted head like the default) with an untrained head; its cost per window is the trained
model's (the head's size does not depend on its weights), its answers are meaningless.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import sustained_rate  # noqa: E402
from ceiling import model_flops  # noqa: E402
from window_cost import RAVDESS, windows  # noqa: E402

RATE = 16000


def stand_in(directory: Path):
    """An adaptive layer-head model on whisper-tiny.en, layers 1-4, untrained head, saved to ``directory``."""
    from emomon.labels import EMOTIONS
    from emomon.models.backbones import load_backbone
    from emomon.models.layer_head import LayerHeadModel

    layers = [1, 2, 3, 4]
    backbone = load_backbone("whisper-tiny.en", None)
    config = LayerHeadModel.make_config(EMOTIONS, layers, backbone="whisper-tiny.en", prior_weight=20.0, unadapted_head=True,
                                        name="fast-stand-in", description="cost stand-in: untrained head")
    model = LayerHeadModel(config, backbone=backbone)
    f = len(layers) * 2 * backbone.hidden_size
    rng = np.random.default_rng(0)
    w, b = 0.01 * rng.standard_normal((len(EMOTIONS), f)), np.zeros(len(EMOTIONS))
    model.set_head(np.zeros(f), np.ones(f), w, b)
    model.set_unadapted_head(np.zeros(f), np.ones(f), w, b)
    model.set_prior(np.zeros(f), np.ones(f))
    model.save(directory, overwrite=True)
    return str(directory)


def caller(model, batch: list[np.ndarray]):
    """One call of ``model`` on ``batch`` the way the stream worker makes it."""
    x = np.stack(batch)
    if getattr(model, "adaptive", False):
        adapters = [model.new_adapter() for _ in batch]
        return lambda: model.predict_proba_adapted(x, adapters, [0.5] * len(batch))
    return lambda: model.predict_proba(x)


def offline_rtf(model: str, clips: list[Path], backend: str = "torch", precision: str = "auto") -> dict:
    """``emomon file CLIPS --model M --backend B [--precision P] --format json`` in a fresh
    process: wall time and RTF (``precision`` applies to the torch backend only)."""
    import soundfile as sf

    exe = [str(Path(sys.executable).with_name("emomon"))]
    audio = sum(sf.info(str(c)).duration for c in clips)

    def wall(paths: list[Path]) -> float:
        t0 = time.perf_counter()
        opts = ["--precision", precision] if backend == "torch" else []
        subprocess.run([*exe, "file", *map(str, paths), "--model", model, "--backend", backend, *opts, "--format", "json"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t0

    one = wall(clips[:1])
    whole = wall(clips)
    extra = whole - one  # the other clips' wall time, start-up and model load taken out
    steady = (audio - sf.info(str(clips[0])).duration) / extra if len(clips) > 1 and extra > 0.1 else float("nan")
    return {"clips": len(clips), "audio_s": round(audio, 1), "wall_s": round(whole, 2), "rtf_x": round(audio / whole, 1),
            "one_clip_wall_s": round(one, 2), "steady_rtf_x": round(steady, 1)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--default", default="default", help="the reference model (name or directory)")
    ap.add_argument("--fast", default="fast", help="the fast model (name or directory; a stand-in when it does not load)")
    ap.add_argument("--fast-backend", default="torch", choices=("torch", "onnx"), help="the fast model's backend (onnx: its exported graph)")
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                    help="the torch models' number format (and emomon file's --precision)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--seconds", type=float, default=5.0, help="timed seconds per model and batch size")
    ap.add_argument("--clips", type=int, default=100, help="RAVDESS clips for the offline RTF (0: skip)")
    ap.add_argument("--json", type=Path, default=None)
    return ap.parse_args(argv)


def print_machine(argv: list[str] | None) -> bool:
    """The command, the machine and whether a training job runs beside (``True``: busy)."""
    import torch

    print("command:", " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]))
    print(f"machine: nproc {os.cpu_count()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), load {os.getloadavg()}")
    busy = subprocess.run(["pgrep", "-af", "[e]momon train"], capture_output=True, text=True).stdout.strip()
    print("other training jobs:", busy.replace("\n", " | ")[:300] if busy else "none (idle)")
    return bool(busy)


def load_both(names: dict[str, str], tmp: Path, precision: str = "auto") -> dict:
    """Both models by role, in ``precision``; a ``fast`` that does not load is replaced by a
    stand-in (``names`` updated)."""
    from emomon.errors import EmomonError
    from emomon.models import load_model

    models = {}
    for role, name in names.items():
        try:
            models[role] = load_model(name, device="cpu").eval()
        except (EmomonError, OSError) as exc:
            if role != "fast":
                raise
            print(f"fast: {name!r} does not load ({exc}); a stand-in (untrained head, same cost)")
            names[role] = stand_in(tmp / "fast")
            models[role] = load_model(names[role], device="cpu").eval()
        models[role].set_precision(precision)
    return models


def measure(models: dict, names: dict[str, str], seconds: float, n_clips: int, backends: dict[str, str],
            precision: str = "auto") -> dict:
    """Per role: FLOPs per 3 s window (of the torch model), windows/s at batch 1 and 16 and the
    offline RTF (on the role's backend: ``backends``, torch when absent)."""
    from emomon.models.backend import load_with_backend

    runners = {role: load_with_backend(names[role], "onnx", "cpu") if backends.get(role) == "onnx" else m for role, m in models.items()}
    out: dict = {}
    wins = windows(16, 3.0)
    for role, m in models.items():
        fl = model_flops(m, int(3.0 * RATE))
        hp = m.config.hparams
        out[role] = {"name": names[role], "backbone": getattr(hp, "backbone", None), "layers": list(getattr(hp, "layers", []) or []),
                     "gflops_per_window": round(fl.total / 1e9, 3), "flops": fl.as_dict(), "backend": backends.get(role, "torch"),
                     "precision": "as exported" if backends.get(role) == "onnx" else m.precision}
    for batch in (1, 16):
        for role, m in models.items():
            out[role][f"windows_per_s_b{batch}"] = round(sustained_rate(caller(runners[role], wins[:batch]), batch, seconds)["median"], 1)
    if n_clips and RAVDESS.is_dir():
        clips = sorted(RAVDESS.glob("Actor_*/*.*"))[:: max(1, 1440 // n_clips)][:n_clips]
        for role in models:
            out[role]["offline"] = offline_rtf(names[role], clips, backends.get(role, "torch"), precision)
    return out


def ratios(d: dict, f: dict) -> dict[str, float]:
    """fast / default for windows/s and the offline RTF; default / fast for FLOPs."""
    r = {"windows_per_s_b1": round(f["windows_per_s_b1"] / d["windows_per_s_b1"], 2),
         "windows_per_s_b16": round(f["windows_per_s_b16"] / d["windows_per_s_b16"], 2),
         "flops": round(d["gflops_per_window"] / f["gflops_per_window"], 2)}
    if "offline" in f:
        r["offline_rtf"] = round(f["offline"]["rtf_x"] / d["offline"]["rtf_x"], 2)
    return r


def report(res: dict) -> None:
    for role, m in res["models"].items():
        off = m.get("offline", {})
        print(f"{role:8s} {m['name']!s:30.30s} ({m['backend']}, {m['precision']}) {m['backbone']} layers {m['layers']}: {m['gflops_per_window']:.2f} GFLOP/3 s window, "
              f"{m['windows_per_s_b1']:.1f} windows/s at batch 1, {m['windows_per_s_b16']:.1f} at batch 16"
              + (f"; emomon file over {off['clips']} clips ({off['audio_s']} s): {off['wall_s']} s wall, {off['rtf_x']}x real time "
                 f"({off['steady_rtf_x']}x with the one-clip start-up subtracted)" if off else ""))
    print("fast / default:", ", ".join(f"{k} {v}x" for k, v in res["ratios"].items()), "(flops: default's / fast's)")
    print(f"load at the end: {res['machine_load_end']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    busy = print_machine(argv)
    tmp = tempfile.TemporaryDirectory()
    names = {"default": args.default, "fast": args.fast}
    models = load_both(names, Path(tmp.name), args.precision)
    res: dict = {"machine_load_start": os.getloadavg(), "busy": busy}
    res["models"] = measure(models, names, args.seconds, args.clips, {"fast": args.fast_backend}, args.precision)
    res["ratios"] = ratios(res["models"]["default"], res["models"]["fast"])
    res["machine_load_end"] = os.getloadavg()
    report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

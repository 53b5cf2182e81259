#!/usr/bin/env python3
"""What a bf16 (or int8) encoder does to accuracy: UA on the EmoBox RAVDESS folds, fp32 vs bf16 features.

    python benchmarks/precision_ua.py                 # all six folds, 1,440 clips
    python benchmarks/precision_ua.py --folds 1       # quicker: fold 1's 240 test clips in bf16
    python benchmarks/precision_ua.py --precision onnx-int8   # the int8 ONNX graph (emomon export --quantize int8)
    python benchmarks/precision_ua.py --precision onnx-int8 --model fast   # another layer-head model's backbone and layers

Per fold a head (standardisation + logistic regression on the layers of ``--model``, default the
shipped default's 2-6 of Whisper-base, mean+std pooled: that model's features) is trained on the training actors' **fp32** features, as every shipped head
is, and scored on the test actors' clips twice: features from the fp32 encoder and from the
same encoder in bf16 the way ``--precision bf16``/``auto`` runs it on an AMX/AVX512-BF16 machine or
a GPU (a bf16 copy of a Whisper encoder's weights, :func:`emomon.models.precision.bf16_copy`;
another backbone under ``torch.autocast(bfloat16)``). Prints UA/WA/F1 for both (mean ± std over folds), the
UA difference and how often the two labels agree. Strict, speaker-independent: test actors are
never in training. fp32 features come from the training feature cache when it holds them; the
bf16 ones are cached beside them (their own key). On a CPU without native bf16 (the warning
says so) the bf16 pass is emulated and several times slower, but computes the same numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))


def model_spec(model: str) -> tuple[str, str | None, tuple[int, ...]]:
    """``(backbone, backbone_source, layers)`` of a layer-head model (shipped name or directory)."""
    from emomon.models.config import read_config
    from emomon.models.params import LayerHeadParams
    from emomon.models.shipped import resolve_model_dir

    hp = read_config(resolve_model_dir(model)).typed_params(LayerHeadParams)
    return hp.backbone, hp.backbone_source, tuple(int(i) for i in hp.layers)


def features(utts, precision: str, model: str = "default"):
    """``(n, F)``: ``model``'s layers of each clip's pooled features at ``precision``, via the cache."""
    import torch

    from emomon.audio import decode_audio
    from emomon.models.backbones import load_backbone
    from emomon.models.layer_head import all_layer_features
    from emomon.models.precision import backbone_autocast, bf16_copy
    from emomon.training.cache import ExtractorKey, FeatureCache

    name, source, layers = model_spec(model)
    params = {"backbone": name, "source": source, "pooling": "meanstd"}
    on_onnx = precision.startswith("onnx-")
    if on_onnx:  # a graph holds only its model's layers (the rest are zeros)
        params = {**params, "layers": list(layers)}
    bb = None if on_onnx else load_backbone(name, source)
    bf16 = bf16_copy(bb) if bb is not None and precision == "bf16" else None  # the model's own bf16 path: a bf16 copy of the weights
    if bf16 is not None:
        params = {**params, "bf16": "weights"}  # not autocast: its own features
    key = ExtractorKey("layer-pool", params if precision == "fp32" else {**params, "precision": precision}, version="1")
    cache = FeatureCache()
    if on_onnx:  # the exported graph on onnxruntime: the model's layers only
        from emomon.models.onnx_model import load_onnx_model

        onnx = load_onnx_model(model, compute="cpu", quantize=None if precision == "onnx-fp32" else precision[5:])
        assert tuple(onnx.layers) == layers == tuple(range(min(layers), max(layers) + 1)), onnx.layers

        def extract(path) -> np.ndarray:  # already the chosen layers' rows, in all_layer_features' order
            rows = onnx.features(decode_audio(path, 16000))[0].reshape(len(layers), -1)
            return np.concatenate([np.zeros((min(layers), rows.shape[1]), np.float32), rows])
    else:
        def extract(path) -> np.ndarray:
            x = torch.from_numpy(decode_audio(path, 16000))
            if bf16 is not None:
                return all_layer_features(bf16, x).float().numpy().astype(np.float32)
            with backbone_autocast(precision, torch.device("cpu")):
                return all_layer_features(bb, x).float().numpy().astype(np.float32)

    out = []
    for i, u in enumerate(utts):
        out.append(cache.get_or_compute(u.path, key, lambda u=u: extract(u.path))[list(layers)].reshape(-1))
        if (i + 1) % 200 == 0:
            print(f"  {precision}: {i + 1}/{len(utts)} clips", flush=True)
    return np.stack(out)


def figures(y, p) -> tuple[float, float, float]:
    from sklearn.metrics import balanced_accuracy_score, f1_score

    return balanced_accuracy_score(y, p), float(np.mean(y == p)), f1_score(y, p, average="macro")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(SHARED / "ravdess-speech"))
    ap.add_argument("--folds", default=None, help="comma list of fold ids to score (default all); only their test clips run in bf16")
    ap.add_argument("--precision", default="bf16", help="what is compared with fp32 torch: bf16 (autocast), onnx-int8 or onnx-fp32 "
                                                        "(the model's exported graph on onnxruntime)")
    ap.add_argument("--model", default="default", help="a layer-head model (shipped name or directory): its backbone and layers")
    args = ap.parse_args(argv)
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from emomon.training.corpora import read_ravdess
    from emomon.training.protocols import make_folds

    utts = read_ravdess(args.data)
    folds = [f for f in make_folds("emobox", utts) if args.folds is None or f.id in args.folds.split(",")]
    tested = sorted({u.id for f in folds for u in f.test})
    low_utts = [u for u in utts if u.id in set(tested)]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {len(utts)} clips, "
          f"folds {', '.join(f.id for f in folds)} ({len(low_utts)} test clips)")
    t0 = time.perf_counter()
    ref = features(utts, "fp32", args.model)
    t1 = time.perf_counter()
    low_rows = dict(zip((u.id for u in low_utts), features(low_utts, args.precision, args.model)))
    t2 = time.perf_counter()
    print(f"features: fp32 {t1 - t0:.0f} s, {args.precision} {t2 - t1:.0f} s (cache hits are free)")
    low = np.stack([low_rows.get(u.id, np.full(ref.shape[1], np.nan, dtype=np.float32)) for u in utts])
    index = {u.id: i for i, u in enumerate(utts)}
    labels = sorted({u.emotion for u in utts})
    y = np.array([labels.index(u.emotion) for u in utts])
    rows, agree = [], []
    for fold in folds:
        tr = [index[u.id] for u in fold.train]
        te = [index[u.id] for u in fold.test]
        scaler = StandardScaler().fit(ref[tr])
        head = LogisticRegression(C=1.0, max_iter=3000).fit(scaler.transform(ref[tr]), y[tr])
        p32, plow = head.predict(scaler.transform(ref[te])), head.predict(scaler.transform(low[te]))
        rows.append((*figures(y[te], p32), *figures(y[te], plow)))
        agree.append(float(np.mean(p32 == plow)))
        print(f"fold {fold.id}: UA fp32 {rows[-1][0]:.3f}, {args.precision} {rows[-1][3]:.3f}, labels agree {agree[-1]:.3f}", flush=True)
    r = np.array(rows) * 100
    m, s = r.mean(axis=0), r.std(axis=0)
    print(f"fp32:  UA {m[0]:.1f} ± {s[0]:.1f}, WA {m[1]:.1f} ± {s[1]:.1f}, F1 {m[2]:.1f} ± {s[2]:.1f}")
    print(f"{args.precision}:  UA {m[3]:.1f} ± {s[3]:.1f}, WA {m[4]:.1f} ± {s[4]:.1f}, F1 {m[5]:.1f} ± {s[5]:.1f}")
    d = r[:, 3] - r[:, 0]
    print(f"UA difference ({args.precision} - fp32): {d.mean():+.2f} points (per fold {', '.join(f'{x:+.1f}' for x in d)}); "
          f"labels agree on {100 * np.mean(agree):.1f} % of test clips")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Streams that share work (issue 24 item 3): pooling of per-hop chunk states against full windows.

    python benchmarks/incremental.py                    # EmoBox's six folds, UA and cost per hop
    python benchmarks/incremental.py --folds 1 --speed-only

With a 3 s window and a 0.5 s hop the full path encodes every frame six times. The incremental
path encodes each 0.5 s hop of a stream once, on its own (no left context: Whisper's attention is
bidirectional, so cached states of earlier frames would not be those of a longer input anyway),
keeps each chunk's per-layer states, and pools a window's mean and std over its six chunks'
states (the sums of the last six hops: one encoder call per hop instead of one per window).
Front padding and the final short window are cut as the stream cuts them (chunks of zeros before
the start; the last window ends with a partial chunk).

Both variants are fitted by the default recipe on identical clips and options, here **without
noisy copies** (``augment`` off: the chunked features of the six noisy copies of every clip
would cost another hour here), and with ``adapt`` off; the head is retrained on each variant's
own features. Printed per fold and as mean ± std: strict whole-clip UA and the streamed UA (the
mean of each clip's speech windows, what ``file --stream`` answers), then the encoder's cost per
hop (one 3 s window vs one 0.5 s chunk, batch 1 and 16, in one run). The issue's rule: keep the
incremental path only if UA drops by at most 1 point.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OPTIONS = {"augment": "", "adapt": False, "calib_split": "both"}


def chunk_states(backbone, samples: np.ndarray, hop: int) -> list[list[np.ndarray]]:
    """Each hop-long chunk of ``samples (n,)`` encoded alone: per chunk, per layer ``(frames, hidden)``
    (the last chunk may be shorter)."""
    import torch

    starts = list(range(0, len(samples), hop))
    full = [s for s in starts if s + hop <= len(samples)]
    out: list[list[np.ndarray]] = []
    with torch.inference_mode():
        if full:
            batch = torch.from_numpy(np.stack([samples[s:s + hop] for s in full]).astype(np.float32))
            states = backbone(batch)
            out = [[h[i].float().numpy() for h in states] for i in range(len(full))]
        rest = len(samples) - (full[-1] + hop if full else 0)
        if rest > 0:
            piece = samples[len(samples) - rest:]
            if len(piece) >= backbone.min_samples:
                out.append([h[0].float().numpy() for h in backbone(torch.from_numpy(piece[None].astype(np.float32)))])
    return out


def pooled(chunks: Sequence[list[np.ndarray]]) -> np.ndarray:
    """Mean and std over time of the chunks' states joined in time: ``(layers, 2 * hidden)``."""
    layers = len(chunks[0])
    rows = []
    for layer in range(layers):
        h = np.concatenate([c[layer] for c in chunks], axis=0)
        rows.append(np.concatenate([h.mean(axis=0), h.std(axis=0)]))
    return np.stack(rows)


def chunked_windows(chunks: Sequence[list[np.ndarray]], zero: list[np.ndarray], starts_end: Sequence[float],
                    rate: int, hop: float, per: int) -> np.ndarray:
    """``(windows, layers, 2 * hidden)``: windows ending at ``starts_end`` (seconds) pooled from the
    clip's per-hop ``chunks`` (``zero``: the front padding's chunk)."""
    h = int(round(hop * rate))
    rows = []
    for end_s in starts_end:
        k = -(-int(round(end_s * rate)) // h)  # chunks up to the one holding the window's last sample
        rows.append(pooled([chunks[i] if i >= 0 else zero for i in range(k - per, k) if i < len(chunks)]))
    return np.stack(rows).astype(np.float16)


class ChunkFeatures:
    """Both pooled features of a clip from one encoding of its chunks: the whole clip's ``(layers,
    2 * hidden)`` and its stream windows' ``(windows, layers, 2 * hidden)`` (those of
    :func:`~emomon.features.windows.clip_windows`). The one not asked for yet is kept (keyed by
    the samples' hash) until it is, so that each clip is encoded once; at most :attr:`KEEP` of them
    (the oldest go first: when the feature cache already holds one kind of a clip, its other kind
    is never asked for, and would otherwise stay in memory for the whole run)."""

    KEEP = 512

    def __init__(self, backbone, window: float, hop: float) -> None:
        self.backbone, self.window, self.hop = backbone, window, hop
        self.rate = backbone.sample_rate
        self.kept: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._zero: list[np.ndarray] | None = None

    def clip(self, x: np.ndarray) -> np.ndarray:
        return self._get("clip", x)

    def windows(self, x: np.ndarray) -> np.ndarray:
        return self._get("windows", x)

    def _get(self, kind: str, x: np.ndarray) -> np.ndarray:
        import hashlib

        key = hashlib.sha1(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()
        if (kind, key) in self.kept:
            return self.kept.pop((kind, key))
        from emomon.features.windows import clip_windows

        h = int(round(self.hop * self.rate))
        chunks = chunk_states(self.backbone, x, h)
        if self._zero is None:
            self._zero = chunk_states(self.backbone, np.zeros(h, dtype=np.float32), h)[0]
        ends = [w.t_end for w in clip_windows(x, self.rate, self.window, self.hop)]
        both = {"clip": pooled(chunks).astype(np.float32),
                "windows": chunked_windows(chunks, self._zero, ends, self.rate, self.hop, int(round(self.window / self.hop)))}
        other = "windows" if kind == "clip" else "clip"
        self.kept[(other, key)] = both[other]
        while len(self.kept) > self.KEEP:
            self.kept.popitem(last=False)
        return both[kind]


def chunked_recipe():
    """The default recipe with its clips' and stream windows' pooled features made from per-hop
    chunks (each clip encoded once: :class:`ChunkFeatures`; file segments keep the full path)."""
    from emomon.models.backbones import load_backbone
    from emomon.training.cache import ExtractorKey
    from emomon.training.recipes import get_recipe
    from emomon.training.recipes.base import cached_features
    from emomon.training.recipes.layer_head import STREAM_HOP, STREAM_WINDOW

    base = type(get_recipe("default"))
    shared: dict[tuple, ChunkFeatures] = {}

    class Chunked(base):  # type: ignore[misc, valid-type]
        def _features(self, ctx) -> ChunkFeatures:
            spec = tuple(self._backbone_spec(ctx))
            if spec not in shared:
                shared[spec] = ChunkFeatures(load_backbone(*spec), STREAM_WINDOW, STREAM_HOP)
            return shared[spec]

        def _key(self, ctx):
            name, source = self._backbone_spec(ctx)
            return ExtractorKey("chunk-pool", {"backbone": name, "source": source, "hop": STREAM_HOP}, version="1")

        def _extract(self, ctx):
            f = self._features(ctx)
            return f.backbone, f.clip

        def window_features(self, utts, ctx):
            f = self._features(ctx)
            name, source = self._backbone_spec(ctx)
            key = ExtractorKey("chunk-pool-windows", {"backbone": name, "source": source, "window": STREAM_WINDOW,
                                                      "hop": STREAM_HOP, "pad": "front"}, version="1")
            return [w.astype(np.float32) for w in cached_features(utts, key, f.windows, f.rate, ctx)]

    return Chunked()


def fold_uas(recipe, fold, ctx) -> tuple[float, float]:
    """Strict whole-clip UA and streamed UA of one fitted fold."""
    from emomon.training.metrics import compute_metrics

    model = recipe.fit(list(fold.train), ctx)
    test = list(fold.test)
    y = ctx.label_indices(test)
    labels = list(ctx.labels)
    clip = compute_metrics(y, recipe.predict_proba(model, test, ctx).argmax(axis=1), labels).ua
    stream = compute_metrics(y, recipe.stream_proba(model, test, ctx).argmax(axis=1), labels).ua
    return clip, stream


def per_hop_cost(repeats: int = 5) -> list[str]:
    """The encoder's seconds per window (3 s) and per chunk (0.5 s), batch 1 and 16, in one run."""
    import torch

    from emomon.models.backbones import load_backbone

    bb = load_backbone("whisper-base")
    lines = []
    for batch in (1, 16):
        cost = {}
        for name, seconds in (("window 3 s", 3.0), ("chunk 0.5 s", 0.5)):
            x = torch.randn(batch, int(seconds * bb.sample_rate)) * 0.1
            with torch.inference_mode():
                bb(x)
                t0 = time.perf_counter()
                for _ in range(repeats):
                    bb(x)
            cost[name] = (time.perf_counter() - t0) / repeats / batch
        ratio = cost["window 3 s"] / cost["chunk 0.5 s"]
        lines.append(f"batch {batch:>2}: {1000 * cost['window 3 s']:.1f} ms per window, {1000 * cost['chunk 0.5 s']:.1f} ms "
                     f"per chunk: {ratio:.1f}x less encoder work per hop")
    return lines


def main() -> None:
    from collapse_eval import fold_options, selected_folds  # this folder

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    fold_options(ap, "emobox")
    ap.add_argument("--speed-only", action="store_true", help="only the cost per hop")
    args = ap.parse_args()
    if not args.speed_only:
        from emomon.training.cache import FeatureCache
        from emomon.training.recipes import get_recipe
        from emomon.training.recipes.base import TrainContext

        everyone, labels, folds = selected_folds(args)
        variants = {"full windows": get_recipe("default"), "chunked": chunked_recipe()}
        print(f"protocol {args.protocol}; options {OPTIONS}; cells: strict clip UA %, streamed UA %", flush=True)
        tally: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for fold in folds:
            for name, recipe in variants.items():
                t0 = time.perf_counter()
                ctx = TrainContext(cache=FeatureCache(), all_utterances=everyone, labels=labels, options=dict(OPTIONS), seed=args.seed)
                clip, stream = fold_uas(recipe, fold, ctx)
                tally[name].append((clip, stream))
                print(f"{fold.id:<8}{name:<14}{100 * clip:6.1f}{100 * stream:8.1f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
        for name, rows in tally.items():
            a = 100 * np.array(rows)
            print(f"{'mean':<8}{name:<14}{a[:, 0].mean():6.1f} ± {a[:, 0].std():.1f}{a[:, 1].mean():8.1f} ± {a[:, 1].std():.1f}", flush=True)
    for line in per_hop_cost():
        print(line, flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Load on ``emomon serve``: N paced concurrent WebSocket streams for S seconds (prints figures; asserts nothing).

    python benchmarks/serve_load.py --streams 4 --seconds 15                 # in-process server, model "default"
    python benchmarks/serve_load.py --streams 16 --seconds 60 --model DIR --backend onnx --json out.json
    python benchmarks/serve_load.py --url http://127.0.0.1:8765 --streams 8   # a server already running

Every stream sends the shipped sample clip (emomon/samples), looped with 1 s pauses, as 16 kHz
16-bit frames of ``--frame-ms``, paced in real time (starts staggered over one hop), and reads
every message. Reported: sessions opened/refused, windows per second (all streams), the
records' capture-to-result latency (``latency_ms``: a frame's arrival at the server to its
window's result, over classified windows) p50/p95/max, the seconds of audio dropped (the
summaries' ``dropped_s``), warnings, and the server's resident memory (in-process only: VmRSS
and its peak VmHWM, and VmRSS sampled each second of the load: its first and last samples).
Fairness: each session's windows (fewest and most), its own p95 latency (the worst session's)
and its dropped seconds (the most any one lost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SR = 16000


def clip(seconds: float) -> np.ndarray:
    """``seconds`` of the shipped sample clip, looped with 1 s pauses (16 kHz)."""
    from emomon.audio import decode_audio

    sample = sorted((REPO / "emomon" / "samples").glob("*.*"))[0]
    x = decode_audio(sample, SR)
    unit = np.concatenate([x, np.zeros(SR, dtype=np.float32)])
    reps = int(np.ceil(seconds * SR / len(unit)))
    return np.tile(unit, reps)[: int(seconds * SR)]


def rss_mb() -> dict[str, float | None]:
    """This process's resident memory now and at its peak, MiB (Linux)."""
    out: dict[str, float | None] = {"rss_mb": None, "rss_peak_mb": None}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_mb"] = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                out["rss_peak_mb"] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


class InProcessServer:
    """``emomon serve`` in a thread of this process (on a free loopback port)."""

    def __init__(self, model: str, backend: str, compute: str, max_sessions: int) -> None:
        import socket

        import uvicorn

        from emomon.serve import ServeOptions, create_app
        from emomon.serve.server import uvicorn_config
        from emomon.stream.api import open_model

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        port = self.sock.getsockname()[1]
        opts = ServeOptions(port=port, model=model, backend=backend, compute=compute, max_sessions=max_sessions)
        app = create_app(open_model(model, compute, backend=backend), opts, model_name=model)
        self.server = uvicorn.Server(uvicorn_config(app, opts, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> "InProcessServer":
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


async def one_stream(url: str, x: np.ndarray, frame_s: float, delay: float, api_key: str | None) -> dict[str, Any]:
    """Stream ``x`` paced; every message it got, summarised."""
    from websockets.asyncio.client import connect

    from emomon.client import _headers, _urls, encode

    await asyncio.sleep(delay)
    out: dict[str, Any] = {"latency": [], "windows": 0, "warnings": 0, "summary": None, "refused": None}
    async with connect(_urls(url)[1] + "/v1/stream", additional_headers=_headers(api_key), max_size=2**22) as ws:
        await ws.send(json.dumps({"type": "config", "sample_rate": SR, "encoding": "pcm_s16le"}))
        first = json.loads(await ws.recv())
        if first["type"] != "ready":
            out["refused"] = first.get("code", first["type"])
            return out

        async def send() -> None:
            step = int(frame_s * SR)
            t0 = time.monotonic()
            for i in range(0, len(x), step):
                wait = t0 + i / SR - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await ws.send(encode(x[i:i + step]))
            await ws.send(json.dumps({"type": "close"}))

        sender = asyncio.create_task(send())
        async for raw in ws:
            msg = json.loads(raw)
            if msg["type"] == "window":
                out["windows"] += 1
                if msg["label"] is not None and msg["latency_ms"] is not None:
                    out["latency"].append(msg["latency_ms"])
            elif msg["type"] == "warning":
                out["warnings"] += 1
            elif msg["type"] == "summary":
                out["summary"] = msg
        await sender
    return out


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


async def load(url: str, streams: int, seconds: float, frame_s: float, api_key: str | None) -> dict[str, Any]:
    x = clip(seconds)
    t0 = time.monotonic()
    results = await asyncio.gather(*(one_stream(url, x, frame_s, 0.25 * i / max(1, streams), api_key) for i in range(streams)))
    wall = time.monotonic() - t0
    lat = [v for r in results for v in r["latency"]]
    done = [r for r in results if r["summary"] is not None]
    own_p95 = [pct(r["latency"], 95) for r in done if r["latency"]]
    return {
        "streams": streams, "seconds": seconds, "wall_s": round(wall, 2),
        "sessions": len(done), "refused": sum(r["refused"] is not None for r in results),
        "windows": sum(r["windows"] for r in results), "windows_per_s": round(sum(r["windows"] for r in results) / wall, 2),
        "latency_p50_ms": pct(lat, 50), "latency_p95_ms": pct(lat, 95), "latency_max_ms": max(lat) if lat else None,
        "dropped_s": round(sum(r["summary"]["dropped_s"] for r in done), 3), "warnings": sum(r["warnings"] for r in results),
        "session_windows_min": min((r["windows"] for r in done), default=None),
        "session_windows_max": max((r["windows"] for r in done), default=None),
        "session_p95_worst_ms": max(own_p95) if own_p95 else None,
        "session_dropped_max_s": max((r["summary"]["dropped_s"] for r in done), default=None),
    }


class RssSampler:
    """This process's VmRSS each ``every`` seconds while in the ``with`` block: the first and last samples, MiB."""

    def __init__(self, every: float = 1.0) -> None:
        self.every, self.samples = every, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(rss_mb()["rss_mb"])

    def __enter__(self) -> "RssSampler":
        self.samples.append(rss_mb()["rss_mb"])
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def figures(self, warmup_s: float = 10.0) -> dict[str, float | None]:
        """First and last samples, the one at ``warmup_s`` (model warm-up and buffers filled), and
        the least-squares slope after it in MiB per minute (flat memory: about 0)."""
        got = [v for v in self.samples if v is not None]
        k = min(len(got) - 1, int(round(warmup_s / self.every))) if got else 0
        tail = got[k:]
        slope = None
        if len(tail) >= 3:
            t = [i * self.every / 60.0 for i in range(len(tail))]
            mt, mv = sum(t) / len(t), sum(tail) / len(tail)
            slope = round(sum((a - mt) * (b - mv) for a, b in zip(t, tail)) / sum((a - mt) ** 2 for a in t), 2)
        return {"rss_first_mb": got[0] if got else None, f"rss_at_{warmup_s:g}s_mb": got[k] if got else None,
                "rss_last_mb": got[-1] if got else None, "rss_slope_mb_per_min": slope}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="a running server (default: start one in this process)")
    ap.add_argument("--model", default="default")
    ap.add_argument("--backend", default="torch", choices=("torch", "onnx"))
    ap.add_argument("--compute", default="auto")
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--frame-ms", type=float, default=20.0)
    ap.add_argument("--api-key", default=os.environ.get("EMOMON_API_KEY"))
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if args.url:
        figures = asyncio.run(load(args.url, args.streams, args.seconds, args.frame_ms / 1000, args.api_key))
        figures.update(rss_mb=None, rss_peak_mb=None)
    else:
        with InProcessServer(args.model, args.backend, args.compute, max(args.streams, 1)) as srv, RssSampler() as rss:
            figures = asyncio.run(load(srv.url, args.streams, args.seconds, args.frame_ms / 1000, None))
            figures.update(rss_mb())
        figures.update(rss.figures())
    figures.update(model=args.model, backend=args.backend, cpus=os.cpu_count())
    for key, value in figures.items():
        print(f"{key:>21}: {round(value, 1) if isinstance(value, float) else value}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Stream a file to ``emomon serve`` and print what comes back; or analyse it whole.

    emomon serve --model default &                    # (or: python -m emomon.serve)
    python examples/serve_client.py talk.wav           # live: a line per speech window and segment
    python examples/serve_client.py talk.wav --analyze # the JSON of `emomon file`, with segments
    EMOMON_API_KEY=... python examples/serve_client.py talk.wav --url http://host:8765
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from emomon.client import ServerError, analyze, stream


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--url", default="http://127.0.0.1:8765")
    ap.add_argument("--analyze", action="store_true", help="POST /v1/analyze instead of streaming")
    ap.add_argument("--fast", action="store_true", help="do not pace the audio in real time (the server drops what it cannot keep up with)")
    args = ap.parse_args()
    key = os.environ.get("EMOMON_API_KEY")
    try:
        if args.analyze:
            print(json.dumps(analyze(args.path, args.url, segments=True, api_key=key), indent=2))
            return 0
        for msg in stream(args.path, args.url, api_key=key, realtime=not args.fast):
            kind = msg["type"]
            if kind == "ready":
                print(f"session {msg['session']}: {len(msg['labels'])} labels, window {msg['window']} s, hop {msg['hop']} s")
            elif kind == "window" and msg["label"]:
                print(f"{msg['t']:7.2f} s  {msg['label']:<10} {msg['scores'][msg['label']]:.2f}  (latency {msg['latency_ms']:.0f} ms)")
            elif kind == "segment":
                print(f"segment {msg['start']:.2f}-{msg['end']:.2f} s: {msg['label']}")
            elif kind in ("warning", "summary"):
                print(json.dumps(msg))
    except ServerError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

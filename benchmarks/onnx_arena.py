#!/usr/bin/env python3
"""Peak RSS of ``emomon file --backend onnx`` with and without onnxruntime's CPU memory arena.

    python benchmarks/onnx_arena.py on     # the arena forced on (onnxruntime's own default)
    python benchmarks/onnx_arena.py off    # as emomon runs it

Runs ``emomon file`` over RAVDESS actors 01-04 (240 clips) in this process with every
``SessionOptions`` patched to the arena setting, and prints the process's peak RSS and wall time on
stderr. Run each setting in its own process (the peak is per process), alternating.
"""

from __future__ import annotations

import glob
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("on", "off"):
        print(__doc__, file=sys.stderr)
        return 2
    import onnxruntime as ort

    arena = argv[0] == "on"
    base = ort.SessionOptions

    class Options(base):  # type: ignore[misc, valid-type]
        def __setattr__(self, name, value):  # emomon's own setting is overridden by the one asked for
            super().__setattr__(name, arena if name == "enable_cpu_mem_arena" else value)

    ort.SessionOptions = Options
    from emomon.cli import main as emomon

    clips = sorted(glob.glob(str(REPO.parent / "shared/data/ravdess-speech/Actor_0[1-4]/*")))
    t0 = time.perf_counter()
    try:
        emomon(["file", *clips, "--backend", "onnx", "--format", "json"])
    except SystemExit:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"arena {argv[0]}: {len(clips)} clips, peak RSS {peak:.0f} MB, {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

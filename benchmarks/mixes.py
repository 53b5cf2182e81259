"""Long test recordings made of RAVDESS clips: blocks of one emotion each, played back to back.

    from mixes import emotion_mix
    samples, blocks = emotion_mix(RAVDESS_DIR, ["angry", "sad", "happy", "neutral"], block_seconds=150)

Each block concatenates clips of its emotion (all intensities, actors in turn, each clip with its
own leading and trailing silence), so a block holds speech with short pauses, like a person
talking. Used by ``benchmarks/file_bench.py`` and the long-file tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RAVDESS_CODES = {"neutral": "01", "calm": "02", "happy": "03", "sad": "04", "angry": "05", "fearful": "06", "disgust": "07", "surprised": "08"}
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RAVDESS = SHARED / "data" / "ravdess-speech"


@dataclass(frozen=True)
class Block:
    """One emotion's stretch of the mix, ``[start, end)`` seconds."""

    emotion: str
    start: float
    end: float


def emotion_mix(ravdess: Path, emotions: list[str], block_seconds: float, rate: int = 16000, seed: int = 0) -> tuple[np.ndarray, list[Block]]:
    """``(samples (n,) float32 at rate, blocks)``: a block of about ``block_seconds`` per emotion."""
    from emomon.audio import decode_audio

    rng = random.Random(seed)
    parts: list[np.ndarray] = []
    blocks: list[Block] = []
    pos = 0
    for emotion in emotions:
        clips = sorted(Path(ravdess).glob(f"Actor_*/03-01-{RAVDESS_CODES[emotion]}-*.flac"))
        rng.shuffle(clips)
        start, length = pos, 0
        for clip in clips:
            if length >= block_seconds * rate:
                break
            x = decode_audio(clip, rate)
            parts.append(x)
            length += len(x)
        pos += length
        blocks.append(Block(emotion, start / rate, pos / rate))
    return np.concatenate(parts), blocks


def tiled(samples: np.ndarray, rate: int, seconds: float) -> np.ndarray:
    """``samples`` repeated until ``seconds`` long (a long recording for memory/time figures)."""
    reps = int(np.ceil(seconds * rate / len(samples)))
    return np.tile(samples, reps)[: int(seconds * rate)]


def main() -> int:
    """``python benchmarks/mixes.py OUT.flac [--block 150] [--emotions angry,sad,happy,neutral]``."""
    import argparse

    import soundfile as sf

    ap = argparse.ArgumentParser(description="Write a mix of RAVDESS emotion blocks (a long test recording).")
    ap.add_argument("out", type=Path)
    ap.add_argument("--ravdess", type=Path, default=RAVDESS)
    ap.add_argument("--emotions", default="angry,sad,happy,neutral")
    ap.add_argument("--block", type=float, default=150.0, help="seconds per emotion block")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.out.exists():
        ap.error(f"{args.out} exists")
    samples, blocks = emotion_mix(args.ravdess, args.emotions.split(","), args.block, seed=args.seed)
    sf.write(args.out, samples, 16000)
    for b in blocks:
        print(f"{b.start:8.1f} – {b.end:8.1f} s  {b.emotion}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

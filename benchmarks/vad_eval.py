#!/usr/bin/env python3
"""What the voice activity detector hears: figures for the README (prints them; asserts nothing).

    python benchmarks/vad_eval.py                 # every part
    python benchmarks/vad_eval.py --what quiet    # one part: quiet, corpora, nonspeech

* ``quiet``: RAVDESS's normal-intensity neutral, calm and sad clips (RMS about -49 dBFS), at their
  own level and 20 dB lower: how many of their 3 s stream windows each detector classifies, and in
  how many clips the decisions are the same at both levels.
* ``corpora``: every clip of RAVDESS, EmoDB and SAVEE (../shared/data): clips in which no speech is
  found at all (they would get ``label: null``), per detector.
* ``nonspeech``: 10 s of digital silence, white/pink/brown noise, a tone, a chord, a chirp, clicks and
  a 50 ms beep: stream windows classified (should be none).

Detectors: ``silero`` (the default: level-normalised Silero VAD), ``silero-raw`` (the same model on
the raw signal, for comparison), ``energy`` (frames at or above -45 dBFS RMS).
"""

from __future__ import annotations

import argparse
import math
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mixes import SHARED  # noqa: E402

from emomon.audio import decode_audio  # noqa: E402
from emomon.features import vad as V  # noqa: E402
from emomon.features.segments import signal_segments  # noqa: E402

RATE = 16000
WINDOW, HOP = 3.0, 0.5


class RawSilero(V.SileroDetector):
    """Silero VAD without the level normalisation (for comparison only)."""

    def _gains(self, frames: np.ndarray) -> np.ndarray:
        return np.ones(len(frames), dtype=np.float32)


@contextmanager
def detector(name: str) -> Iterator[V.VadOptions]:
    """The options for detector ``name`` (``silero-raw``: Silero without level normalisation, for the time of the block)."""
    if name != "silero-raw":
        yield V.VadOptions(method="energy") if name == "energy" else V.VadOptions()
        return
    original = V.SileroDetector
    V.SileroDetector = RawSilero  # make_detector builds this one
    try:
        yield V.VadOptions()
    finally:
        V.SileroDetector = original


def classified(x: np.ndarray, name: str) -> np.ndarray:
    """Which stream windows of ``x`` the detector ``name`` lets through to the model."""
    with detector(name) as opts:
        return opts.classifies(V.window_speech(x, RATE, WINDOW, HOP, opts))


def has_speech(x: np.ndarray, name: str) -> bool:
    """Whether ``emomon file`` would find any speech segment in ``x``."""
    with detector(name) as opts:
        return bool(signal_segments(x, RATE, opts, WINDOW))


DETECTORS = ("silero", "silero-raw", "energy")


def quiet() -> None:
    root = SHARED / "data" / "ravdess-speech"
    clips = sorted(p for e in ("01", "02", "04") for p in root.glob(f"Actor_*/03-01-{e}-01-*.flac"))
    print(f"quiet: {len(clips)} normal-intensity neutral/calm/sad RAVDESS clips")
    audio = [decode_audio(c, RATE) for c in clips]
    rms = [20 * math.log10(float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))) for x in audio]
    print(f"  RMS level: median {np.median(rms):.1f} dBFS (range {min(rms):.1f} .. {max(rms):.1f})")
    from emomon.features.windows import clip_windows

    windows = sum(len(clip_windows(x, RATE, WINDOW, HOP)) for x in audio)
    gate = sum(int(V.rms_dbfs(w.real_samples) >= -45) for x in audio for w in clip_windows(x, RATE, WINDOW, HOP))
    print(f"  old window gate (window RMS >= -45 dBFS): {gate} of {windows} windows classified")
    for name in DETECTORS:
        own = [classified(x, name) for x in audio]
        low = [classified(x * 0.1, name) for x in audio]
        same = sum(int((a == b).all()) for a, b in zip(own, low))
        none = sum(int(not a.any()) for a in own)
        print(f"  {name:10s}: {sum(int(a.sum()) for a in own)} of {windows} windows classified at their level, "
              f"{sum(int(b.sum()) for b in low)} at -20 dB; same decisions at both levels in {same} of {len(clips)} clips; "
              f"clips with no window classified: {none}")


def corpora() -> None:
    sets = {
        "ravdess": sorted((SHARED / "data" / "ravdess-speech").glob("Actor_*/*.flac")),
        "emodb": sorted((SHARED / "data" / "emodb").rglob("*.flac")),
        "savee": sorted((SHARED / "data" / "savee").rglob("*.flac")),
    }
    for corpus, files in sets.items():
        if not files:
            print(f"corpora: {corpus}: not found")
            continue
        audio = [decode_audio(f, RATE) for f in files]
        parts = []
        for name in DETECTORS:
            missed = [f.name for f, x in zip(files, audio) if not has_speech(x, name)]
            parts.append(f"{name} {len(missed)}")
            if name == "silero" and missed:
                intensities = {}
                if corpus == "ravdess":
                    for m in missed:
                        key = f"emotion {m.split('-')[2]}/intensity {m.split('-')[3]}"
                        intensities[key] = intensities.get(key, 0) + 1
                detail = f" ({', '.join(f'{k}: {v}' for k, v in sorted(intensities.items()))})" if intensities else ""
                print(f"  {corpus}: silero finds no speech in {len(missed)} clips{detail}")
        print(f"corpora: {corpus}, {len(files)} clips without any speech found: " + ", ".join(parts))


def nonspeech() -> None:
    rng = np.random.default_rng(0)
    n = 10 * RATE
    t = np.arange(n) / RATE

    def pink() -> np.ndarray:
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.arange(len(spec))
        f[0] = 1
        return np.fft.irfft(spec / np.sqrt(f), n)

    brown = np.cumsum(rng.standard_normal(n))
    brown -= np.convolve(brown, np.ones(1600) / 1600, "same")
    clicks = np.zeros(n)
    clicks[rng.integers(0, n, 60)] = 1
    clicks = np.convolve(clicks, np.exp(-np.arange(200) / 20) * rng.standard_normal(200), "same")
    beep = np.zeros(n)
    beep[RATE : RATE + RATE // 20] = np.sin(2 * math.pi * 1000 * t[: RATE // 20])
    signals = {"digital silence": np.zeros(n), "white noise": rng.standard_normal(n), "pink noise": pink(),
               "brown noise (fan)": brown, "440 Hz tone": np.sin(2 * math.pi * 440 * t),
               "C major chord": sum(np.sin(2 * math.pi * f * t) for f in (261.6, 329.6, 392.0)),
               "chirp 100-4100 Hz": np.sin(2 * math.pi * (100 + 200 * t) * t), "clicks": clicks, "50 ms beep": beep}
    for name, x in signals.items():
        x = (0.3 * x / max(1e-9, np.abs(x).max())).astype(np.float32)
        counts = ", ".join(f"{d} {int(classified(x, d).sum())}" for d in DETECTORS)
        print(f"nonspeech: {name:18s} windows classified (of {len(classified(x, 'energy'))}): {counts}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--what", default="quiet,corpora,nonspeech")
    args = ap.parse_args()
    print("$ " + " ".join(["python", *sys.argv]))
    for part in args.what.split(","):
        {"quiet": quiet, "corpora": corpora, "nonspeech": nonspeech}[part]()
    return 0


if __name__ == "__main__":
    sys.exit(main())

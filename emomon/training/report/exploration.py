"""The seed study's exploratory figures for a corpus (``emomon report --data``): a table of clip
length and amplitude variation per emotion, their box and violin plots, and the waveform and
log-mel spectrogram of one clip.

Each clip (or a fixed random sample of ``--eda-max`` clips) is decoded to mono 16 kHz and measured
as a :class:`~emomon.training.figures.ClipStat`: its length in seconds and the standard deviation
of its samples (the seed's "amplitude variation"). matplotlib is imported (by
:mod:`emomon.training.figures`) only when a figure is drawn; the clips are read by
:func:`_load_exploration_data` before anything is drawn, so that a bad folder fails first.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ...labels import EMOTIONS
from .. import figures
from .document import FIGURES, Doc

if TYPE_CHECKING:
    from ...records import Utterance
    from ..figures import ClipStat

# the figures' files, under the report's figures/ folder
AMPLITUDE_PNG = "amplitude_by_emotion.png"  # box plot of amplitude std per emotion
LENGTH_PNG = "length_by_emotion.png"  # violin plot of clip length per emotion
MEL_PNG = "mel_spectrogram.png"  # waveform and log-mel spectrogram of the first clip explored
EMOTION_HEADERS = ["emotion", "clips", "mean length s", "median length s", "mean amplitude std", "median amplitude std"]
"""Columns of the per-emotion table (:func:`_emotion_rows`)."""


def _load_exploration_data(data: str | Path | None, corpus: str) -> list[Utterance] | None:
    """The clips of ``--data`` (read before anything is drawn, so a bad folder fails first), or ``None``."""
    if data is None:
        return None
    from ..corpora import load_corpus

    return load_corpus(corpus, data)


def _sample(utts: Sequence[Utterance], eda_max: int | None) -> list[Utterance]:
    """``utts``, or a fixed random sample (seed 0) of ``eda_max`` of them sorted by path when there are more."""
    chosen = list(utts)
    if eda_max is not None and len(chosen) > eda_max:
        chosen = sorted(random.Random(0).sample(chosen, eda_max), key=lambda u: u.path)
    return chosen


def _emotion_rows(stats: Sequence[ClipStat]) -> list[list[str]]:
    """One row per emotion present (canonical order): clip count, mean and median length (s) and
    amplitude std, each over that emotion's clips."""
    import numpy as np

    rows = []
    for e in EMOTIONS:
        s = [x for x in stats if x.emotion == e]
        if s:
            secs = np.array([x.seconds for x in s])  # (clips,)
            amps = np.array([x.amplitude_std for x in s])  # (clips,)
            rows.append([e, str(len(s)), f"{secs.mean():.2f}", f"{np.median(secs):.2f}", f"{amps.mean():.4f}", f"{np.median(amps):.4f}"])
    return rows


def _draw(stats: Sequence[ClipStat], first: Utterance, figdir: Path) -> list[Path]:
    """``amplitude_by_emotion.png`` (box), ``length_by_emotion.png`` (violin) and ``mel_spectrogram.png`` of ``first``."""
    return [
        figures.plot_by_emotion(stats, "amplitude_std", figdir / AMPLITUDE_PNG, kind="box",
                                ylabel="std of samples", title="Amplitude variation per emotion"),
        figures.plot_by_emotion(stats, "seconds", figdir / LENGTH_PNG, kind="violin",
                                ylabel="seconds", title="Clip length per emotion"),
        figures.plot_waveform_mel(first, figdir / MEL_PNG),
    ]


def _intro(n_stats: int, n_chosen: int, n_utts: int, data: str) -> str:
    """The paragraph that says which clips were measured (``n_chosen`` of ``n_utts`` when sampled) and how."""
    return (f"{n_stats} clips of `{data}`" + (f" (a random sample of {n_utts})" if n_chosen < n_utts else "")
            + ", decoded to mono 16 kHz. As in the seed study: amplitude variation is the standard deviation of the samples, "
            "length is the clip's duration.")


def _exploration(doc: Doc, utts: list[Utterance], figdir: Path, data: str, *, progress: bool,
                 eda_max: int | None) -> list[Path]:
    """The seed's exploratory figures for ``utts``: amplitude variation, clip length, a mel spectrogram.

    ``data`` names the corpus folder in the prose; ``eda_max`` caps the clips decoded (a fixed
    random sample); ``progress`` shows a progress bar on stderr while decoding. Returns the figures written.
    """
    chosen = _sample(utts, eda_max)
    stats = figures.clip_stats(chosen, progress=progress)
    doc.h(2, "Exploring the data")
    doc.p(_intro(len(stats), len(chosen), len(utts), data))
    doc.table(EMOTION_HEADERS, _emotion_rows(stats))
    written = _draw(stats, chosen[0], figdir)
    doc.img(f"{FIGURES}/{AMPLITUDE_PNG}", "Amplitude variation (std of samples) per emotion")
    doc.img(f"{FIGURES}/{LENGTH_PNG}", "Clip length per emotion")
    doc.img(f"{FIGURES}/{MEL_PNG}", f"Waveform and log-mel spectrogram of {Path(chosen[0].path).name}")
    return written

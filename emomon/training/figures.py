"""Figures of the comparison report (PNG, matplotlib Agg, imported lazily).

* :func:`plot_confusion` — row-normalised confusion matrix with counts;
* :func:`plot_summary` — UA/WA of each run next to the seed study's accuracies;
* :func:`clip_stats`, :func:`plot_by_emotion` — the seed's exploratory figures: amplitude
  variation (std of the samples) and clip length per emotion;
* :func:`plot_waveform_mel` — one clip's waveform and log-mel spectrogram
  (:func:`emomon.features.log_mel` with a :class:`~emomon.features.FrontEnd`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import defaults
from ..labels import EMOTIONS
from ..records import Utterance


def _plt():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _write_png(fig, path: Path) -> Path:  # noqa: ANN001
    """``fig`` saved to ``path`` atomically (:mod:`emomon.atomic`), then closed."""
    from ..atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format=path.suffix.lstrip(".").lower() or "png")
    finally:
        _plt().close(fig)
    return path


def _save(fig, path: Path) -> Path:  # noqa: ANN001
    fig.tight_layout()
    return _write_png(fig, path)


def plot_confusion(cm: Sequence[Sequence[int]], labels: Sequence[str], path: Path, title: str) -> Path:
    """Confusion matrix ``(true, predicted)`` as a PNG: colour = row fraction, text = count."""
    plt = _plt()
    cm = np.asarray(cm, dtype=np.int64)
    frac = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=8, color="white" if frac[i, j] > 0.5 else "black")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class")
    return _save(fig, path)


@dataclass(frozen=True)
class Bar:
    """One bar of :func:`plot_summary`: a value (fraction), its std, and whether it is the seed's."""

    name: str
    ua: float | None
    ua_std: float
    wa: float | None
    wa_std: float
    seed: bool = False


def plot_summary(bars: Sequence[Bar], path: Path) -> Path:
    """UA and WA (± std over folds) per run; the seed's accuracies hatched (random split)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(bars) + 2), 4.2))
    x = np.arange(len(bars))
    w = 0.38
    ua = [np.nan if b.ua is None else 100 * b.ua for b in bars]  # NaN: no bar (the seed reports no UA)
    wa = [np.nan if b.wa is None else 100 * b.wa for b in bars]
    ua_err = [np.nan if b.ua is None else 100 * b.ua_std for b in bars]
    wa_err = [np.nan if b.seed or b.wa is None else 100 * b.wa_std for b in bars]
    ax.bar(x - w / 2, ua, w, yerr=ua_err, label="UA (unweighted accuracy)", color="#3b6ea8", capsize=3)
    bars_wa = ax.bar(x + w / 2, wa, w, yerr=wa_err, label="WA / accuracy", color="#e39c37", capsize=3)
    for b, rect in zip(bars, bars_wa):
        if b.seed:
            rect.set_hatch("//")
            rect.set_facecolor("#cccccc")
    ax.axhline(100 / len(EMOTIONS), color="grey", linestyle=":", linewidth=1, label="chance (8 classes)")
    ax.set_xticks(x, [b.name + ("\n(seed, random split)" if b.seed else "") for b in bars], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Runs compared (seed study: accuracy on a random, speaker-dependent split)", fontsize=9)
    return _save(fig, path)


@dataclass(frozen=True)
class ClipStat:
    """Exploratory statistics of one clip: length in seconds, std of its samples (amplitude variation)."""

    id: str
    emotion: str
    seconds: float
    amplitude_std: float


def clip_stats(utts: Sequence[Utterance], sample_rate: int = defaults.SAMPLE_RATE, progress: bool = True) -> list[ClipStat]:
    """Decode each clip (mono, ``sample_rate``) and measure it; a progress bar on stderr."""
    from tqdm import tqdm

    from ..audio import decode_audio

    out = []
    for u in tqdm(utts, desc="exploring clips", unit="clip", file=sys.stderr, disable=not progress):
        x = decode_audio(u.path, sample_rate)
        out.append(ClipStat(u.id, u.emotion, len(x) / sample_rate, float(np.std(x)) if len(x) else 0.0))
    return out


def plot_by_emotion(stats: Sequence[ClipStat], field: str, path: Path, *, kind: str = "box", ylabel: str = "", title: str = "") -> Path:
    """Distribution of ``field`` (``"seconds"`` or ``"amplitude_std"``) per emotion: box or violin plot."""
    plt = _plt()
    labels = [e for e in EMOTIONS if any(s.emotion == e for s in stats)]
    data = [[getattr(s, field) for s in stats if s.emotion == e] for e in labels]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    if kind == "violin":
        ax.violinplot(data, showmedians=True)
        ax.set_xticks(range(1, len(labels) + 1), labels)
    else:
        ax.boxplot(data)
        ax.set_xticks(range(1, len(labels) + 1), labels)
    ax.set_ylabel(ylabel or field)
    ax.set_title(title, fontsize=9)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    return _save(fig, path)


def plot_waveform_mel(utt: Utterance, path: Path, sample_rate: int = defaults.SAMPLE_RATE, n_mels: int = 128) -> Path:
    """Waveform and log-mel spectrogram (dB, ``(frames, mels)`` from :func:`log_mel`) of one clip."""
    from ..audio import decode_audio
    from ..features import FrontEnd, log_mel

    plt = _plt()
    x = decode_audio(utt.path, sample_rate)
    front = FrontEnd(sample_rate=sample_rate, n_fft=1024, hop_length=256, n_mels=n_mels, log="db")
    mel = log_mel(x, front).numpy()  # (frames, mels)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True, gridspec_kw={"height_ratios": [1, 2]})
    t = np.arange(len(x)) / sample_rate
    a1.plot(t, x, linewidth=0.5, color="#3b6ea8")
    a1.set_ylabel("amplitude")
    a1.set_title(f"{Path(utt.path).name} — {utt.emotion}", fontsize=9)
    dur = len(x) / sample_rate
    im = a2.imshow(mel.T, origin="lower", aspect="auto", extent=(0, dur, 0, n_mels), cmap="magma")
    a2.set_xlabel("seconds")
    a2.set_ylabel("mel band")
    fig.colorbar(im, ax=[a1, a2], fraction=0.03, label="dB")
    return _write_png(fig, path)

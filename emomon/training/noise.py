"""Additive noise at a chosen SNR, for robustness tests and augmentation.

In the manner of audiomentations, each transform is a small class whose randomness is drawn
separately (:meth:`NoiseTransform.sample` → a noise array) from its application
(:func:`mix_at_snr`), so a test can fix the noise and a trainer can draw it anew.
Kinds: ``white``, ``pink`` (1/f power), ``babble`` (several other speakers' clips summed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .. import defaults

if TYPE_CHECKING:
    from ..records import Utterance


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``clean (n,)`` plus ``noise (n,)`` scaled so that signal-to-noise power is ``snr_db``.

    The signal power is that of the whole clip; the result is clipped to [-1, 1].
    """
    p_clean = float(np.mean(np.square(clean, dtype=np.float64)))
    p_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    if p_clean <= 0 or p_noise <= 0:
        return clean.astype(np.float32)
    gain = np.sqrt(p_clean / (p_noise * 10.0 ** (snr_db / 10.0)))
    return np.clip(clean + gain * noise, -1.0, 1.0).astype(np.float32)


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian white noise ``(n,)``."""
    return rng.standard_normal(n).astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f power) noise ``(n,)``: white noise shaped in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spec / np.sqrt(f), n)
    return (x / (np.std(x) + 1e-12)).astype(np.float32)


def babble_noise(n: int, rng: np.random.Generator, sources: Sequence[np.ndarray], talkers: int = 4) -> np.ndarray:
    """The sum of ``talkers`` clips drawn from ``sources`` (each looped/cropped to ``n``, random offset, equal power)."""
    if not sources:
        raise ValueError("babble noise needs source clips")
    out = np.zeros(n, dtype=np.float64)
    for i in rng.choice(len(sources), size=min(talkers, len(sources)), replace=False):
        s = np.asarray(sources[i], dtype=np.float64)
        s = np.tile(s, int(np.ceil((n + len(s)) / max(len(s), 1))))
        start = int(rng.integers(0, len(s) - n + 1))
        seg = s[start : start + n]
        out += seg / (np.sqrt(np.mean(seg**2)) + 1e-12)
    return out.astype(np.float32)


@dataclass
class NoiseTransform:
    """Add ``kind`` noise at ``snr_db``. ``sources`` feed ``babble`` (other speakers' clips)."""

    kind: str
    snr_db: float
    sources: Sequence[np.ndarray] = field(default_factory=list)
    talkers: int = 4

    KINDS = ("white", "pink", "babble")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"unknown noise kind {self.kind!r} (known: {', '.join(self.KINDS)})")

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw the noise ``(n,)`` (the random part)."""
        if self.kind == "white":
            return white_noise(n, rng)
        if self.kind == "pink":
            return pink_noise(n, rng)
        return babble_noise(n, rng, self.sources, self.talkers)

    def __call__(self, samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return mix_at_snr(samples, self.sample(len(samples), rng), self.snr_db)


def noisy_copies(
    utts: Sequence[Utterance],
    kind: str,
    snr_db: float,
    dest: str | Path,
    pool: Sequence[Utterance] = (),
    seed: int = 0,
    sample_rate: int = defaults.SAMPLE_RATE,
) -> list[Utterance]:
    """Noisy versions of ``utts`` as 16 kHz FLAC files under ``dest/<kind>-<snr>dB-s<seed>/``
    (``babble``: ``dest/babble-<snr>dB-s<seed>-p<pool digest>/``).

    Each clip's noise is seeded by (seed, clip id), so files are identical on every run (and the
    feature cache, keyed by content, hits). ``babble`` mixes ``talkers`` clips from ``pool``
    spoken by *other* speakers than the clip's; its folder is named after the pool's clip ids, so
    babble drawn from different pools (e.g. each fold's training speakers) never share a file.
    Existing files are reused. Returns utterances with the same labels and speakers and the
    noisy paths.
    """
    import dataclasses
    import hashlib
    import itertools
    import soundfile as sf

    from ..audio import decode_audio

    name = f"{kind}-{snr_db:g}dB-s{seed}"
    if kind == "babble":
        name += "-p" + hashlib.sha256("\n".join(sorted(u.id for u in pool)).encode()).hexdigest()[:10]
    folder = Path(dest) / name
    folder.mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(seed).permutation(len(pool)) if kind == "babble" else np.zeros(0, int)
    drawn: list[tuple[str, np.ndarray]] = []  # the pool's first 64 clips in seeded order, decoded when first needed

    def sources_for(speaker: str) -> list[np.ndarray]:
        if kind != "babble":
            return []
        if not drawn:
            drawn.extend((pool[i].speaker, decode_audio(pool[i].path, sample_rate)) for i in order[:64])
        found = [a for spk, a in drawn if spk != speaker]
        if not found:  # all 64 are this speaker's: the next other speakers' clips in the same order
            others = (pool[i] for i in order[64:] if pool[i].speaker != speaker)
            found = [decode_audio(v.path, sample_rate) for v in itertools.islice(others, 64)]
        return found

    out = []
    for u in utts:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in u.id)
        path = folder / f"{safe}.flac"
        if not path.is_file():
            clean = decode_audio(u.path, sample_rate)
            digest = int.from_bytes(hashlib.sha256(f"{seed}:{u.id}".encode()).digest()[:8], "little")
            rng = np.random.default_rng(digest)
            sources = sources_for(u.speaker)
            noisy = NoiseTransform(kind, snr_db, sources)(clean, rng)
            tmp = path.with_suffix(".tmp.flac")
            sf.write(tmp, noisy, sample_rate, subtype="PCM_16")
            tmp.replace(path)
        out.append(dataclasses.replace(u, id=f"{u.id}+{kind}{snr_db:g}", path=str(path)))
    return out


def parse_conditions(kinds: str, snrs: str) -> list[tuple[str, float]]:
    """``"white,pink"``, ``"20,10"`` → ``[("white", 20.0), ("white", 10.0), ("pink", 20.0), ...]``."""
    ks = [k.strip() for k in kinds.split(",") if k.strip()]
    for k in ks:
        if k not in NoiseTransform.KINDS:
            raise ValueError(f"unknown noise kind {k!r} (known: {', '.join(NoiseTransform.KINDS)})")
    return [(k, float(s)) for k in ks for s in snrs.split(",") if s.strip()]


def parse_augmentations(spec: str, kinds: Sequence[str] = ("white", "pink", "babble")) -> list[tuple[str, float]]:
    """A recipe's ``augment`` option, ``"white:10,pink:0,babble:0"`` → ``[("white", 10.0), ...]``;
    ``ValueError`` naming the item for a kind outside ``kinds`` or an SNR that is not a number."""
    out = []
    for item in filter(None, (s.strip() for s in (spec or "").split(","))):
        kind, _, snr = item.partition(":")
        try:
            level = float(snr)
        except ValueError:
            level = None
        if kind not in kinds or level is None:
            raise ValueError(f"augment={item}: expected KIND:LEVEL with KIND {' or '.join(kinds)} (e.g. {kinds[0]}:10)")
        out.append((kind, level))
    return out

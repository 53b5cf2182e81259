"""The one audio decoding code of emomon.

:func:`decode_blocks` turns a path, encoded bytes or a sample array into consecutive mono
float32 blocks at the rate the caller asks for, decoding incrementally so that memory does not
grow with the length of the file; :func:`decode_audio` is the same decoding concatenated into one
array. soundfile reads wav/flac/ogg/mp3/aiff/au; PyAV (FFmpeg) reads the rest (m4a, webm,
mp4, ...). Resampling uses soxr (a stream across blocks, so block edges leave no trace).
:func:`probe_duration` reads a duration from a file header without decoding.

Inputs no decoder recognises as audio (text, a PDF named ``.flac``) are ``not an audio file``;
audio a decoder recognises but cannot read is ``cannot decode audio``; a valid file holding no
samples decodes to none (callers say ``no samples``). NaN/±Inf samples are an error naming the
file and their count (``nonfinite="error"``, the default) or passed on for a stream to mark
(``nonfinite="keep"``). :func:`scan_audio` reads a file to its end to check it (training).
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Union

import numpy as np

from .defaults import DECODE_BLOCK_S, SAMPLE_RATE
from .errors import AudioError

log = logging.getLogger(__name__)

AudioSource = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray]

SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".au"}
READ_FRAMES = 1 << 16  # frames a decoder reads at a time (file's own rate), regrouped into blocks


def _check_shape(samples: np.ndarray) -> None:
    """Accept ``(samples,)`` or ``(samples, channels)``; anything else is an :class:`AudioError`."""
    if samples.ndim not in (1, 2):
        raise AudioError("audio", f"expected 1-D or (samples, channels) array, got shape {samples.shape}")


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average channels: ``(samples,)`` or ``(samples, channels)`` → ``(samples,)`` float32.

    Integer samples are scaled to [-1, 1) (int16 ÷ 32768, ...) before the channels are averaged.
    """
    samples = np.asarray(samples)
    _check_shape(samples)
    if np.issubdtype(samples.dtype, np.integer):
        scale = float(np.iinfo(samples.dtype).max) + 1.0
        samples = samples.astype(np.float32) / scale
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return np.ascontiguousarray(samples, dtype=np.float32)


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Resample mono float32 ``(samples,)`` from ``source_rate`` to ``target_rate`` in one go (soxr, HQ)."""
    if source_rate == target_rate:
        return samples
    import soxr

    return np.ascontiguousarray(soxr.resample(samples, source_rate, target_rate, quality="HQ"), dtype=np.float32)


def reblock(chunks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Regroup ``(n,)`` chunks into consecutive ``(size,)`` blocks; the last may be shorter.

    Holds less than ``size`` samples plus one incoming chunk. Blocks may be views of the chunks.
    """
    if size <= 0:
        raise ValueError("size must be positive")
    pending: list[np.ndarray] = []
    count = 0
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        pending.append(chunk)
        count += len(chunk)
        if count < size:
            continue
        buf = pending[0] if len(pending) == 1 else np.concatenate(pending)
        full = len(buf) - len(buf) % size
        for start in range(0, full, size):
            yield buf[start : start + size]
        rest = buf[full:].copy()  # a copy, so the big buffer can be freed
        pending, count = ([rest] if len(rest) else []), len(rest)
    if count:
        yield pending[0] if len(pending) == 1 else np.concatenate(pending)


# --------------------------------------------------------------------------------------------
# backends: each yields mono float32 chunks (n,) at the file's own rate
# --------------------------------------------------------------------------------------------
@dataclass
class _Opened:
    """Set by a backend: ``rate`` > 0 once the input is open (the rate of the chunks it yields)."""

    rate: int = 0


class _NoAudioStream(Exception):
    """The container opened but holds no audio stream (no other backend is tried)."""


class _NotAudio(Exception):
    """A backend read the input without error but found no audio in it (no rate, no samples)."""


_Backend = Callable[[Any, _Opened], Iterator[np.ndarray]]


def _read_frames(f: Any, frames: int) -> np.ndarray:
    """Read up to ``frames`` from an open ``soundfile.SoundFile``: float32 ``(n, channels)``.

    ``SoundFile.read`` seeks to its own position after every read; libsndfile's MP3 decoder
    loses its bit reservoir on such a seek and decodes the next frames wrong (clicks at every
    block edge), so read through libsndfile's ``sf_readf_float`` (no seek) when soundfile
    exposes it, and fall back to ``SoundFile.read`` otherwise.
    """
    import soundfile as sf

    snd, ffi, handle = getattr(sf, "_snd", None), getattr(sf, "_ffi", None), getattr(f, "_file", None)
    if snd is None or ffi is None or handle is None:
        return f.read(frames, dtype="float32", always_2d=True)
    out = np.empty((frames, f.channels), dtype=np.float32)
    n = int(snd.sf_readf_float(handle, ffi.cast("float *", out.ctypes.data), frames))
    err = int(snd.sf_error(handle))
    if err:
        raise RuntimeError(ffi.string(snd.sf_error_number(err)).decode("utf-8", "replace"))
    return out[: max(n, 0)]


def _soundfile_chunks(src: str | io.BytesIO, opened: _Opened) -> Iterator[np.ndarray]:
    """Read with libsndfile, :data:`READ_FRAMES` at a time: mono float32 ``(n,)`` at the file's rate."""
    import soundfile as sf

    with sf.SoundFile(src) as f:
        opened.rate = int(f.samplerate)
        if f.seekable():  # as soundfile.read() does: MP3 then decodes exactly as in one read
            f.seek(0)
        while True:
            data = _read_frames(f, READ_FRAMES)
            if len(data) == 0:
                return
            yield to_mono(data)


def _av_chunks(src: str | io.BytesIO, opened: _Opened) -> Iterator[np.ndarray]:
    """Decode with PyAV frame by frame, grouped into mono float32 ``(n,)`` chunks of ~:data:`READ_FRAMES`.

    FFmpeg mixes the channels down to mono; the file's own rate is kept.
    """
    import av

    with av.open(src) as container:
        if not container.streams.audio:
            raise _NoAudioStream()
        stream = container.streams.audio[0]
        # a demuxer guessed from the file name (text named .flac) gives a stream without a rate:
        # the input only counts as opened once a rate is known
        opened.rate = int(stream.rate or stream.codec_context.sample_rate or 0)
        resampler = av.AudioResampler(format="flt", layout="mono")
        pending: list[np.ndarray] = []
        count = 0
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                pending.append(out.to_ndarray().reshape(-1))
                count += pending[-1].shape[0]
                opened.rate = int(out.sample_rate)
            if count >= READ_FRAMES:
                yield np.concatenate(pending)
                pending, count = [], 0
        for out in resampler.resample(None):
            pending.append(out.to_ndarray().reshape(-1))
        if sum(len(p) for p in pending):
            yield np.concatenate(pending)


def _array_chunks(array: np.ndarray, rate: int, block_seconds: float) -> Iterator[np.ndarray]:
    """Slice a ``(samples,)``/``(samples, channels)`` array into mono float32 ``(n,)`` chunks."""
    step = max(1, round(block_seconds * rate))
    for start in range(0, array.shape[0], step):
        yield to_mono(array[start : start + step])


# --------------------------------------------------------------------------------------------
# error reasons
# --------------------------------------------------------------------------------------------
_ERRNO = re.compile(r"\[Errno\s*-?\d+\]\s*|\(?\berror code:?\s*-?\d+\)?", re.IGNORECASE)
_OPENING = re.compile(r"^Error opening (?:(['\"]).*?\1|<[^>]*>|\S+)\s*:\s*", re.IGNORECASE)
_ERROR_PREFIX = re.compile(r"^(?:Error|LibsndfileError)\s*:\s*", re.IGNORECASE)
_QUOTED_TAIL = re.compile(r"\s*:\s*(['\"]).*\1\s*$")
_REWRITES = {
    # libsndfile's answer for a file its MP3 reader rejects, although the file is there
    "file does not exist or is not a regular file (possibly a pipe?)": "format not recognised",
}


_UNRECOGNISED = frozenset({"format not recognised", "invalid data found when processing input", "end of file", "no audio data found"})
"""Decoders' reasons (as :func:`clean_reason` gives them) meaning "this is not audio I know"."""


def clean_reason(exc: BaseException | str, name: str | None = None) -> str:
    """A short one-line reason from a decoder's exception, for ``cannot decode audio (<reason>)``.

    Drops raw error codes (``[Errno 1094995529]``), the file name the decoders repeat
    (``Error opening 'x.wav': ``, ``: 'x.wav'``) and the final period, and lower-cases the first
    word: ``Error opening 'x.wav': Format not recognised.`` → ``format not recognised``.
    """
    text = str(exc).strip()
    text = text.splitlines()[0].strip() if text else ""
    if name:  # the decoders quote the file name: 'x.wav'
        text = text.replace(f"'{name}'", "''").replace(f'"{name}"', "''")
    text = _ERRNO.sub("", text)
    text = _OPENING.sub("", text)
    text = _ERROR_PREFIX.sub("", text)
    text = _QUOTED_TAIL.sub("", text)
    text = " ".join(text.split()).strip(" :.")
    if len(text) > 1 and not text[:2].isupper():
        text = text[0].lower() + text[1:]
    text = _REWRITES.get(text.lower(), text)
    if not text:
        return type(exc).__name__ if isinstance(exc, BaseException) else "unknown error"
    return text


def _pick_reason(failures: list[tuple[Exception, bool]], name: str) -> str:
    """The reason to show when every backend failed: the first that opened the input, else the first."""
    if not failures:
        return "unknown format"
    opened = [exc for exc, was_open in failures if was_open]
    return clean_reason(opened[0] if opened else failures[0][0], name)


# --------------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------------
def _attempts(source: AudioSource) -> tuple[str, list[tuple[_Backend, Callable[[], Any]]]]:
    """Check a path or bytes input; returns its name and the backends to try, in order."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise AudioError("audio bytes", "empty")
        return "audio bytes", [(_soundfile_chunks, lambda: io.BytesIO(data)), (_av_chunks, lambda: io.BytesIO(data))]
    path = Path(source)
    name = str(path)
    if not path.exists():
        raise AudioError(name, "no such file")
    if path.is_dir():
        raise AudioError(name, "is a directory")
    if path.stat().st_size == 0:
        raise AudioError(name, "empty file")
    backends = [_soundfile_chunks, _av_chunks]
    if path.suffix.lower() not in SOUNDFILE_SUFFIXES:
        backends.reverse()
    return name, [(b, lambda: name) for b in backends]


def _open_decoder(source: AudioSource) -> tuple[str, int, Iterator[np.ndarray]]:
    """Open ``source`` with the first backend that decodes its first chunk.

    Returns ``(name, rate, chunks)``: mono float32 ``(n,)`` chunks at ``rate``, the first one
    already decoded. Raises :class:`AudioError` when no backend can.
    """
    name, attempts = _attempts(source)
    failures: list[tuple[Exception, bool]] = []
    for backend, make_src in attempts:
        opened = _Opened()
        chunks = backend(make_src(), opened)
        try:
            first = next(chunks, None)
        except _NoAudioStream:
            raise AudioError(name, "no audio stream") from None
        except Exception as exc:  # noqa: BLE001 - each backend has its own exception types
            log.debug("%s failed on %s: %s", backend.__name__, name, exc)
            failures.append((exc, opened.rate > 0))
            continue
        if first is None and opened.rate <= 0:  # nothing that looks like audio in it
            log.debug("%s found no audio in %s", backend.__name__, name)
            failures.append((_NotAudio("no audio data found"), False))
            continue
        if first is None:  # a valid audio file holding no samples
            return name, opened.rate, iter(())
        return name, opened.rate, _prepend(first, chunks)
    raise AudioError(name, _failure(failures, name))


def _failure(failures: list[tuple[Exception, bool]], name: str) -> str:
    """Why no backend could decode an input: ``not an audio file (…)`` when none of them
    recognised it as audio (text, a PDF, random bytes), else ``cannot decode audio (…)`` (a
    broken or truncated audio file, an unsupported encoding)."""
    reason = _pick_reason(failures, name)
    recognised = [was_open or clean_reason(exc, name).lower() not in _UNRECOGNISED for exc, was_open in failures]
    if not failures or any(recognised):
        return f"cannot decode audio ({reason})"
    return f"not an audio file ({reason})"


def _close(chunks: Iterable[np.ndarray]) -> None:
    """Close a chunk generator (and so the file its backend holds open)."""
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def _prepend(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """``first`` then the chunks of ``rest``; ``rest`` is closed when this generator is."""
    try:
        yield first
        yield from rest
    finally:
        _close(rest)


def _guarded(chunks: Iterator[np.ndarray], name: str, rate: int) -> Iterator[np.ndarray]:
    """Pass ``chunks`` on; a decoder failure after the start becomes an :class:`AudioError`."""
    done = 0
    try:
        for chunk in chunks:
            done += len(chunk)
            yield chunk
    except AudioError:
        raise
    except Exception as exc:  # noqa: BLE001 - each backend has its own exception types
        log.debug("decoding %s broke after %d samples", name, done, exc_info=True)
        raise AudioError(name, f"cannot decode audio after {done / rate:.1f} s ({clean_reason(exc, name)})") from None
    finally:
        _close(chunks)


NONFINITE_POLICIES = ("error", "keep")


def _count_nonfinite(chunks: Iterable[np.ndarray]) -> tuple[int, bool]:
    """Non-finite samples in the rest of ``chunks``: ``(count, complete)``; ``complete`` is false
    when decoding broke before the end (the count is then a lower bound)."""
    count = 0
    try:
        for chunk in chunks:
            count += int(np.count_nonzero(~np.isfinite(chunk)))
    except AudioError:
        return count, False
    return count, True


def _finite_only(chunks: Iterator[np.ndarray], name: str, rate: int) -> Iterator[np.ndarray]:
    """Pass on ``(n,)`` chunks while every sample is finite; at the first NaN or ±Inf, count the
    non-finite samples of the rest of the input and raise an :class:`AudioError` naming ``name``:
    ``12 non-finite samples (NaN/Inf), the first at 0.50 s``. No non-finite sample is ever yielded."""
    done = 0
    try:
        for chunk in chunks:
            bad = ~np.isfinite(chunk)
            if bad.any():
                first = done + int(np.argmax(bad))
                rest, complete = _count_nonfinite(chunks)
                count = int(np.count_nonzero(bad)) + rest
                what = f"{count}" if complete else f"at least {count}"
                where = "at" if count == 1 and complete else "the first at"
                plural = "" if count == 1 and complete else "s"
                raise AudioError(name, f"{what} non-finite sample{plural} (NaN/Inf), {where} {first / rate:.2f} s")
            done += len(chunk)
            yield chunk
    finally:
        _close(chunks)


def _resampled(chunks: Iterable[np.ndarray], source_rate: int, target_rate: int) -> Iterator[np.ndarray]:
    """Resample a sequence of ``(n,)`` chunks as one continuous signal (soxr stream, HQ)."""
    if source_rate == target_rate:
        yield from chunks
        return
    import soxr

    stream = soxr.ResampleStream(source_rate, target_rate, 1, dtype="float32", quality="HQ")
    for chunk in chunks:
        out = stream.resample_chunk(np.ascontiguousarray(chunk, dtype=np.float32), last=False)
        if len(out):
            yield np.asarray(out, dtype=np.float32).reshape(-1)
    tail = stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
    if len(tail):
        yield np.asarray(tail, dtype=np.float32).reshape(-1)


def decode_blocks(
    source: AudioSource,
    sample_rate: int = SAMPLE_RATE,
    source_rate: int | None = None,
    block_seconds: float = DECODE_BLOCK_S,
    nonfinite: str = "error",
) -> Iterator[np.ndarray]:
    """Decode ``source`` incrementally into consecutive mono float32 blocks ``(n,)`` at ``sample_rate``.

    Every block holds ``round(block_seconds * sample_rate)`` samples except the last (shorter);
    concatenated they equal :func:`decode_audio`. Memory stays bounded by a few blocks whatever
    the length of the file. ``source`` is as for :func:`decode_audio`; blocks of an array input
    may be views of it. Errors (missing, empty or undecodable input) are raised as
    :class:`~emomon.errors.AudioError` by the first ``next()``, before any block; a file whose
    decoding breaks later raises :class:`AudioError` at that point.

    ``nonfinite`` says what NaN/±Inf samples do: ``"error"`` (whole files, training) raises an
    :class:`AudioError` naming the input and how many there are (the input is read to its end
    to count them) before any block holding one is yielded; ``"keep"`` passes them on (a stream,
    whose windows holding them are marked and not classified; resampling spreads each over a few
    milliseconds around it).
    """
    if not block_seconds > 0:
        raise ValueError(f"block_seconds must be positive (got {block_seconds})")
    if nonfinite not in NONFINITE_POLICIES:
        raise ValueError(f"nonfinite must be one of {NONFINITE_POLICIES} (got {nonfinite!r})")
    size = max(1, round(block_seconds * sample_rate))
    name, rate, chunks = _chunks_of(source, source_rate, block_seconds)
    if nonfinite == "error":
        chunks = _finite_only(chunks, name, rate)
    try:
        yield from reblock(_resampled(chunks, rate, int(sample_rate)), size)
    finally:
        _close(chunks)


def _chunks_of(source: AudioSource, source_rate: int | None, block_seconds: float) -> tuple[str, int, Iterator[np.ndarray]]:
    """``(name, rate, chunks)``: mono float32 ``(n,)`` chunks of ``source`` at its own ``rate``
    (an array's ``source_rate``); a path or bytes are opened here (:class:`AudioError` when not)."""
    if isinstance(source, np.ndarray):
        if source_rate is None:
            raise AudioError("audio array", "source_rate is required for a sample array")
        _check_shape(source)
        return "audio array", int(source_rate), _array_chunks(source, int(source_rate), block_seconds)
    name, rate, chunks = _open_decoder(source)
    return name, rate, _guarded(chunks, name, rate)


def decode_audio(source: AudioSource, sample_rate: int = SAMPLE_RATE, source_rate: int | None = None) -> np.ndarray:
    """Decode ``source`` to mono float32 ``(samples,)`` at ``sample_rate``.

    ``source`` is a file path, encoded bytes (any format soundfile or FFmpeg reads), or a sample
    array ``(samples,)``/``(samples, channels)``; an array needs ``source_rate`` (its rate).
    Raises :class:`~emomon.errors.AudioError` with a one-line reason when it cannot: not audio,
    broken, or holding NaN/Inf samples (never returned). This is :func:`decode_blocks` concatenated.
    """
    blocks = list(decode_blocks(source, sample_rate, source_rate))
    if not blocks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(blocks)


def scan_audio(source: AudioSource) -> tuple[int, int]:
    """Read ``source`` (a path or bytes) to its end at its own rate: ``(rate, samples)``.

    Raises :class:`~emomon.errors.AudioError` as :func:`decode_audio` does (not audio, broken,
    NaN/Inf samples); a valid file holding no audio gives ``samples == 0``. Memory stays bounded
    (one decoder chunk at a time); nothing is resampled.
    """
    name, rate, chunks = _chunks_of(source, None, DECODE_BLOCK_S)
    try:
        return rate, sum(len(c) for c in _finite_only(chunks, name, rate))
    finally:
        _close(chunks)


# --------------------------------------------------------------------------------------------
# durations
# --------------------------------------------------------------------------------------------
def _probe_soundfile(src: str | io.BytesIO) -> float | None:
    import soundfile as sf

    info = sf.info(src)
    if info.samplerate <= 0 or not 0 < info.frames < 2**62:
        return None
    return float(info.frames) / float(info.samplerate)


def _probe_av(src: str | io.BytesIO) -> float | None:
    import av

    with av.open(src) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return float(container.duration) / av.time_base
    return None


def probe_duration(source: AudioSource, source_rate: int | None = None) -> float | None:
    """Duration in seconds of ``source`` from its header (never decodes the whole file).

    An array ``(samples,)``/``(samples, channels)`` gives ``samples / source_rate``; a path or
    bytes ask soundfile's header, then PyAV's container/stream duration. ``None`` when unknown
    (no ``source_rate``, no duration in the header, an unreadable or missing file).
    """
    if isinstance(source, np.ndarray):
        return float(source.shape[0]) / float(source_rate) if source_rate and source.ndim else None
    try:
        _, attempts = _attempts(source)
    except AudioError:
        return None
    probes = {_soundfile_chunks: _probe_soundfile, _av_chunks: _probe_av}
    for backend, make_src in attempts:
        try:
            seconds = probes[backend](make_src())
        except Exception as exc:  # noqa: BLE001 - each backend has its own exception types
            log.debug("%s cannot probe %s: %s", backend.__name__, source if not isinstance(source, bytes) else "bytes", exc)
            continue
        if seconds is not None and math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def audio_duration(samples: np.ndarray, sample_rate: int) -> float:
    """Duration in seconds of ``(samples,)`` at ``sample_rate``."""
    return float(len(samples)) / float(sample_rate)

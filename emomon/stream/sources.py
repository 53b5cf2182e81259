"""Audio sources that fill a :class:`~emomon.stream.ring.RingBuffer`.

* :class:`MicrophoneSource` — a sounddevice ``InputStream`` whose callback copies each block into
  the ring, stamped with ``time.monotonic()`` (for capture-to-result latency). It opens the device
  at the model's rate, or at the device's default rate when that is refused (the monitor then
  resamples to the model's rate). A watchdog (:mod:`emomon.stream.watchdog`) turns a device that
  stops delivering audio, or delivers only digital silence, into a
  :class:`~emomon.errors.DeviceError`; stopping never waits on PortAudio for more than
  :data:`emomon.defaults.STOP_TIMEOUT_S`.
* :class:`FileSource` — a feeder thread decodes a file block by block with
  :func:`emomon.audio.decode_blocks` (memory bounded whatever its length) and writes it into the
  same kind of ring: paced in real time (like a microphone), or as fast as the reader takes it
  (``realtime=False``) without dropping anything.
* :class:`PushSource` — audio pushed in by its owner (a network session of ``emomon serve``):
  :meth:`PushSource.push` writes each frame into the ring as it arrives (real time, the oldest
  unread audio dropped when the ring is full); :meth:`PushSource.end` ends the stream.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .. import defaults
from ..audio import AudioSource, decode_blocks, probe_duration, reblock
from ..errors import AudioError, DeviceError
from .native_stderr import SharedNativeStderr
from .ring import PacedRing, RingBuffer
from .watchdog import InputWatchdog

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# devices
# --------------------------------------------------------------------------------------------
def _sounddevice() -> Any:
    """Import sounddevice lazily; a missing PortAudio becomes a :class:`DeviceError`."""
    try:
        import sounddevice as sd
    except OSError as exc:
        raise DeviceError("audio input", f"PortAudio is not available ({exc}; install libportaudio2)") from None
    except ImportError:
        raise DeviceError("audio input", "the sounddevice package is not installed") from None
    return sd


@dataclass(frozen=True)
class InputDevice:
    """A capture device as PortAudio lists it."""

    index: int
    name: str
    channels: int
    default_rate: float
    hostapi: str
    is_default: bool


def list_input_devices() -> list[InputDevice]:
    """Every device with at least one input channel."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in = sd.default.device[0]
    except Exception as exc:  # noqa: BLE001 - PortAudioError and friends
        raise DeviceError("audio input", f"cannot list devices ({exc})") from None
    out = []
    for i, d in enumerate(devices):
        if int(d.get("max_input_channels", 0)) > 0:
            api = hostapis[d["hostapi"]]["name"] if 0 <= d.get("hostapi", -1) < len(hostapis) else "?"
            out.append(InputDevice(i, str(d["name"]), int(d["max_input_channels"]), float(d["default_samplerate"]), api, i == default_in))
    return out


def resolve_input_device(spec: str | int | None) -> InputDevice:
    """The input device for ``--device``: ``None`` (the default input), an index, or a name.

    A name matches exactly (case-insensitive) first, then as a substring. Raises
    :class:`DeviceError` when nothing fits.
    """
    devices = list_input_devices()
    if not devices:
        raise DeviceError("audio input", "no input device found (see `emomon devices`)")
    if spec is None or str(spec) == "":
        for d in devices:
            if d.is_default:
                return d
        return devices[0]
    s = str(spec).strip()
    if s.lstrip("-").isdigit():
        idx = int(s)
        for d in devices:
            if d.index == idx:
                return d
        raise DeviceError(f"device {s}", "no input device with this index (see `emomon devices`)")
    low = s.lower()
    for d in devices:
        if d.name.lower() == low:
            return d
    for d in devices:
        if low in d.name.lower():
            return d
    raise DeviceError(f"device {s!r}", "no such input device (see `emomon devices`)")


def check_input_device(dev: InputDevice) -> None:
    """Refuse, before anything starts, a device PortAudio cannot open for mono input at its own
    default rate (a PulseAudio device whose source is gone, a card another program holds): a
    :class:`DeviceError` naming it. The audio library's C diagnostics are kept off the screen."""
    sd = _sounddevice()
    native = SharedNativeStderr()
    native.start()
    try:
        sd.check_input_settings(device=dev.index, channels=1, samplerate=dev.default_rate, dtype="float32")
    except Exception as exc:  # noqa: BLE001 - PortAudioError
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DeviceError(f"device {dev.name!r}", f"cannot be opened for input ({why})") from None
    finally:
        native.stop()


def resolve_input_devices(specs: Sequence[str | int | None]) -> list[InputDevice]:
    """The devices of ``--device A --device B ...`` (an empty list: the default input), each
    resolved as :func:`resolve_input_device` and checked with :func:`check_input_device`, in
    order; the first that is unknown, named twice or cannot be opened raises its
    :class:`DeviceError`."""
    devices: list[InputDevice] = []
    for spec in list(specs) or [None]:
        dev = resolve_input_device(spec)
        if any(d.index == dev.index for d in devices):
            raise DeviceError(f"device {dev.name!r}", "named twice (each --device is its own stream)")
        devices.append(dev)
    for dev in devices:
        check_input_device(dev)
    return devices


def stream_names(devices: Sequence[InputDevice]) -> list[str]:
    """The stream name of each device: ``mic`` for a single one (as before several were
    possible), else the device's name (``#index`` added where two share a name)."""
    if len(devices) == 1:
        return [defaults.MIC_STREAM]
    names = [d.name for d in devices]
    return [d.name if names.count(d.name) == 1 else f"{d.name}#{d.index}" for d in devices]


# --------------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------------
class Source:
    """Base: something that writes mono float32 at :attr:`sample_rate` into :attr:`ring`."""

    name: str = "0"
    sample_rate: int = 16000
    ring: RingBuffer
    error: Exception | None = None
    realtime: bool = True  # samples arrive at the audio's own pace

    def start(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def dropped_seconds(self) -> float:
        return self.ring.dropped / float(self.sample_rate)


class MicrophoneSource(Source):
    """Live capture from an input device (name, index or ``None`` for the default input).

    The device is resolved in the constructor (so a bad ``--device`` fails at once); the stream
    opens in :meth:`start`. ``block_seconds`` is the callback block size; ``ring_seconds`` how
    much audio may wait for the reader before the oldest is dropped.

    A watch thread (:class:`~emomon.stream.watchdog.InputWatchdog`) sets :attr:`error` to a
    :class:`~emomon.errors.DeviceError` when no audio comes for ``stall_timeout`` seconds or
    only digital silence for ``silence_timeout`` (the monitor raises it), and ends the stream
    ``duration`` seconds (wall time) after it started. PortAudio's input overflow and underflow
    flags are counted (:attr:`input_overflows`, :attr:`input_underflows`). :meth:`stop` never
    blocks for more than ``defaults.STOP_TIMEOUT_S``: a stream the audio library does not stop
    in time is abandoned (:func:`abandoned_streams`).
    """

    def __init__(
        self,
        device: str | int | None = None,
        sample_rate: int = 16000,
        block_seconds: float = 0.02,
        ring_seconds: float = 10.0,
        name: str = "mic",
        *,
        stall_timeout: float | None = defaults.STALL_TIMEOUT_S,
        silence_timeout: float | None = defaults.SILENCE_TIMEOUT_S,
        duration: float | None = None,
    ) -> None:
        self.device = resolve_input_device(device)
        self.wanted_rate = int(sample_rate)
        self.sample_rate = int(sample_rate)
        self.block_seconds = block_seconds
        self.ring_seconds = ring_seconds
        self.name = name
        self.limits = {"stall_timeout": stall_timeout, "silence_timeout": silence_timeout, "duration": duration}
        self.input_overflows = 0  # PortAudio status flags seen in the callback
        self.input_underflows = 0
        self.watchdog: InputWatchdog | None = None
        self._stream: Any = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._native = SharedNativeStderr()  # PortAudio's C error lines off the screen while the stream is open
        self.ring = RingBuffer(int(ring_seconds * self.sample_rate), self.sample_rate)

    @property
    def what(self) -> str:
        """The device as messages name it: ``device 'pulse'``."""
        return f"device {self.device.name!r}"

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # Runs on PortAudio's thread: only copy into the preallocated ring, never raise.
        if self._stopping.is_set() or self.ring.closed:  # stopped, or --duration is over
            return
        now = time.monotonic()
        if status:
            self._count_status(status)
        block = indata[:, 0]
        self.ring.write(block, now)
        watchdog = self.watchdog
        if watchdog is not None and frames:
            watchdog.heard(now, bool(block.any()))

    def _count_status(self, status: Any) -> None:
        """Count PortAudio's input overflow/underflow flags (the first of each logged)."""
        if getattr(status, "input_overflow", False):
            self.input_overflows += 1
            if self.input_overflows == 1:
                log.info("%s: input overflow (PortAudio lost input audio)", self.what)
        if getattr(status, "input_underflow", False):
            self.input_underflows += 1
            if self.input_underflows == 1:
                log.info("%s: input underflow (PortAudio had too little input audio)", self.what)

    def _open_rate(self, sd: Any) -> int:
        """The model's rate when the device takes it, else the device's default rate."""
        dev = self.device
        try:
            sd.check_input_settings(device=dev.index, channels=1, samplerate=self.wanted_rate, dtype="float32")
            return self.wanted_rate
        except Exception:  # noqa: BLE001 - the device refuses the model's rate
            rate = int(round(dev.default_rate))
            log.info("device %s refuses %d Hz; capturing at %d Hz and resampling", dev.name, self.wanted_rate, rate)
            return rate

    def start(self) -> None:
        sd = _sounddevice()
        rate = self._open_rate(sd)
        self.sample_rate = rate
        self.ring = RingBuffer(int(self.ring_seconds * rate), rate)
        self._native.start()
        try:
            self._stream = sd.InputStream(
                device=self.device.index,
                channels=1,
                samplerate=rate,
                dtype="float32",
                blocksize=max(1, int(self.block_seconds * rate)),
                callback=self._callback,
            )
            self.watchdog = InputWatchdog(self.what, time.monotonic(), **self.limits)
            self._stream.start()
        except Exception as exc:  # noqa: BLE001 - PortAudioError
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.stop()
            raise DeviceError(self.what, f"cannot open input stream ({why})") from None
        self._watcher = threading.Thread(target=self._watch, name=f"emomon-watch-{self.name}", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        """The watch thread: ends the stream at ``duration``, sets :attr:`error` when the
        watchdog says the device failed or the stream stopped by itself."""
        watchdog = self.watchdog
        assert watchdog is not None
        while not self._stopping.wait(defaults.WATCH_TICK_S):
            now = time.monotonic()
            if watchdog.expired(now):
                if watchdog.blocks == 0:
                    log.warning("%s: delivered no audio in %g s", self.what, watchdog.duration)
                self.ring.close()  # the monitor reads what is left and ends the stream
                return
            problem = watchdog.check(now) or self._stream_ended()
            if problem is not None:
                self.error = problem
                return

    def _stream_ended(self) -> DeviceError | None:
        """A :class:`DeviceError` when PortAudio stopped the stream by itself (a lost device)."""
        stream = self._stream
        try:
            alive = stream is None or self._stopping.is_set() or bool(stream.active)
        except Exception:  # noqa: BLE001 - a stream in a bad state
            alive = False
        return None if alive else DeviceError(self.what, "the input stream stopped (the device, or its sound server, went away)")

    def stop(self) -> None:
        """Stop capturing: the stream is aborted and closed on a helper thread, waited for at
        most ``defaults.STOP_TIMEOUT_S`` and abandoned after that (the audio library can block
        forever on a stalled device). Safe to call more than once, from any thread."""
        self._stopping.set()
        stream, self._stream = self._stream, None
        if stream is not None:
            _close_stream(stream, self.what)
        self._native.stop()
        if self._native.swallowed:
            log.debug("%s: %d lines of the audio library's diagnostics kept off the screen", self.what, self._native.swallowed)
        self.ring.close()

    @property
    def stats(self) -> dict[str, int]:
        """PortAudio's status flags seen so far: ``input_overflows``, ``input_underflows``."""
        return {"input_overflows": self.input_overflows, "input_underflows": self.input_underflows}


_abandoned: list[str] = []  # the streams the audio library did not stop in time


def abandoned_streams() -> list[str]:
    """The devices whose stream :meth:`MicrophoneSource.stop` had to abandon in this process.

    While one is abandoned, the audio library's own clean-up at interpreter exit may block
    forever (PortAudio's ``Pa_Terminate``) or crash: the process should end with ``os._exit``
    once its output is flushed (the CLI does).
    """
    return list(_abandoned)


def _close_stream(stream: Any, what: str) -> None:
    """Abort and close ``stream`` on a daemon thread; give up on it after ``STOP_TIMEOUT_S``.

    ``abort`` rather than ``stop``: an input stream has nothing to drain, and PortAudio's
    ``stop`` waits for a buffer a stalled device never delivers.
    """

    def close() -> None:
        try:
            stream.abort()
            stream.close()
        except Exception:  # noqa: BLE001 - PortAudioError: the stream is gone either way
            log.debug("closing the input stream of %s failed", what, exc_info=True)

    closer = threading.Thread(target=close, name="emomon-close-stream", daemon=True)
    closer.start()
    closer.join(defaults.STOP_TIMEOUT_S)
    if closer.is_alive():
        _abandoned.append(what)
        log.warning("%s: the audio library did not stop the input stream within %g s; abandoned it", what,
                    defaults.STOP_TIMEOUT_S)


class FileSource(Source):
    """A file (or a sample array with ``source_rate``) played into a ring.

    The file is decoded lazily with :func:`emomon.audio.decode_blocks`: the constructor decodes
    the first block (so a bad, missing or empty file fails at once) and the feeder thread
    decodes the rest one block at a time, so only about one decode block
    (:data:`emomon.defaults.DECODE_BLOCK_S`) is held whatever the length of the file.
    ``realtime=True`` paces blocks at the audio's own speed and stamps each with the time its
    last sample "arrives"; ``realtime=False`` writes as fast as the reader frees room, never
    dropping. NaN/Inf samples are passed on as they are (the monitor marks the windows holding
    them and does not classify them).
    """

    def __init__(
        self,
        source: AudioSource,
        sample_rate: int = 16000,
        realtime: bool = True,
        source_rate: int | None = None,
        block_seconds: float = 0.02,
        ring_seconds: float = 10.0,
        name: str | None = None,
    ) -> None:
        label = str(source) if isinstance(source, (str, Path)) else "audio"
        # NaN/Inf samples are kept: the monitor marks the windows holding them and skips them
        self._blocks = decode_blocks(source, sample_rate, source_rate, nonfinite="keep")
        first = next(self._blocks, None)  # raises AudioError for a bad or missing file
        if first is None:
            raise AudioError(label, "no samples")
        self._first: np.ndarray | None = first
        self._header_duration = probe_duration(source, source_rate)
        self.fed = 0  # samples written into the ring so far
        self._finished = False  # every sample of the file has been fed
        self.sample_rate = int(sample_rate)
        self.realtime = realtime
        self.block = max(1, int(block_seconds * sample_rate))
        self.name = name if name is not None else (str(source) if isinstance(source, (str, Path)) else "0")
        self.ring = RingBuffer(max(int(ring_seconds * sample_rate), 4 * self.block), self.sample_rate if realtime else None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def duration(self) -> float:
        """Seconds of audio in the file.

        Exact (samples counted as they were fed) once the feeder has reached the end of the
        file; before that the header's duration (:func:`~emomon.audio.probe_duration`), or the
        seconds fed so far when the header does not tell (a lower bound).
        """
        if self._finished or self._header_duration is None:
            return self.fed / self.sample_rate
        return self._header_duration

    def start(self) -> None:
        self._thread = threading.Thread(target=self._feed, name=f"emomon-file-{self.name}", daemon=True)
        self._thread.start()

    def _decoded(self) -> Iterator[np.ndarray]:
        """The file's blocks ``(n,)``: the one decoded by the constructor, then the rest."""
        first, self._first = self._first, None
        if first is not None:
            yield first
        yield from self._blocks

    def _put(self, piece: np.ndarray, t0: float) -> bool:
        """Write ``piece (n,)`` (paced or waiting for room); False when stopped meanwhile."""
        if self.realtime:
            due = t0 + (self.fed + len(piece)) / self.sample_rate
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return False
            self.ring.write(piece, due)
        else:
            while self.ring.free < len(piece) and not self._stop.is_set():
                time.sleep(0.0005)
            self.ring.write(piece, time.monotonic())
        self.fed += len(piece)
        return True

    def _feed(self) -> None:
        try:
            t0 = time.monotonic()
            for piece in reblock(self._decoded(), self.block):
                if self._stop.is_set() or not self._put(piece, t0):
                    return
            self._finished = True
        except Exception as exc:  # noqa: BLE001 - handed to the monitor
            self.error = exc
        finally:
            self._blocks.close()  # type: ignore[attr-defined]  # a generator: closes the file
            self.ring.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        elif self._thread is None:
            self._blocks.close()  # type: ignore[attr-defined]  # never started: close the file
        self.ring.close()


class StreamResampler:
    """Continuous resampling ``source_rate`` → ``target_rate`` across chunks (soxr stream)."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        import soxr

        self.source_rate = source_rate
        self.target_rate = target_rate
        self._rs = soxr.ResampleStream(source_rate, target_rate, 1, dtype="float32", quality="HQ")

    def __call__(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        """``(n,)`` at ``source_rate`` → ``(m,)`` at ``target_rate`` (``last`` flushes)."""
        return np.asarray(self._rs.resample_chunk(np.ascontiguousarray(samples, dtype=np.float32), last=last), dtype=np.float32).reshape(-1)


class PushSource(Source):
    """A stream whose owner pushes the audio in: :meth:`push` writes mono float32 samples at
    ``sample_rate`` into a ring of ``ring_seconds``, stamped with the time they arrived (so a
    record's latency runs from a frame's arrival to its result).

    Real time: the reader gets the audio no faster than real time since the first push
    (``paced``, a :class:`~emomon.stream.ring.PacedRing`), so an owner that pushes faster is
    ahead by at most ``ring_seconds``; a ring that overflows, because the owner is that far ahead
    or the reader fell behind, drops its *oldest* unread samples (counted in
    :attr:`dropped_seconds`, as for a microphone); :meth:`push` never blocks.
    :meth:`end` (or :meth:`stop`) closes the ring: the monitor reads what is left, flushes the
    last window and ends the stream. Pushing after the end is ignored (returns 0). Safe to
    call from any one writer thread while the monitor reads.
    """

    def __init__(self, sample_rate: int, name: str, ring_seconds: float = 10.0, paced: bool = True) -> None:
        if int(sample_rate) <= 0:
            raise AudioError(name, f"sample rate must be positive (got {sample_rate})")
        self.sample_rate = int(sample_rate)
        self.name = name
        self.realtime = True
        ring = PacedRing if paced else RingBuffer
        self.ring = ring(max(1, int(ring_seconds * self.sample_rate)), self.sample_rate)
        self.pushed = 0  # samples pushed so far (dropped ones included)

    def start(self) -> None:
        """Nothing to start: audio comes through :meth:`push`."""

    def push(self, samples: np.ndarray, capture_time: float | None = None) -> int:
        """Write ``samples (n,)`` (float32, mono) into the ring; returns how many unread samples
        this overwrote (dropped). ``capture_time`` (monotonic, of the last sample): default now."""
        if self.ring.closed:
            return 0
        block = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        self.pushed += len(block)
        return self.ring.write(block, time.monotonic() if capture_time is None else capture_time)

    @property
    def seconds(self) -> float:
        """Seconds of audio pushed so far."""
        return self.pushed / float(self.sample_rate)

    def end(self) -> None:
        """No more audio: the monitor finishes the stream with what the ring holds."""
        self.ring.close()

    def stop(self) -> None:
        self.ring.close()

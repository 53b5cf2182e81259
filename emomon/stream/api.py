"""The streaming API: one call each for a file or a microphone, and a session into sinks.

``stream_file`` and ``stream_microphone`` return an iterator of
:class:`~emomon.records.WindowRecord` (one per hop). Files are decoded and devices resolved when
the function is called, so errors surface at once::

    from emomon.stream import stream_file
    for rec in stream_file("clip.wav", model="default", fast=True):
        print(rec.t, rec.label, rec.speech, rec.smoothed)

``session_sinks`` + :func:`~emomon.stream.session.run_session` are what ``emomon listen`` and
``emomon file --stream`` run: a monitor into a JSONL log, stdout or the live screen, and a plot.

Streams adapt to their speaker when the model can (``adapt``, :class:`MonitorConfig`); a
``profile`` (a name, or a loaded :class:`~emomon.profiles.Profile`) is where every stream's
statistics start, and ``session_sinks`` saves it with what the session heard when it ends.

:func:`open_model` (:mod:`emomon.models.open`) and :func:`open_profile` (:mod:`emomon.profiles`)
are importable from here too, where they were first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from .. import defaults
from ..audio import AudioSource
from ..errors import EmomonError
from ..features.vad import VadOptions
from ..models.open import open_model
from ..profiles import open_profile
from ..records import WindowRecord
from .familiarity import collapse_options
from .monitor import Monitor, MonitorConfig
from .sources import FileSource, MicrophoneSource

if TYPE_CHECKING:
    from ..models.interface import Classifier  # an EmotionModel (torch) or an OnnxModel
    from ..profiles import Profile
    from .session import Sink

__all__ = ["check_device_profile", "file_monitor", "microphone_monitor", "open_model", "open_profile", "session_sinks",
           "stream_file", "stream_microphone"]


def _config(*, window: float | None, hop: float | None, smoothing: float, vad: VadOptions | str | None,
            min_confidence: float | None, duration: float | None, adapt: bool, collapse_check: bool) -> MonitorConfig:
    """The monitor settings of :func:`stream_file`'s and :func:`stream_microphone`'s keywords
    (``vad``: options, a method name, or ``None`` for the default)."""
    if not isinstance(vad, VadOptions):
        vad = VadOptions(method=vad) if vad else VadOptions()
    return MonitorConfig(window=window, hop=hop, smoothing=smoothing, vad=vad, min_confidence=min_confidence,
                         duration=duration, adapt=adapt, collapse=collapse_options(collapse_check))


def file_monitor(
    source: AudioSource | list[AudioSource],
    model: "str | Path | Classifier" = "default",
    *,
    fast: bool = True,
    config: MonitorConfig | None = None,
    compute: str = "auto",
    source_rate: int | None = None,
    profile: "str | Profile | None" = None,
    on_error: Callable[[EmomonError], None] | None = None,
) -> Monitor:
    """A :class:`Monitor` over one or more files (each its own stream, named by its path, with
    its own speaker adapter; every one starts from ``profile`` when given).

    A file that cannot be opened (missing, not audio, no samples) raises its
    :class:`~emomon.errors.EmomonError`; with ``on_error`` it is handed to ``on_error`` instead
    and left out, and only when no file at all can be opened is an error raised. A file that
    breaks part-way (a damaged block) ends the session with its error, or, with ``on_error``,
    ends only its own stream, its error handed to ``on_error``.
    """
    m = open_model(model, compute)
    items = source if isinstance(source, list) else [source]
    sources = _file_sources(items, m.sample_rate, fast, source_rate, on_error)
    if items and not sources:
        raise EmomonError("files", "none of them could be read")
    return Monitor(m, sources, config, profile=open_profile(profile, m), on_source_error=on_error)


def _file_sources(items: list[AudioSource], sample_rate: int, fast: bool, source_rate: int | None,
                  on_error: Callable[[EmomonError], None] | None) -> list[FileSource]:
    """A :class:`FileSource` per item that opens; the others to ``on_error`` (``None``: raised)."""
    sources = []
    for item in items:
        try:
            sources.append(FileSource(item, sample_rate, realtime=not fast, source_rate=source_rate))
        except EmomonError as exc:
            if on_error is None:
                raise
            on_error(exc)
    return sources


def stream_file(
    source: AudioSource,
    model: "str | Path | Classifier" = "default",
    *,
    fast: bool = True,
    window: float | None = None,
    hop: float | None = None,
    smoothing: float = defaults.SMOOTHING,
    vad: VadOptions | str | None = None,
    min_confidence: float | None = defaults.MIN_CONFIDENCE,
    duration: float | None = None,
    compute: str = "auto",
    source_rate: int | None = None,
    adapt: bool = defaults.ADAPT,
    collapse_check: bool = defaults.COLLAPSE_CHECK,
) -> Iterator[WindowRecord]:
    """Stream a file (path, bytes, or array with ``source_rate``) through the live pipeline.

    ``fast=True`` runs as fast as the model goes; ``fast=False`` paces it in real time. ``vad``:
    :class:`VadOptions` or a method name (``silero``, ``energy``, ``off``). ``adapt``: adapt to
    the speaker when the model can. ``collapse_check``: records say ``caution="unfamiliar voice"``
    while the answers collapse into one class (:mod:`emomon.stream.familiarity`).
    """
    cfg = _config(window=window, hop=hop, smoothing=smoothing, vad=vad, min_confidence=min_confidence, duration=duration,
                  adapt=adapt, collapse_check=collapse_check)
    return file_monitor(source, model, fast=fast, config=cfg, compute=compute, source_rate=source_rate).records()


def microphone_monitor(
    device: str | int | None = None,
    model: "str | Path | Classifier" = "default",
    *,
    devices: Sequence[str | int | None] | None = None,
    config: MonitorConfig | None = None,
    compute: str = "auto",
    profile: "str | Profile | None" = None,
    stall_timeout: float | None = defaults.STALL_TIMEOUT_S,
    silence_timeout: float | None = defaults.SILENCE_TIMEOUT_S,
) -> Monitor:
    """A :class:`Monitor` over one input device (``None``: the default input) or, with
    ``devices=[A, B, ...]``, over several: each its own stream (its capture thread and ring, its
    windows and voice activity, its speaker adapter, named after its device; a single device's
    stream is ``mic``), all through the one inference worker. ``profile`` (one device only: each
    device is its own speaker) is where the stream's speaker statistics start.

    Every device is resolved and checked (:func:`~emomon.stream.sources.resolve_input_devices`)
    before the model loads: one that is unknown, named twice or cannot be opened raises its
    :class:`~emomon.errors.DeviceError`. Each device is watched on its own
    (:mod:`emomon.stream.watchdog`): no audio for ``stall_timeout`` seconds, or nothing but
    digital silence for ``silence_timeout``, ends the records with a
    :class:`~emomon.errors.DeviceError` naming that device (``None`` or 0: never);
    ``config.duration`` counts wall time (the streams end that long after they started, audio
    or not).
    """
    from .sources import resolve_input_devices, stream_names

    specs = _device_specs(device, devices)
    check_device_profile(len(specs), profile)
    devs = resolve_input_devices(specs)  # a bad device fails before the model loads
    m = open_model(model, compute)
    duration = config.duration if config is not None else None
    sources = [MicrophoneSource(dev.index, m.sample_rate, name=name, stall_timeout=stall_timeout,
                                silence_timeout=silence_timeout, duration=duration)
               for dev, name in zip(devs, stream_names(devs))]
    return Monitor(m, sources, config, profile=open_profile(profile, m))


def check_device_profile(devices: int, profile: "str | Profile | None") -> None:
    """Refuse a speaker profile for several devices: each device is its own speaker, and one
    profile fed by all of them would mix their voices."""
    if profile is not None and devices > 1:
        raise EmomonError("profile", "applies to a single --device (each device is its own speaker: one profile would mix them)")


def _device_specs(device: str | int | None, devices: Sequence[str | int | None] | None) -> list[str | int | None]:
    """The devices asked for: ``devices``, else ``[device]`` (``None``: the default input)."""
    if devices is None:
        return [device]
    if device is not None:
        raise EmomonError("device", "give device or devices, not both")
    return list(devices) or [None]


def stream_microphone(
    device: str | int | None = None,
    model: "str | Path | Classifier" = "default",
    *,
    devices: Sequence[str | int | None] | None = None,
    window: float | None = None,
    hop: float | None = None,
    smoothing: float = defaults.SMOOTHING,
    vad: VadOptions | str | None = None,
    min_confidence: float | None = defaults.MIN_CONFIDENCE,
    duration: float | None = None,
    compute: str = "auto",
    adapt: bool = defaults.ADAPT,
    collapse_check: bool = defaults.COLLAPSE_CHECK,
    stall_timeout: float | None = defaults.STALL_TIMEOUT_S,
    silence_timeout: float | None = defaults.SILENCE_TIMEOUT_S,
) -> Iterator[WindowRecord]:
    """Stream the microphone (or several devices, ``devices=[...]``: their records interleaved,
    each naming its ``stream``); runs until ``duration`` seconds (wall time) or until the
    iterator is closed. A device that stalls or delivers only digital silence raises a
    :class:`~emomon.errors.DeviceError` naming it (see :func:`microphone_monitor`); ``collapse_check``
    as in :func:`stream_file`."""
    cfg = _config(window=window, hop=hop, smoothing=smoothing, vad=vad, min_confidence=min_confidence, duration=duration,
                  adapt=adapt, collapse_check=collapse_check)
    return microphone_monitor(device, model, devices=devices, config=cfg, compute=compute, stall_timeout=stall_timeout,
                              silence_timeout=silence_timeout).records()


def session_sinks(
    monitor: Monitor,
    *,
    title: str = "emomon",
    screen: bool = True,
    jsonl: Path | None = None,
    append: bool = False,
    force: bool = False,
    plot: Path | None = None,
) -> list["Sink"]:
    """The sinks of a session: the live screen (or JSON lines on stdout), a JSONL log, a plot,
    and the monitor's speaker profile (saved when the session ends)."""
    from .sinks import JsonlLog, JsonLines, LiveScreen, ProfileSaver, TimelinePlot

    sinks: list[Sink] = [ProfileSaver(monitor)] if monitor.profile is not None else []
    if plot is not None:  # checked first: it opens nothing
        sinks.append(TimelinePlot(plot, monitor.labels, title, force=force))
    if jsonl is not None:
        sinks.append(JsonlLog(jsonl, force=force, append=append))
    if screen:
        sinks.append(LiveScreen(monitor.labels, monitor.streams, title, monitor.config.vad,
                                monitor.config.min_confidence, realtime=monitor.realtime, adapt=monitor.config.adapt,
                                profile=monitor.profile.name if monitor.profile is not None else None))
    else:
        sinks.append(JsonLines())
    return sinks

"""The stream protocol of ``WS /v1/stream``: typed messages, their JSON (``to_dict()``), close codes.

Client → server: a first text message :class:`StreamConfig` (``{"type": "config", "sample_rate":
16000, "encoding": "pcm_s16le"}`` plus optional ``window``, ``hop``, ``vad``, ``smoothing``,
``adapt``, ``profile``), then binary audio frames (mono, 20-100 ms each, little-endian 16-bit
integers or 32-bit floats) and the text messages ``{"type": "keepalive"}``, ``{"type": "flush"}``
and ``{"type": "close"}``.

Server → client: :class:`Ready` or :class:`Busy`; then a ``window`` message per window (exactly
a JSONL log's :class:`~emomon.records.WindowRecord` line, its ``stream`` the session id), a
:class:`SegmentMessage` when a stretch of speech ends, :class:`Warning` when audio was dropped,
:class:`Keepalive` and :class:`Flushed` answering the client's; at the end the last segment, a
:class:`Summary` and close code 1000. Any failure is an :class:`Error` and then a close code
(:data:`CLOSE_CODES`). See ``emomon/serve/PROTOCOL.md``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..records import TIME_DIGITS, round_scores, rounded

PROTOCOL_VERSION = 1
ENCODINGS = {"pcm_s16le": 2, "f32le": 4}  # encoding -> bytes per sample
MIN_RATE, MAX_RATE = 8000, 192000

# close codes (RFC 6455) the server uses
NORMAL = 1000
GOING_AWAY = 1001  # the server is shutting down
UNSUPPORTED = 1003  # garbage: audio that is not whole samples, a frame of the wrong kind
POLICY = 1008  # refused: missing/wrong key, bad config, limits (idle, session length), a client that does not read
TOO_BIG = 1009  # an audio frame over the limit
INTERNAL = 1011  # the model failed
TRY_LATER = 1013  # busy: every session slot taken

CLOSE_CODES = {
    "unauthorized": POLICY, "bad_config": POLICY, "bad_message": UNSUPPORTED, "bad_audio": UNSUPPORTED,
    "frame_too_large": TOO_BIG, "idle_timeout": POLICY, "session_too_long": POLICY, "slow_client": POLICY,
    "busy": TRY_LATER, "server_shutdown": GOING_AWAY, "internal": INTERNAL, "stream_failed": INTERNAL,
}
"""The close code that follows each error ``code``."""

CONFIG_KEYS = {"type", "sample_rate", "encoding", "window", "hop", "vad", "smoothing", "adapt", "profile"}
MAX_WINDOW_S = 30.0


class ProtocolError(Exception):
    """A client broke the protocol: ``code`` (a key of :data:`CLOSE_CODES`) and a one-line message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_message(self) -> "Error":
        return Error(self.code, self.message)


@dataclass(frozen=True)
class StreamConfig:
    """The client's first message, checked: the audio's ``sample_rate`` and ``encoding``, and
    the stream's own settings (``None``: the server's)."""

    sample_rate: int
    encoding: str = "pcm_s16le"
    window: float | None = None
    hop: float | None = None
    vad: str | None = None
    smoothing: float | None = None
    adapt: bool | None = None
    profile: str | None = None

    @property
    def sample_bytes(self) -> int:
        return ENCODINGS[self.encoding]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "config", "sample_rate": self.sample_rate, "encoding": self.encoding, "window": self.window,
                "hop": self.hop, "vad": self.vad, "smoothing": self.smoothing, "adapt": self.adapt, "profile": self.profile}


def _number(d: Mapping[str, Any], key: str, lo: float, hi: float) -> float | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not lo <= value <= hi:
        raise ProtocolError("bad_config", f"{key} must be a number in [{lo:g}, {hi:g}] (got {value!r})")
    return float(value)


def parse_config(text: str) -> StreamConfig:
    """The :class:`StreamConfig` of the client's first message; :class:`ProtocolError`
    ``bad_config`` (one line saying what is wrong) for anything else."""
    try:
        d = json.loads(text)
    except (TypeError, ValueError):
        raise ProtocolError("bad_config", "the first message must be a JSON config object") from None
    if not isinstance(d, dict) or d.get("type", "config") != "config":
        raise ProtocolError("bad_config", 'the first message must be {"type": "config", "sample_rate": ..., "encoding": ...}')
    unknown = sorted(set(d) - CONFIG_KEYS)
    if unknown:
        raise ProtocolError("bad_config", f"unknown config keys: {', '.join(unknown)} (known: {', '.join(sorted(CONFIG_KEYS - {'type'}))})")
    rate = d.get("sample_rate")
    if isinstance(rate, bool) or not isinstance(rate, int) or not MIN_RATE <= rate <= MAX_RATE:
        raise ProtocolError("bad_config", f"sample_rate must be an integer from {MIN_RATE} to {MAX_RATE} Hz (got {rate!r})")
    encoding = d.get("encoding", "pcm_s16le")
    if encoding not in ENCODINGS:
        raise ProtocolError("bad_config", f"encoding must be one of {', '.join(ENCODINGS)} (got {encoding!r})")
    vad = d.get("vad")
    if vad is not None and vad not in ("silero", "energy", "off"):
        raise ProtocolError("bad_config", f"vad must be silero, energy or off (got {vad!r})")
    for key in ("adapt",):
        if d.get(key) is not None and not isinstance(d[key], bool):
            raise ProtocolError("bad_config", f"{key} must be true or false (got {d[key]!r})")
    profile = d.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise ProtocolError("bad_config", f"profile must be a name (got {profile!r})")
    smoothing = _number(d, "smoothing", 0.0, 0.999)
    return StreamConfig(sample_rate=rate, encoding=encoding, window=_number(d, "window", 0.032, MAX_WINDOW_S),
                        hop=_number(d, "hop", 0.01, MAX_WINDOW_S), vad=vad, smoothing=smoothing,
                        adapt=d.get("adapt"), profile=profile)


def parse_control(text: str) -> str:
    """The type of a control message after the config: ``keepalive``, ``flush`` or ``close``
    (:class:`ProtocolError` ``bad_message`` otherwise)."""
    try:
        d = json.loads(text)
    except (TypeError, ValueError):
        raise ProtocolError("bad_message", "text messages must be JSON objects") from None
    kind = d.get("type") if isinstance(d, dict) else None
    if kind not in ("keepalive", "flush", "close"):
        raise ProtocolError("bad_message", f"unknown message type {kind!r} (keepalive, flush, close; audio goes in binary frames)")
    return str(kind)


@dataclass(frozen=True)
class Ready:
    """The session is open: its id (every window's ``stream``), the labels, the model's rate and
    the stream's window/hop, and the limits it runs under."""

    session: str
    labels: list[str]
    sample_rate: int
    window: float
    hop: float
    encoding: str
    limits: dict[str, float] = field(default_factory=dict)
    protocol: int = PROTOCOL_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {"type": "ready", "protocol": self.protocol, "session": self.session, "labels": list(self.labels),
                "sample_rate": self.sample_rate, "window": self.window, "hop": self.hop, "encoding": self.encoding,
                "limits": dict(self.limits)}


@dataclass(frozen=True)
class Busy:
    """Every session slot is taken: try again after ``retry_after_s`` (close code 1013 follows)."""

    retry_after_s: float
    message: str = "the server is at its session limit"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "busy", "retry_after_s": self.retry_after_s, "message": self.message}


@dataclass(frozen=True)
class Error:
    """What went wrong (``code``: a key of :data:`CLOSE_CODES`); the close code follows."""

    code: str
    message: str

    @property
    def close_code(self) -> int:
        return CLOSE_CODES.get(self.code, POLICY)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "message": self.message}


@dataclass(frozen=True)
class Warning:  # noqa: A001 - the protocol's name
    """Audio was lost: ``dropped_s`` in all so far, ``new_s`` since the last warning."""

    code: str
    message: str
    dropped_s: float = 0.0
    new_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"type": "warning", "code": self.code, "message": self.message,
                "dropped_s": rounded(self.dropped_s, 3), "new_s": rounded(self.new_s, 3)}


@dataclass(frozen=True)
class SegmentMessage:
    """A stretch of speech windows that ended: ``[start, end)`` seconds of the stream (``start``
    the end of the window before it, ``end`` its last window's), the mean of its windows'
    scores, their top label, and how many windows it holds."""

    stream: str
    start: float
    end: float
    label: str
    scores: dict[str, float]
    windows: int
    uncertain: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"type": "segment", "stream": self.stream, "start": rounded(self.start, TIME_DIGITS),
                "end": rounded(self.end, TIME_DIGITS), "label": self.label, "uncertain": self.uncertain,
                "scores": round_scores(self.scores), "windows": self.windows}


@dataclass(frozen=True)
class Keepalive:
    """The answer to a client's keepalive."""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "keepalive"}


@dataclass(frozen=True)
class Flushed:
    """Every sample received before the client's flush has its records (and the open segment
    was closed): ``t`` the stream's position in seconds."""

    t: float

    def to_dict(self) -> dict[str, Any]:
        return {"type": "flushed", "t": rounded(self.t, TIME_DIGITS)}


@dataclass(frozen=True)
class Summary:
    """The last message of a session: its figures and how it ended (``completed``: the client
    closed it; else ``stopped_by`` says what did and ``error`` why)."""

    session: str
    seconds: float
    windows: int
    speech_windows: int
    dropped_s: float
    gaps: int
    latency_median_ms: float | None
    completed: bool
    stopped_by: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": "summary", "session": self.session, "seconds": rounded(self.seconds, 3), "windows": self.windows,
                "speech_windows": self.speech_windows, "dropped_s": rounded(self.dropped_s, 3), "gaps": self.gaps,
                "latency_median_ms": rounded(self.latency_median_ms, 2), "completed": self.completed,
                "stopped_by": self.stopped_by, "error": self.error}

"""A Python client of ``emomon serve``: stream audio to it, iterate its messages; analyse a file.

::

    from emomon.client import analyze, stream

    for msg in stream("talk.wav", "http://127.0.0.1:8765"):       # paced in real time
        if msg["type"] == "window" and msg["label"]:
            print(msg["t"], msg["label"], msg["smoothed"][msg["label"]])
        elif msg["type"] == "segment":
            print("segment", msg["start"], msg["end"], msg["label"])

    result = analyze("talk.wav", "http://127.0.0.1:8765", segments=True)   # what `emomon file` gives

For live audio (a microphone callback, a telephony bridge) open a :class:`StreamSession` and
:meth:`~StreamSession.send` blocks of samples as they come. Messages are dicts, exactly the
JSON the server sends (``ready``, ``window``, ``segment``, ``warning``, ``flushed``,
``keepalive``, ``summary``, ``error``, ``busy``; see ``emomon/serve/PROTOCOL.md``). An ``error``
or ``busy`` message raises :class:`ServerError` after it is yielded (``raise_errors=False``:
only yielded). Needs the ``websockets`` package (the ``serve`` extra) for streaming; ``analyze``
uses the standard library alone.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import defaults
from .errors import EmomonError

DEFAULT_URL = "http://127.0.0.1:8765"
FRAME_S = 0.05


class ServerError(EmomonError):
    """The server refused or ended a session (``code`` as in its error message; ``busy`` with
    ``retry_after_s``), or an HTTP call failed."""

    def __init__(self, code: str, message: str, retry_after_s: float | None = None, status: int | None = None) -> None:
        super().__init__(f"server ({code})", message)
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s
        self.status = status


def _urls(url: str) -> tuple[str, str]:
    """``(http base, ws base)`` of a server given as ``http(s)://``, ``ws(s)://`` or ``host:port``."""
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme in ("https", "wss")
    netloc = parts.netloc
    base = parts.path.rstrip("/")
    for suffix in ("/v1/stream", "/v1/analyze"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return f"{'https' if secure else 'http'}://{netloc}{base}", f"{'wss' if secure else 'ws'}://{netloc}{base}"


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def encode(samples: np.ndarray, encoding: str = "pcm_s16le") -> bytes:
    """Mono float samples ``(n,)`` in [-1, 1] as the protocol's bytes (``pcm_s16le`` or ``f32le``)."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if encoding == "f32le":
        return x.astype("<f4").tobytes()
    if encoding == "pcm_s16le":
        return (np.clip(np.nan_to_num(x), -1.0, 32767 / 32768) * 32768.0).round().astype("<i2").tobytes()
    raise ValueError(f"unknown encoding {encoding!r} (pcm_s16le, f32le)")


class StreamSession:
    """One open ``/v1/stream`` session: :meth:`send` audio, :meth:`messages` to read.

    The config goes out on connect and the ``ready`` (or ``busy``/``error``) answer is read at
    once: :attr:`ready` holds it (``ServerError`` is raised for a refusal). ``config``: any of
    the protocol's optional settings (``window``, ``hop``, ``vad``, ``smoothing``, ``adapt``,
    ``profile``).
    """

    def __init__(self, url: str = DEFAULT_URL, sample_rate: int = defaults.SAMPLE_RATE, *, encoding: str = "pcm_s16le",
                 api_key: str | None = None, config: dict[str, Any] | None = None, open_timeout: float = 10.0,
                 max_queue: int | None = 64) -> None:
        from websockets.sync.client import connect

        _, ws_base = _urls(url)
        self.encoding = encoding
        self.sample_rate = int(sample_rate)
        self._ws = connect(f"{ws_base}/v1/stream", additional_headers=_headers(api_key), open_timeout=open_timeout,
                           max_size=2**22, max_queue=max_queue).__enter__()  # a connection, closed by close()
        self._ws.send(json.dumps({"type": "config", "sample_rate": self.sample_rate, "encoding": encoding, **(config or {})}))
        first = json.loads(self._ws.recv(timeout=open_timeout))
        self.ready: dict[str, Any] = first
        if first.get("type") != "ready":
            self._ws.close()
            raise _refusal(first)
        self.session: str = first["session"]
        self._send_lock = threading.Lock()

    def send(self, samples: np.ndarray) -> None:
        """Send mono float samples ``(n,)`` at :attr:`sample_rate` (one binary frame)."""
        with self._send_lock:
            self._ws.send(encode(samples, self.encoding))

    def send_bytes(self, data: bytes) -> None:
        """Send a frame as it is (already in the session's encoding)."""
        with self._send_lock:
            self._ws.send(data)

    def control(self, kind: str) -> None:
        """Send a control message: ``keepalive``, ``flush`` or ``close``."""
        with self._send_lock:
            self._ws.send(json.dumps({"type": kind}))

    def messages(self, raise_errors: bool = True) -> Iterator[dict[str, Any]]:
        """The server's messages until it closes the connection."""
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                raw = self._ws.recv()
            except ConnectionClosed:
                return
            msg = json.loads(raw)
            yield msg
            if raise_errors and msg.get("type") in ("error", "busy"):
                raise _refusal(msg)

    def close(self) -> None:
        """Close the connection (without the protocol's ``close``: see :meth:`control`)."""
        self._ws.close()

    def __enter__(self) -> "StreamSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _refusal(msg: dict[str, Any]) -> ServerError:
    if msg.get("type") == "busy":
        return ServerError("busy", str(msg.get("message", "busy")), retry_after_s=msg.get("retry_after_s"))
    return ServerError(str(msg.get("code", "error")), str(msg.get("message", msg)))


def _samples(source: "str | Path | np.ndarray", sample_rate: int | None) -> tuple[np.ndarray, int]:
    """``(samples (n,), rate)``: an array as it is (``sample_rate`` needed), a file decoded at
    ``sample_rate`` (default 16 kHz)."""
    if isinstance(source, np.ndarray):
        if sample_rate is None:
            raise ValueError("an array needs its sample_rate")
        return np.asarray(source, dtype=np.float32).reshape(-1), int(sample_rate)
    from .audio import decode_audio

    rate = int(sample_rate or defaults.SAMPLE_RATE)
    return decode_audio(source, rate), rate


def stream(source: "str | Path | np.ndarray", url: str = DEFAULT_URL, *, sample_rate: int | None = None,
           api_key: str | None = None, encoding: str = "pcm_s16le", frame_s: float = FRAME_S, realtime: bool = True,
           config: dict[str, Any] | None = None, raise_errors: bool = True, flush: bool = False) -> Iterator[dict[str, Any]]:
    """Stream a file or an array to the server and yield every message, ``ready`` first and
    ``summary`` last. Frames of ``frame_s`` go out paced in real time (``realtime=False``: as
    fast as the socket takes them: the server then drops what it cannot keep up with, and says
    so in ``warning`` messages); after the last the session is closed with ``close`` (after a
    ``flush`` when asked)."""
    x, rate = _samples(source, sample_rate)
    session = StreamSession(url, rate, encoding=encoding, api_key=api_key, config=config)
    errors: "queue.Queue[BaseException]" = queue.Queue()
    sender = threading.Thread(target=_feed, args=(session, x, rate, frame_s, realtime, flush, errors), daemon=True,
                              name="emomon-client-send")
    try:
        yield session.ready
        sender.start()
        yield from session.messages(raise_errors)
    finally:
        session.close()
        sender.join(5.0)


def _feed(session: StreamSession, x: np.ndarray, rate: int, frame_s: float, realtime: bool, flush: bool,
          errors: "queue.Queue[BaseException]") -> None:
    """The sender thread of :func:`stream`: frames (paced), then ``flush``/``close``."""
    step = max(1, int(round(frame_s * rate)))
    t0 = time.monotonic()
    try:
        for i in range(0, len(x), step):
            if realtime:
                delay = t0 + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            session.send(x[i:i + step])
        if flush:
            session.control("flush")
        session.control("close")
    except Exception as exc:  # noqa: BLE001 - the connection closed under us: the reader sees why
        errors.put(exc)


def _http(method: str, url: str, api_key: str | None, data: Any = None, headers: dict[str, str] | None = None,
          timeout: float = 60.0) -> dict[str, Any]:
    req = urllib.request.Request(url, data=data, method=method, headers={**_headers(api_key), **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read())
        except ValueError:
            body = {}
        raise ServerError(str(body.get("code", exc.code)), str(body.get("message", exc.reason)), status=exc.code) from None
    except urllib.error.URLError as exc:
        raise ServerError("unreachable", f"{url}: {exc.reason}") from None


def analyze(path: "str | Path", url: str = DEFAULT_URL, *, segments: bool = False, api_key: str | None = None,
            vad: str | None = None, timeout: float = 600.0) -> dict[str, Any]:
    """``POST /v1/analyze`` a file (streamed from disk): the JSON of ``emomon file`` for it."""
    base, _ = _urls(url)
    p = Path(path)
    query = {"filename": p.name, "segments": "true" if segments else "false", **({"vad": vad} if vad else {})}
    with open(p, "rb") as f:
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(p.stat().st_size)}
        return _http("POST", f"{base}/v1/analyze?{urllib.parse.urlencode(query)}", api_key, f, headers, timeout)


def health(url: str = DEFAULT_URL, *, api_key: str | None = None) -> dict[str, Any]:
    """``GET /v1/health``."""
    return _http("GET", f"{_urls(url)[0]}/v1/health", api_key)


def models(url: str = DEFAULT_URL, *, api_key: str | None = None) -> dict[str, Any]:
    """``GET /v1/models``: the model's labels, sample rate, window, hop and colours."""
    return _http("GET", f"{_urls(url)[0]}/v1/models", api_key)

"""The settings of ``emomon serve``: a frozen :class:`ServeOptions` (defaults from :mod:`emomon.defaults`)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import defaults
from ..errors import EmomonError


@dataclass(frozen=True)
class ServeOptions:
    """How the server runs.

    ``host``/``port``: where it listens (``127.0.0.1``: this machine only); ``model``/``backend``/
    ``compute``: the model every session shares (``compute`` ``auto``: CUDA when present);
    ``api_key``: when set, every route and the WebSocket need it (``Authorization: Bearer KEY``,
    or ``?token=KEY``); ``max_sessions``: concurrent streams (one more is answered ``busy``
    with ``retry_after_s``); ``max_session_s``, ``max_frame_s``, ``idle_timeout_s``: a session's
    wall time, an audio frame's length, the longest silence from a client; ``ring_s``: each
    session's ring (drop-oldest beyond it); ``out_queue``: messages waiting for a client before
    it is closed as not reading; ``max_upload_mb``/``analyses``: ``POST /v1/analyze`` limits;
    ``ping_s``: WebSocket ping interval and timeout; ``shutdown_s``: how long SIGTERM waits for
    sessions to get their last messages; ``max_batch``/``max_wait``: the shared inference
    worker's batching.
    """

    host: str = defaults.SERVE_HOST
    port: int = defaults.SERVE_PORT
    model: str = "default"
    backend: str = "torch"
    compute: str = "auto"
    api_key: str | None = None
    max_sessions: int = defaults.SERVE_MAX_SESSIONS
    retry_after_s: float = defaults.SERVE_RETRY_AFTER_S
    max_session_s: float = defaults.SERVE_MAX_SESSION_S
    max_frame_s: float = defaults.SERVE_MAX_FRAME_S
    idle_timeout_s: float = defaults.SERVE_IDLE_TIMEOUT_S
    ring_s: float = defaults.SERVE_RING_S
    out_queue: int = defaults.SERVE_OUT_QUEUE
    max_upload_mb: float = defaults.SERVE_MAX_UPLOAD_MB
    analyses: int = defaults.SERVE_ANALYSES
    ping_s: float = defaults.SERVE_PING_S
    shutdown_s: float = defaults.SERVE_SHUTDOWN_S
    max_batch: int = defaults.MAX_BATCH
    max_wait: float = defaults.MAX_WAIT_S
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # room for settings of later versions

    def __post_init__(self) -> None:
        if not 0 < int(self.port) < 65536:
            raise EmomonError("--port", f"must be 1..65535 (got {self.port})")
        if int(self.max_sessions) < 1:
            raise EmomonError("--max-sessions", f"must be at least 1 (got {self.max_sessions})")
        for name in ("max_session_s", "max_frame_s", "idle_timeout_s", "ring_s", "max_upload_mb", "ping_s", "shutdown_s"):
            if not float(getattr(self, name)) > 0:
                raise EmomonError(name, f"must be positive (got {getattr(self, name)})")
        if int(self.out_queue) < 1 or int(self.analyses) < 1:
            raise EmomonError("out_queue/analyses", "must be at least 1")
        if self.api_key is not None and not self.api_key.strip():
            raise EmomonError("--api-key", "is empty")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def public(self) -> dict[str, Any]:
        """The settings without the key (for logs and ``/v1/health``)."""
        d = asdict(self)
        d.pop("extra", None)
        d["api_key"] = "set" if self.api_key else None
        return d


def api_key_from(value: str | None) -> str | None:
    """The API key: ``value`` (``--api-key``), else the environment's ``EMOMON_API_KEY``, else ``None``."""
    if value:
        return value
    env = os.environ.get(defaults.SERVE_API_KEY_ENV, "").strip()
    return env or None

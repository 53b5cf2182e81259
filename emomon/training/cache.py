"""An on-disk feature cache, so repeated experiments neither decode nor extract again.

A value is keyed by the audio *content* (SHA-256 of the file's bytes) and an
:class:`ExtractorKey` (name + config JSON + version): change any of them and the value is
recomputed. Values are ``.npy`` files (``np.save``/``np.load`` with ``allow_pickle=False``)
written atomically (:mod:`emomon.atomic`). Layout::

    ROOT/<name>-<extractor digest[:16]>/extractor.json
    ROOT/<name>-<extractor digest[:16]>/<content[:2]>/<content>.npy

ROOT defaults to ``$EMOMON_CACHE`` or ``~/.cache/emomon/features``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..atomic import atomic_path, atomic_write_bytes  # noqa: F401 - atomic_write_bytes re-exported

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$EMOMON_CACHE`` when set, else ``~/.cache/emomon/features``."""
    env = os.environ.get("EMOMON_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "emomon" / "features"


@dataclass(frozen=True)
class ExtractorKey:
    """What identifies an extractor: ``name``, its JSON-able ``config`` and a ``version``."""

    name: str
    config: dict[str, Any] = field(default_factory=dict)
    version: str = "1"

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "config": self.config, "version": self.version}, sort_keys=True, default=str)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @property
    def dirname(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.name)
        return f"{safe}-{self.digest[:16]}"


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class FeatureCache:
    """Feature arrays on disk keyed by (audio content, extractor). ``enabled=False`` stores nothing."""

    def __init__(self, root: str | Path | None = None, enabled: bool = True) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.enabled = enabled
        self._digests: dict[tuple[str, int, int], str] = {}
        self.hits = 0
        self.misses = 0

    def content_digest(self, path: str | Path) -> str:
        """SHA-256 of the file, memoised per (path, size, mtime) within this process."""
        st = os.stat(path)
        key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
        d = self._digests.get(key)
        if d is None:
            d = self._digests[key] = file_digest(path)
        return d

    def path_for(self, audio: str | Path, extractor: ExtractorKey) -> Path:
        digest = self.content_digest(audio)
        return self.root / extractor.dirname / digest[:2] / f"{digest}.npy"

    def get(self, audio: str | Path, extractor: ExtractorKey) -> np.ndarray | None:
        """The cached array, or ``None`` when absent (or unreadable: then it is recomputed)."""
        if not self.enabled:
            return None
        p = self.path_for(audio, extractor)
        if not p.is_file():
            return None
        try:
            return np.load(p, allow_pickle=False)
        except (OSError, ValueError) as exc:
            log.warning("cache entry %s unreadable (%s); recomputing", p, exc)
            return None

    def put(self, audio: str | Path, extractor: ExtractorKey, value: np.ndarray) -> None:
        """Store ``value`` atomically."""
        if not self.enabled:
            return
        p = self.path_for(audio, extractor)
        p.parent.mkdir(parents=True, exist_ok=True)
        meta = p.parent.parent / "extractor.json"
        if not meta.exists():
            atomic_write_bytes(meta, extractor.to_json().encode())
        with atomic_path(p) as tmp, open(tmp, "wb") as f:
            np.save(f, np.asarray(value), allow_pickle=False)

    def get_or_compute(self, audio: str | Path, extractor: ExtractorKey, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached value for ``(audio, extractor)``, computing and storing it on a miss."""
        value = self.get(audio, extractor)
        if value is not None:
            self.hits += 1
            return value
        self.misses += 1
        value = np.asarray(compute())
        self.put(audio, extractor, value)
        return value

"""Atomic file writes: readers (and a rerun after ``kill -9``) see the old file or the new one, never half of one.

Every output emomon writes that a later run or another program reads (model weights and
config, metrics, predictions, figures, fold results, cache entries) goes through
:func:`atomic_path`: the writer fills a temporary file in the target's folder, which is then
flushed to disk, given the usual permissions (``0666`` less the umask: ``0644`` under the
common umask ``022``; :func:`tempfile.mkstemp` alone would leave ``0600``) and renamed over the
target with :func:`os.replace`. When writing fails, the temporary file is removed and the
target is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def current_umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux
    ``/proc/self/status``); elsewhere set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync(path: str) -> None:
    """Flush ``path``'s bytes to disk (so a crash right after the rename cannot leave it empty)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, mode: int | None = None) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on a normal exit it replaces ``path``.

    ``mode``: the file's permissions (default ``0o666`` less the umask). The folder must exist.
    On an exception the temporary file is removed, ``path`` is untouched and the exception
    propagates.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        _fsync(tmp)
        os.chmod(tmp, (0o666 & ~current_umask()) if mode is None else mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_path`)."""
    atomic_write_bytes(path, text.encode("utf-8"))

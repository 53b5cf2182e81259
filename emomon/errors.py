"""Expected errors: the CLI prints them as one line (``emomon: error: <what>: <why>``), no traceback."""

from __future__ import annotations


class EmomonError(Exception):
    """An error a user can act on. ``what`` names the thing, ``why`` the reason."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")
        self.what = what
        self.why = why


class AudioError(EmomonError):
    """A file or buffer that cannot be decoded."""


class ModelError(EmomonError):
    """A model that cannot be found, loaded or used."""


class DeviceError(EmomonError):
    """An audio or compute device that is missing or unusable."""


class DataError(EmomonError):
    """A corpus, manifest or protocol that does not fit."""


class ProfileError(EmomonError):
    """A speaker profile that cannot be used (bad name, another model's, unreadable)."""


class OutputError(EmomonError):
    """An output (a ``--jsonl`` log, a picture, stdout) that cannot be written: a full disk, a
    quota, an I/O error. ``what`` names it, ``why`` says ``cannot write (<the system's reason>)``."""


def cannot_write(what: str, exc: OSError) -> OutputError:
    """The :class:`OutputError` for ``exc`` raised while writing ``what``."""
    return OutputError(what, f"cannot write ({exc.strerror or exc})")


class Terminated(BaseException):
    """SIGTERM arrived while a live session ran (raised in the main thread, like
    ``KeyboardInterrupt`` for Ctrl-C): the session ends cleanly and ``listen`` exits 0; a second
    one while the session closes ends the process at once (exit 143)."""

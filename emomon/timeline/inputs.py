"""What ``emomon file PATH...`` means by its arguments: files, folders (recursive) and globs."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable, Iterator

AUDIO_SUFFIXES = {
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".webm",
    ".mka", ".aiff", ".aif", ".au", ".wma", ".caf",
}


def is_audio(path: Path) -> bool:
    """Whether ``path`` has an audio file suffix."""
    return path.suffix.lower() in AUDIO_SUFFIXES


def _audio_under(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if f.is_file() and is_audio(f))


def expand_inputs(args: Iterable[str]) -> Iterator[tuple[str, str | None]]:
    """Each argument → ``(path, None)`` per audio file, or ``(arg, why)`` when it names nothing.

    Folders are searched recursively and globs expanded (``**`` allowed); both keep only files
    with an audio suffix. A plain file is always tried, whatever its suffix.
    """
    for arg in args:
        p = Path(arg).expanduser()
        if p.is_dir():
            files = _audio_under(p)
            if not files:
                yield arg, "no audio files in this folder"
            for f in files:
                yield str(f), None
        elif p.exists():
            yield str(p), None
        elif glob.has_magic(arg):
            files = []
            for m in sorted(Path(m) for m in glob.glob(os.path.expanduser(arg), recursive=True)):
                files.extend(_audio_under(m) if m.is_dir() else ([m] if is_audio(m) else []))
            if not files:
                yield arg, "no audio file matches this pattern"
            for f in files:
                yield str(f), None
        else:
            yield arg, "no such file"

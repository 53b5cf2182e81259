"""What ``emomon file PATH...`` means by its arguments: files, folders (recursive) and globs.

Each real file is given once, however many arguments, links or hard links reach it (files are
told apart by ``os.stat``'s device and inode). Folders and ``**`` globs follow links to folders,
each real folder at most once and never one the search started in or below (a link to a parent
is a cycle: not followed), so every search ends. A folder that cannot be read is a
``(path, why)`` entry like an argument that names nothing, never skipped silently.
"""

from __future__ import annotations

import fnmatch
import glob
import logging
import os
from pathlib import Path
from typing import Iterable, Iterator

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = {
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".webm",
    ".mka", ".aiff", ".aif", ".au", ".wma", ".caf",
}

Key = tuple[int, int]  # (st_dev, st_ino): one real file or folder
Entry = tuple[str, "str | None"]  # (path, None) or (what, why it names nothing)


def is_audio(path: Path) -> bool:
    """Whether ``path`` has an audio file suffix."""
    return path.suffix.lower() in AUDIO_SUFFIXES


def _key(path: str) -> Key | None:
    """The real file or folder behind ``path`` (links followed); ``None`` when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _order(path: str) -> tuple[str, ...]:
    """Sort key: paths ordered component by component (as :class:`~pathlib.Path` sorts them)."""
    return Path(path).parts


def _unreadable(exc: OSError) -> Entry:
    return str(exc.filename), f"cannot read this folder ({exc.strerror or exc})"


def _ancestors(root: str) -> set[Key]:
    """``root`` and every folder above it (links resolved)."""
    keys = {_key(str(p)) for p in (Path(root).resolve(), *Path(root).resolve().parents)}
    return {k for k in keys if k is not None}


def _walk(root: str, problems: list[Entry]) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(root)`` following links to folders, each real folder once and never one above
    ``root`` (sorted names).

    A folder that cannot be listed is added to ``problems`` (and logged).
    """
    seen = _ancestors(root)  # a link back to the root or above it is a cycle: never followed

    def onerror(exc: OSError) -> None:
        log.debug("cannot read %s: %s", exc.filename, exc.strerror)
        problems.append(_unreadable(exc))

    for top, dirs, files in os.walk(root, onerror=onerror, followlinks=True):
        keep = []
        for d in sorted(dirs):
            k = _key(os.path.join(top, d))
            if k is None or k not in seen:  # a broken link: os.walk reports it or skips it
                if k is not None:
                    seen.add(k)
                keep.append(d)
            else:
                log.debug("not following %s again (a folder already searched)", os.path.join(top, d))
        dirs[:] = keep
        yield top, dirs, sorted(files)


def _audio_under(folder: str, problems: list[Entry]) -> list[str]:
    """The audio files under ``folder``, recursively, sorted; unreadable folders into ``problems``."""
    found = [os.path.join(top, f) for top, _, files in _walk(folder, problems) for f in files]
    return sorted((f for f in found if is_audio(Path(f)) and os.path.isfile(f)), key=_order)


def _match(parts: list[str], pats: list[str]) -> bool:
    """Whether path components ``parts`` match pattern components ``pats`` (``**``: any number
    of folders; wildcards do not match names starting with ``.``, as in :mod:`glob`)."""
    if not pats:
        return not parts
    if pats[0] == "**":
        return any(_match(parts[i:], pats[1:]) for i in range(len(parts) + 1)
                   if not any(p.startswith(".") for p in parts[:i]))
    if not parts:
        return False
    if parts[0].startswith(".") and glob.has_magic(pats[0]) and not pats[0].startswith("."):
        return False
    return fnmatch.fnmatchcase(parts[0], pats[0]) and _match(parts[1:], pats[1:])


def _split_pattern(pattern: str) -> tuple[str, list[str]]:
    """``a/b/**/*.flac`` → (``a/b``, ``["**", "*.flac"]``): the folder before the first wildcard
    and the pattern's components after it."""
    parts = pattern.split(os.sep)
    i = next(i for i, p in enumerate(parts) if glob.has_magic(p))
    root = os.sep.join(parts[:i]) or (os.sep if pattern.startswith(os.sep) else "")
    return root, [p for p in parts[i:] if p]


def _recursive_glob(pattern: str, problems: list[Entry]) -> list[str]:
    """What ``glob.glob(pattern, recursive=True)`` matches, found without following a link to a
    folder already searched (so a link cycle ends)."""
    root, pats = _split_pattern(pattern)
    found = []
    for top, dirs, files in _walk(root or os.curdir, problems):
        rel = os.path.relpath(top, root or os.curdir)
        base = [] if rel == os.curdir else rel.split(os.sep)
        if _match(base, pats) and (base or root):  # glob's "x/**" names x/ itself too
            found.append(top if root else rel)
        for name in files:
            if _match([*base, name], pats):
                found.append(os.path.join(top, name) if root else os.path.join(*base, name))
    return sorted(found, key=_order)


def _glob_files(pattern: str, problems: list[Entry]) -> list[str]:
    """The audio files a glob names: matching files with an audio suffix, and the audio under
    matching folders."""
    pattern = os.path.expanduser(pattern)
    if "**" in pattern:
        matches = _recursive_glob(pattern, problems)
    else:  # every wildcard matches one level: no link can make it loop
        matches = sorted(glob.glob(pattern), key=_order)
    files: list[str] = []
    searched: tuple[str, ...] | None = None  # the last folder expanded (sorted: its contents follow it)
    for m in matches:
        parts = _order(m)
        if searched is not None and parts[:len(searched)] == searched:
            continue  # already found under that folder
        if os.path.isdir(m):
            searched = parts
            files.extend(_audio_under(m, problems))
        elif is_audio(Path(m)) and os.path.isfile(m):
            files.append(m)
    return files


def _expand_one(arg: str) -> tuple[list[str], list[Entry]]:
    """One argument → its files and its problems (``(what, why)``)."""
    problems: list[Entry] = []
    p = Path(arg).expanduser()
    if p.is_dir():
        files = _audio_under(str(p), problems)
        if not files and not problems:
            problems.append((arg, "no audio files in this folder"))
        return files, problems
    if p.exists():
        return [str(p)], problems
    if glob.has_magic(arg):
        files = _glob_files(arg, problems)
        if not files and not problems:
            problems.append((arg, "no audio file matches this pattern"))
        return files, problems
    return [], [(arg, "no such file")]


def expand_inputs(args: Iterable[str]) -> Iterator[Entry]:
    """Each argument → ``(path, None)`` per audio file, or ``(what, why)`` for an argument that
    names nothing or a folder that cannot be read.

    Folders are searched recursively and globs expanded (``**`` allowed); both keep only files
    with an audio suffix. A plain file is always tried, whatever its suffix. Each real file is
    yielded once (the first path that reaches it), and each real folder searched at most once
    per argument, links to folders included, so link cycles end.
    """
    seen: set[Key] = set()
    reported: set[Entry] = set()
    for arg in args:
        files, problems = _expand_one(arg)
        for f in files:
            k = _key(f)
            if k is not None and k in seen:
                log.debug("%s: already listed (the same file as an earlier path)", f)
                continue
            if k is not None:
                seen.add(k)
            yield f, None
        for what, why in problems:
            if (what, why) not in reported:
                reported.add((what, why))
                yield what, why

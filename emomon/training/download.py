"""Download and unpack a corpus archive (``emomon data download ravdess``), stdlib only.

The download goes to ``DEST/<archive>.partial``; when that file exists a later run resumes it
with an HTTP ``Range`` request, or refuses (telling the user to remove it or pass ``restart``)
when the server ignores ranges. The finished file is checked against the expected size and MD5
before it is unpacked (:mod:`zipfile`, every member checked against path traversal); existing
files are never overwritten with different content. A marker file records a finished unpack so
a second run skips the work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from ..atomic import atomic_write_text
from ..errors import DataError

log = logging.getLogger(__name__)

CHUNK = 1 << 16
TIMEOUT_S = 60.0
USER_AGENT = "emomon-download/1 (+python urllib)"
MARKER = ".emomon-unpacked.json"


@dataclass(frozen=True)
class ArchiveSpec:
    """A downloadable archive: where it is and what it must be (size in bytes, MD5 hex)."""

    name: str
    url: str
    size: int | None
    md5: str | None
    filename: str
    source: str = ""
    license: str = ""


RAVDESS_SPEECH = ArchiveSpec(
    name="ravdess",
    url="https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip",
    # The values Zenodo publishes for this file in record 1188976 (override with --size/--md5 for a mirror).
    size=208468073,
    md5="bc696df654c87fed845eb13823edef8a",
    filename="Audio_Speech_Actors_01-24.zip",
    source="https://zenodo.org/records/1188976 (Livingstone & Russo 2018, doi:10.5281/zenodo.1188976)",
    license="CC BY-NC-SA 4.0",
)
ARCHIVES: dict[str, ArchiveSpec] = {RAVDESS_SPEECH.name: RAVDESS_SPEECH}


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download_archive` did: the folder, files unpacked, and whether it was skipped."""

    dest: Path
    files: int
    downloaded_bytes: int
    skipped: bool
    resumed: bool


def archive_spec(name: str, url: str | None = None, md5: str | None = None, size: int | None = None) -> ArchiveSpec:
    """The registered archive ``name`` with optional mirror overrides (``size=0`` disables the size check)."""
    try:
        spec = ARCHIVES[name.lower()]
    except KeyError:
        raise DataError(name, f"nothing to download by that name (known: {', '.join(ARCHIVES)})") from None
    if url:
        spec = replace(spec, url=url, filename=spec.filename)
    if md5 is not None:
        spec = replace(spec, md5=md5.strip().lower() or None)
    if size is not None:
        spec = replace(spec, size=size if size > 0 else None)
    return spec


def _progress(total: int | None, initial: int, enabled: bool, desc: str):  # noqa: ANN202
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                file=sys.stderr, disable=not enabled, leave=True)


def file_md5(path: Path, progress: bool = False) -> str:
    """MD5 hex digest of ``path`` (with a progress bar on stderr when ``progress``)."""
    h = hashlib.md5()  # noqa: S324 - integrity check against a published value, not security
    with open(path, "rb") as f, _progress(path.stat().st_size, 0, progress, "checking") as bar:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            bar.update(len(chunk))
    return h.hexdigest()


def _open(url: str, start: int) -> tuple[object, int | None, bool]:
    """Open ``url`` from byte ``start``: ``(response, total size or None, resumed?)``."""
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if start > 0:
        req.add_header("Range", f"bytes={start}-")
    try:
        resp = urllib.request.urlopen(req, timeout=TIMEOUT_S)  # noqa: S310 - http(s) URL given by the user
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start > 0:
            raise DataError(url, f"the server refuses to resume at byte {start} (HTTP 416); remove the partial file or pass --restart") from None
        raise DataError(url, f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(url, f"cannot connect ({reason})") from None
    status = getattr(resp, "status", 200)
    length = resp.headers.get("Content-Length")
    if start > 0:
        if status != 206:
            resp.close()
            return resp, None, False
        crange = resp.headers.get("Content-Range", "")  # bytes a-b/total
        try:
            first = int(crange.split()[1].split("-")[0])
            total_s = crange.rsplit("/", 1)[1]
            total = int(total_s) if total_s != "*" else None
        except (IndexError, ValueError):
            resp.close()
            raise DataError(url, f"bad Content-Range {crange!r} in a resumed download") from None
        if first != start:
            resp.close()
            raise DataError(url, f"the server resumed at byte {first}, not {start}")
        return resp, total, True
    return resp, int(length) if length and length.isdigit() else None, False


def fetch(spec: ArchiveSpec, partial: Path, *, restart: bool = False, progress: bool = True) -> tuple[int, bool]:
    """Download ``spec.url`` into ``partial`` (resuming it when possible): ``(bytes fetched, resumed?)``.

    Raises :class:`DataError` when the server cannot resume an existing partial file (unless
    ``restart``), when the server's size differs from ``spec.size``, or on network errors.
    """
    if restart and partial.exists():
        partial.unlink()
    start = partial.stat().st_size if partial.exists() else 0
    if spec.size is not None and start > spec.size:
        raise DataError(str(partial), f"partial file is larger ({start} bytes) than the archive ({spec.size}); remove it or pass --restart")
    if spec.size is not None and start == spec.size:
        log.info("%s: already complete, checking it", partial)
        return 0, False
    resp, total, resumed = _open(spec.url, start)
    if start > 0 and not resumed:
        raise DataError(
            str(partial),
            "a partial download exists but the server does not support resuming (no HTTP Range); "
            "remove it or pass --restart to download from the beginning",
        )
    fetched = 0
    with resp:  # type: ignore[attr-defined]
        # ``total`` is the whole file's size (Content-Length of a 200, the /total of a 206).
        if spec.size is not None and total is not None and total != spec.size:
            raise DataError(spec.url, f"the server's file has {total} bytes, expected {spec.size} (a different file? use --size/--md5 for a mirror)")
        expected_total = spec.size or total
        with open(partial, "ab" if resumed else "wb") as out, _progress(expected_total, start, progress, spec.filename) as bar:
            while True:
                try:
                    chunk = resp.read(CHUNK)  # type: ignore[attr-defined]
                except (OSError, urllib.error.URLError) as exc:
                    raise DataError(spec.url, f"download interrupted after {start + fetched} bytes ({exc}); run again to resume") from None
                if not chunk:
                    break
                out.write(chunk)
                fetched += len(chunk)
                bar.update(len(chunk))
    return fetched, resumed


def verify(spec: ArchiveSpec, path: Path, progress: bool = True) -> None:
    """Check size and MD5 of ``path``; :class:`DataError` (the file is kept) when they differ."""
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        raise DataError(str(path), f"size {size} bytes, expected {spec.size}; run again to resume, or remove it / pass --restart")
    if spec.md5:
        got = file_md5(path, progress)
        if got != spec.md5.lower():
            raise DataError(
                str(path),
                f"MD5 {got} does not match the expected {spec.md5}; nothing was unpacked; "
                "remove it or pass --restart to download again (or --md5 for a mirror's file)",
            )


def _safe_member(dest: Path, name: str) -> Path | None:
    """Where zip member ``name`` goes under ``dest`` (``None`` for a directory entry); raises on traversal."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise DataError(name, "unsafe path in the archive (absolute or '..'); refusing to unpack")
    if name.endswith("/"):
        return None
    target = (dest / Path(*pure.parts)).resolve()
    if not target.is_relative_to(dest.resolve()):
        raise DataError(name, "unsafe path in the archive (escapes the destination); refusing to unpack")
    return target


def unpack(archive: Path, dest: Path, progress: bool = True) -> int:
    """Extract ``archive`` into ``dest``; returns the number of files written or already identical.

    Every member is checked before anything is written. A file that already exists with the
    same size is left alone; one with a different size stops the unpack (no silent overwrite).
    Symbolic links in the archive are refused.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise DataError(str(archive), f"not a zip archive ({exc})") from None
    with zf:
        plan: list[tuple[zipfile.ZipInfo, Path]] = []
        for info in zf.infolist():
            target = _safe_member(dest, info.filename)
            if target is None:
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise DataError(info.filename, "symbolic link in the archive; refusing to unpack")
            if target.exists() and (not target.is_file() or target.stat().st_size != info.file_size):
                raise DataError(str(target), "already exists with different content; move it away first")
            plan.append((info, target))
        from tqdm import tqdm

        n = 0
        for info, target in tqdm(plan, desc="unpacking", unit="file", file=sys.stderr, disable=not progress):
            n += 1
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            with zf.open(info) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
            os.replace(tmp, target)
    return n


def read_marker(dest: Path) -> dict | None:
    try:
        return json.loads((dest / MARKER).read_text())
    except (OSError, ValueError):
        return None


def download_archive(
    spec: ArchiveSpec,
    dest: str | Path,
    *,
    restart: bool = False,
    keep_archive: bool = False,
    progress: bool = True,
) -> DownloadResult:
    """Download, verify and unpack ``spec`` into ``dest`` (skipped when already unpacked there).

    The archive is kept next to the files as ``dest/<filename>`` when ``keep_archive``, else
    removed after a successful unpack. Raises :class:`DataError` with a one-line reason.
    """
    dest = Path(dest).expanduser()
    if dest.exists() and not dest.is_dir():
        raise DataError(str(dest), "exists and is not a directory")
    marker = read_marker(dest) if dest.is_dir() else None
    if marker and marker.get("archive") == spec.filename and (not spec.md5 or marker.get("md5") == spec.md5):
        log.info("%s: %s already unpacked", dest, spec.filename)
        return DownloadResult(dest=dest, files=int(marker.get("files", 0)), downloaded_bytes=0, skipped=True, resumed=False)
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / spec.filename
    fetched, resumed = 0, False
    if archive.is_file() and not restart:
        log.info("%s: using the archive already downloaded", archive)
        verify(spec, archive, progress)
    else:
        partial = dest / (spec.filename + ".partial")
        fetched, resumed = fetch(spec, partial, restart=restart, progress=progress)
        verify(spec, partial, progress)
        os.replace(partial, archive)
    files = unpack(archive, dest, progress)
    atomic_write_text(dest / MARKER, json.dumps({"archive": spec.filename, "md5": spec.md5, "url": spec.url, "files": files}) + "\n")
    if not keep_archive:
        archive.unlink()
    return DownloadResult(dest=dest, files=files, downloaded_bytes=fetched, skipped=False, resumed=resumed)


def download(name: str, dest: str | Path, *, url: str | None = None, md5: str | None = None, size: int | None = None,
             restart: bool = False, keep_archive: bool = False, progress: bool = True) -> DownloadResult:
    """``emomon data download NAME``: :func:`download_archive` of a registered archive with overrides."""
    return download_archive(archive_spec(name, url=url, md5=md5, size=size), dest, restart=restart, keep_archive=keep_archive, progress=progress)

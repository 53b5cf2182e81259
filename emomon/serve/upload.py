"""``POST /v1/analyze``: an uploaded file, streamed to disk (bounded), analysed like ``emomon file``.

The body is either the file itself (any content type but multipart; ``?filename=`` names it)
or ``multipart/form-data`` with the file in the field ``file``. Either way it is written to a
temporary file as it arrives and refused (:class:`UploadTooLarge`) as soon as it passes the
limit, whatever its declared length; the file is deleted after the analysis.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator

from ..records import FileResult

if TYPE_CHECKING:
    from starlette.requests import Request

    from ..models.base import EmotionModel
    from ..timeline.analyze import FileOptions

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class UploadTooLarge(Exception):
    """The upload passed the limit (bytes)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload is larger than the limit of {limit / 2**20:.0f} MiB")
        self.limit = limit


class BadUpload(Exception):
    """The request holds no file."""


async def bounded(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """The chunks of ``stream``; :class:`UploadTooLarge` once more than ``limit`` bytes came."""
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise UploadTooLarge(limit)
        yield chunk


def _suffix(name: str) -> str:
    suffix = Path(name).suffix
    return suffix if 0 < len(suffix) <= 8 and suffix[1:].isalnum() else ""


async def receive_upload(request: "Request", limit: int, directory: str | None = None) -> tuple[Path, str]:
    """Write the uploaded file to a temporary file; ``(path, the client's name for it)``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise UploadTooLarge(limit)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        return await _multipart(request, limit, directory)
    name = request.query_params.get("filename") or "upload"
    fd, tmp = tempfile.mkstemp(prefix="emomon-upload-", suffix=_suffix(name), dir=directory)
    path = Path(tmp)
    size = 0
    try:
        with open(fd, "wb") as out:
            async for chunk in bounded(request.stream(), limit):
                out.write(chunk)
                size += len(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        raise BadUpload("the request body is empty: send the file (or multipart/form-data with a field 'file')")
    return path, name


async def _multipart(request: "Request", limit: int, directory: str | None) -> tuple[Path, str]:
    """The field ``file`` of a multipart body (spooled to disk by the parser, then moved to a named file)."""
    from starlette.datastructures import UploadFile
    from starlette.formparsers import MultiPartParser

    form = await MultiPartParser(request.headers, bounded(request.stream(), limit), max_files=1, max_fields=16).parse()
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            upload = next((v for v in form.values() if isinstance(v, UploadFile)), None)
        if upload is None:
            raise BadUpload("the multipart body holds no file (send it in the field 'file')")
        name = upload.filename or "upload"
        fd, tmp = tempfile.mkstemp(prefix="emomon-upload-", suffix=_suffix(name), dir=directory)
        with open(fd, "wb") as out:
            upload.file.seek(0)
            shutil.copyfileobj(upload.file, out, CHUNK)
        return Path(tmp), name
    finally:
        await form.close()


def analyze_upload(path: Path, name: str, model: "EmotionModel", options: "FileOptions", segments: bool) -> tuple[int, dict[str, Any]]:
    """Analyse ``path`` (named ``name`` in the result); ``(HTTP status, JSON)``: the same object
    as ``emomon file --format json`` (its ``segments`` left out unless asked for), or 422 with
    an error for a file that is not audio."""
    from ..timeline import analyze_files

    result: FileResult = next(iter(analyze_files([str(path)], model, options=options)))
    result = replace(result, path=name)
    if result.error is not None:
        why = result.error.replace(str(path), name)
        return 422, {"type": "error", "code": "bad_audio", "message": why if why.startswith(name) else f"{name}: {why}"}
    d = result.to_dict()
    if not segments:
        d.pop("segments", None)
    return 200, d

"""``emomon data download``: a local HTTP server (127.0.0.1, with or without Range) serves a tiny zip."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emomon.errors import DataError
from emomon.training.corpora import read_ravdess
from emomon.training.download import MARKER, RAVDESS_SPEECH, archive_spec, download, download_archive, unpack

NAMES = ["Actor_01/03-01-01-01-01-01-01.wav", "Actor_01/03-01-05-02-01-01-01.wav", "Actor_02/03-01-03-01-02-01-02.wav"]


def make_zip(extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i, name in enumerate(NAMES):
            wav = io.BytesIO()
            sf.write(wav, (0.1 * np.sin(np.arange(800) * 0.05 * (i + 1))).astype(np.float32), 16000, format="WAV")
            zf.writestr(name, wav.getvalue())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


class Server:
    """A one-file HTTP server on 127.0.0.1; ``ranges`` toggles HTTP Range support."""

    def __init__(self, payload: bytes, ranges: bool = True) -> None:
        self.payload = payload
        self.ranges = ranges
        self.requests: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def do_GET(self) -> None:  # noqa: N802
                rng = self.headers.get("Range")
                outer.requests.append(rng)
                data = outer.payload
                if self.path != "/archive.zip":
                    self.send_error(404)
                    return
                if rng and outer.ranges:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    body = data[start:]
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    body = data
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/archive.zip"

    def __enter__(self) -> "Server":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.httpd.shutdown()
        self.httpd.server_close()


def spec_for(payload: bytes, url: str, md5: str | None = None):  # noqa: ANN201
    return archive_spec("ravdess", url=url, md5=md5 or hashlib.md5(payload).hexdigest(), size=len(payload))


def test_published_values_are_the_defaults() -> None:
    assert RAVDESS_SPEECH.size == 208468073
    assert RAVDESS_SPEECH.md5 == "bc696df654c87fed845eb13823edef8a"
    assert RAVDESS_SPEECH.url.endswith("/records/1188976/files/Audio_Speech_Actors_01-24.zip")
    over = archive_spec("ravdess", url="http://mirror/x.zip", md5="ABC", size=0)
    assert (over.url, over.md5, over.size) == ("http://mirror/x.zip", "abc", None)
    with pytest.raises(DataError):
        archive_spec("nope")


def test_full_download_unpacks_and_skips_second_time(tmp_path: Path) -> None:
    payload = make_zip()
    with Server(payload) as srv:
        res = download_archive(spec_for(payload, srv.url), tmp_path / "rav", progress=False)
        assert not res.skipped and res.files == len(NAMES) and res.downloaded_bytes == len(payload)
        assert srv.requests == [None]
        utts = read_ravdess(tmp_path / "rav")
        assert sorted(Path(u.path).relative_to(tmp_path / "rav").as_posix() for u in utts) == sorted(NAMES)
        assert (tmp_path / "rav" / MARKER).is_file()
        assert not (tmp_path / "rav" / RAVDESS_SPEECH.filename).exists()  # archive removed by default
        again = download_archive(spec_for(payload, srv.url), tmp_path / "rav", progress=False)
        assert again.skipped and len(srv.requests) == 1


def test_resume_after_truncated_partial(tmp_path: Path) -> None:
    payload = make_zip()
    dest = tmp_path / "rav"
    dest.mkdir()
    cut = len(payload) // 3
    (dest / (RAVDESS_SPEECH.filename + ".partial")).write_bytes(payload[:cut])
    with Server(payload, ranges=True) as srv:
        res = download_archive(spec_for(payload, srv.url), dest, progress=False, keep_archive=True)
        assert srv.requests == [f"bytes={cut}-"]
    assert res.resumed and res.downloaded_bytes == len(payload) - cut
    assert (dest / RAVDESS_SPEECH.filename).read_bytes() == payload
    assert not (dest / (RAVDESS_SPEECH.filename + ".partial")).exists()
    assert len(read_ravdess(dest)) == len(NAMES)


def test_server_without_range_refuses_then_restart_works(tmp_path: Path) -> None:
    payload = make_zip()
    dest = tmp_path / "rav"
    dest.mkdir()
    partial = dest / (RAVDESS_SPEECH.filename + ".partial")
    partial.write_bytes(payload[:100])
    with Server(payload, ranges=False) as srv:
        with pytest.raises(DataError, match="does not support resuming.*--restart"):
            download_archive(spec_for(payload, srv.url), dest, progress=False)
        assert partial.read_bytes() == payload[:100]  # the partial file is left as it was
        res = download_archive(spec_for(payload, srv.url), dest, progress=False, restart=True)
    assert res.files == len(NAMES) and not res.resumed


def _users_clip(dest: Path, content: bytes) -> Path:
    """A file of the user's own in ``dest`` where the archive has one of its clips."""
    (dest / "Actor_01").mkdir(parents=True)
    mine = dest / "Actor_01" / "03-01-01-01-01-01-01.wav"
    mine.write_bytes(content)
    return mine


def test_bad_checksum_refused_and_user_files_kept(tmp_path: Path) -> None:
    payload = make_zip()
    dest = tmp_path / "rav"
    mine = _users_clip(dest, b"the user's own file")
    notes = dest / "notes.txt"
    notes.write_text("keep me")
    with Server(payload) as srv:
        with pytest.raises(DataError, match="MD5 .* does not match"):
            download_archive(spec_for(payload, srv.url, md5="0" * 32), dest, progress=False)
    assert mine.read_bytes() == b"the user's own file" and notes.read_text() == "keep me"
    assert not (dest / "Actor_02").exists() and not (dest / MARKER).exists()
    assert (dest / (RAVDESS_SPEECH.filename + ".partial")).stat().st_size == len(payload)


def test_wrong_size_refused(tmp_path: Path) -> None:
    payload = make_zip()
    with Server(payload) as srv:
        spec = archive_spec("ravdess", url=srv.url, md5=None, size=len(payload) + 5)
        with pytest.raises(DataError, match="expected"):
            download_archive(spec, tmp_path / "d", progress=False)


def test_existing_different_file_not_overwritten(tmp_path: Path) -> None:
    payload = make_zip()
    dest = tmp_path / "rav"
    mine = _users_clip(dest, b"different")
    with Server(payload) as srv:
        with pytest.raises(DataError, match="already exists"):
            download_archive(spec_for(payload, srv.url), dest, progress=False)
    assert mine.read_bytes() == b"different"


@pytest.mark.parametrize("evil", ["../evil.wav", "/abs/evil.wav", "Actor_01/../../evil.wav"])
def test_path_traversal_refused(tmp_path: Path, evil: str) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({evil: b"x"}))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(DataError, match="unsafe path"):
        unpack(archive, dest, progress=False)
    assert not (tmp_path / "evil.wav").exists()
    assert list(dest.iterdir()) == []  # nothing written before the check


def test_connection_refused_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot connect|HTTP"):
        download("ravdess", tmp_path / "d", url="http://127.0.0.1:9/none.zip", progress=False)

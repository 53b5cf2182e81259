"""Path expansion (``emomon file PATH...``): each real file once, link cycles end, unreadable
folders reported."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from conftest import SR, synth_speechlike
from emomon.cli import main
from emomon.timeline.inputs import expand_inputs


def _clip(path: Path, seconds: float = 0.5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, synth_speechlike(seconds), SR)
    return path


@pytest.fixture
def loopdir(tmp_path: Path) -> Path:
    """``top/loopdir`` with two clips, a link to its parent (a cycle), and ``top/other/o.wav``."""
    top = tmp_path / "top"
    d = top / "loopdir"
    _clip(d / "a.wav")
    _clip(d / "sub" / "b.flac")
    _clip(top / "other" / "o.wav")
    (d / "up").symlink_to("..")
    return d


def _paths(args: list[str]) -> list[str]:
    entries = list(expand_inputs(args))
    assert all(why is None for _, why in entries), entries
    return [p for p, _ in entries]


def test_a_glob_through_a_link_to_the_parent_gives_each_file_once(loopdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(loopdir.parent)
    assert _paths(["loopdir/**/*.flac"]) == ["loopdir/sub/b.flac"]
    assert _paths(["loopdir/**/*.wav"]) == ["loopdir/a.wav"]  # never loopdir/up/loopdir/a.wav, nor up/other
    assert _paths(["loopdir/**"]) == ["loopdir/a.wav", "loopdir/sub/b.flac"]
    assert _paths(["loopdir"]) == ["loopdir/a.wav", "loopdir/sub/b.flac"]


def test_three_cycle_links_end(tmp_path: Path) -> None:
    """The issue's case: three links back up the tree made the glob run for ever."""
    d = tmp_path / "loopdir"
    _clip(d / "a.flac")
    _clip(d / "sub" / "b.flac")
    (d / "up").symlink_to("..")
    (d / "sub" / "up2").symlink_to("..")
    (d / "sub" / "up3").symlink_to("../..")
    code = ("import json, sys; from emomon.timeline.inputs import expand_inputs; "
            "print(json.dumps(list(expand_inputs(sys.argv[1:]))))")
    p = subprocess.run([sys.executable, "-c", code, "loopdir/**/*.flac", "loopdir/*"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == [["loopdir/a.flac", None], ["loopdir/sub/b.flac", None]]


def test_links_to_other_folders_are_followed_once(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _clip(outside / "x.wav")
    d = tmp_path / "d"
    _clip(d / "a.wav")
    (d / "link1").symlink_to(outside)
    (d / "link2").symlink_to(outside)  # the same real folder again
    assert _paths([str(d)]) == [str(d / "a.wav"), str(d / "link1" / "x.wav")]
    assert _paths([str(d / "**" / "*.wav")]) == [str(d / "a.wav"), str(d / "link1" / "x.wav")]


def test_each_real_file_once_across_arguments_and_links(loopdir: Path) -> None:
    a = loopdir / "a.wav"
    (loopdir.parent / "alias.wav").symlink_to(a)
    os.link(a, loopdir.parent / "hard.wav")
    got = _paths([str(a), str(loopdir), str(loopdir.parent / "alias.wav"), str(loopdir.parent / "hard.wav"), str(a)])
    assert got == [str(a), str(loopdir / "sub" / "b.flac")]


def _as_glob_expands(pattern: str) -> set[str]:
    """What ``glob`` + ``Path.rglob`` give (right where no link loops): matching audio files and
    the audio under matching folders."""
    found = set()
    for m in glob.glob(pattern, recursive=True):
        if os.path.isdir(m):
            found |= {str(f) for f in Path(m).rglob("*") if f.is_file() and f.suffix in (".wav", ".flac")}
        elif m.endswith((".wav", ".flac")):
            found.add(m)
    return {os.path.normpath(f) for f in found}


def test_globs_without_cycles_match_as_glob_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for rel in ("a.wav", "x/b.wav", "x/y/c.flac", "x/y/z/d.wav", ".hidden/e.wav", "x/.f.wav", "x/.g/h.wav"):
        _clip(tmp_path / rel)
    (tmp_path / "x" / "notes.txt").write_text("text")
    monkeypatch.chdir(tmp_path)
    for pattern in ("**/*.wav", "x/**/*.wav", "**/y/*", "x/**", "x/**/", "*/*.wav", "x/*", f"{tmp_path}/**/*.flac", "**"):
        got = _paths([pattern])
        assert len(got) == len(set(got)) and {os.path.normpath(f) for f in got} == _as_glob_expands(pattern), pattern


def test_what_names_nothing_is_said(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert list(expand_inputs([str(tmp_path / "nope.wav"), str(tmp_path / "empty"), str(tmp_path / "*.ogg")])) == [
        (str(tmp_path / "nope.wav"), "no such file"),
        (str(tmp_path / "empty"), "no audio files in this folder"),
        (str(tmp_path / "*.ogg"), "no audio file matches this pattern"),
    ]


def test_an_unreadable_subfolder_is_reported(loopdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Works as root too: the listing itself is made to fail as chmod 000 makes it for a user."""
    locked = loopdir / "sub"
    real_scandir = os.scandir

    def scandir(path="."):  # noqa: ANN001, ANN202
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    for arg in (str(loopdir), str(loopdir / "**" / "*.flac")):
        entries = list(expand_inputs([arg]))
        assert (str(locked), "cannot read this folder (Permission denied)") in entries, arg
        assert (str(loopdir / "a.wav"), None) in entries or arg.endswith(".flac")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="running as root: chmod 000 does not stop root from reading a folder "
                           "(test_an_unreadable_subfolder_is_reported covers it)")
def test_a_chmod_000_subfolder_is_reported(loopdir: Path) -> None:
    locked = loopdir / "sub"
    locked.chmod(0)
    try:
        entries = list(expand_inputs([str(loopdir)]))
    finally:
        locked.chmod(0o755)
    assert entries == [(str(loopdir / "a.wav"), None), (str(locked), "cannot read this folder (Permission denied)")]


def test_file_command_over_a_cycle(capsys: pytest.CaptureFixture[str], loopdir: Path, test_model_dir: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(loopdir.parent)
    code = main(["file", "loopdir/**/*.wav", "loopdir", "--model", str(test_model_dir), "--format", "json", "--vad", "off"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert [json.loads(line)["path"] for line in out.splitlines()] == ["loopdir/a.wav", "loopdir/sub/b.flac"]

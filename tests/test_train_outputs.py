"""Training outputs are written atomically with the usual permissions, the same seed gives the
same metrics, and misnamed corpus files are skipped with a count."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from emomon.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from emomon.training.cli import train
from emomon.training.corpora import read_crema_d, read_emodb, read_folder, read_ravdess, read_savee, read_tess
from test_runner import write_synthetic_ravdess
from test_corpora import tree


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_synthetic_ravdess(tmp_path_factory.mktemp("syn"), speakers=4, reps=2)


@pytest.fixture()
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_follows_the_umask(tmp_path, umask_022):
    atomic_write_text(tmp_path / "a.json", "{}\n")
    assert mode(tmp_path / "a.json") == 0o644 and (tmp_path / "a.json").read_text() == "{}\n"
    os.umask(0o077)
    atomic_write_bytes(tmp_path / "b.bin", b"x")
    assert mode(tmp_path / "b.bin") == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half of the new fi")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
    with pytest.raises(OSError):  # a folder that cannot be written: nothing is left either
        atomic_write_text(tmp_path / "no-such-dir" / "x.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_run_outputs_and_weights_are_0644(tmp_path, data, umask_022):
    out = tmp_path / "out"
    train("baseline", data, out, protocol="kfold-speaker", k=2, compute="cpu", cache=tmp_path / "c", progress=False)
    files = ["metrics.json", "predictions.jsonl", "confusion.png", "model/model.safetensors", "model/config.json",
             "folds/_settings.json", "folds/_final.json", "folds/1.json", "folds/2.json"]
    assert {f: oct(mode(out / f)) for f in files} == {f: oct(0o644) for f in files}
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == []


def test_a_failed_weights_write_leaves_no_weights_file(tmp_path, data, monkeypatch):
    import safetensors.torch

    from emomon.models import load_model

    model = load_model(_trained(tmp_path, data) / "model", device="cpu")

    def broken(state, filename, metadata=None):
        Path(filename).write_bytes(b"\x00" * 10)  # half written, then the disk fills
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    with pytest.raises(OSError):
        model.save(tmp_path / "saved")
    assert list((tmp_path / "saved").iterdir()) == []


def _trained(tmp_path: Path, data: Path) -> Path:
    out = tmp_path / "trained"
    train("baseline", data, out, protocol="kfold-speaker", k=2, compute="cpu", cache=tmp_path / "c", progress=False)
    return out


def test_the_same_seed_gives_the_same_metrics(tmp_path, data):
    runs = []
    for name in ("a", "b"):
        res = train("baseline", data, tmp_path / name, protocol="kfold-speaker", k=2, seed=7, compute="cpu",
                    cache=tmp_path / f"cache-{name}", progress=False, noise="white,pink", snr="10")
        m = {k: v for k, v in res.metrics.items() if k not in ("created", "wall_seconds", "train_seconds", "cpu_ms_per_clip", "cpu_ms_per_window")}
        m["folds"] = [{k: v for k, v in f.items() if k != "train_seconds"} for f in m["folds"]]
        runs.append((m, (tmp_path / name / "predictions.jsonl").read_text()))
    assert runs[0] == runs[1]


# -- misnamed corpus files -------------------------------------------------------------------------
def test_misnamed_ravdess_files_are_counted(tmp_path, caplog):
    root = tree(tmp_path / "r", ["Actor_01/03-01-05-01-01-01-01.wav", "Actor_01/03-01-03-01-01-01-01.wav",
                                 "Actor_01/take 2.wav", "Actor_01/03-01-05-01-01-01.wav", "Actor_01/03-01-99-01-01-01-01.wav",
                                 "Actor_01/03-02-05-01-01-01-01.wav"])
    (root / "Actor_01" / "README.txt").write_text("not a clip")
    with caplog.at_level(logging.INFO, logger="emomon.training.corpora"):
        utts = read_ravdess(root)
    assert len(utts) == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 3 clips: misnamed" in warnings[0] and "03-01-05-01-01-01-07.wav" in warnings[0], warnings
    assert "1 clip of vocal channel song left out" in caplog.text


def test_only_misnamed_ravdess_files_is_an_error_that_counts_them(tmp_path):
    root = tree(tmp_path / "r", ["Actor_01/a.wav", "Actor_01/b.flac"])
    with pytest.raises(Exception, match="2 misnamed audio files skipped"):
        read_ravdess(root)


@pytest.mark.parametrize("reader, good, bad", [
    (read_emodb, "03a01Fa.wav", "03a01.wav"),
    (read_crema_d, "1001_DFA_ANG_XX.wav", "1001_DFA.wav"),
    (read_tess, "OAF_back_angry.wav", "back.wav"),
    (read_savee, "DC_a01.wav", "DC_zz01.wav"),
    (read_folder, "angry/s1/x.wav", "loose.wav"),
])
def test_misnamed_files_of_the_other_readers_are_counted(tmp_path, caplog, reader, good, bad):
    root = tree(tmp_path / "c", [good, bad])
    with caplog.at_level(logging.WARNING, logger="emomon.training.corpora"):
        assert len(reader(root)) == 1
    assert "skipped 1 clip:" in caplog.text and bad in caplog.text, caplog.text

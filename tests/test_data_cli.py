"""``emomon data inspect``: the per-speaker table, on a tiny RAVDESS-named folder and on the real corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer
from typer.testing import CliRunner

from emomon.training.cli_data import SpeakerCounts, format_speaker_table, register, speaker_counts
from emomon.training.corpora import load_corpus

RAVDESS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ravdess-speech"

# actor -> emotion codes of its clips (01 neutral, 02 calm, 05 angry, 08 surprised); actor 11 sorts after 2
CLIPS = {1: ["01", "05", "05"], 2: ["02", "08"], 11: ["01"]}


def write_tiny_ravdess(root: Path) -> Path:
    """RAVDESS-named 10 ms wav files under ``Actor_NN/`` (odd actors male, even female)."""
    for actor, codes in CLIPS.items():
        for rep, code in enumerate(codes, start=1):
            p = root / f"Actor_{actor:02d}" / f"03-01-{code}-01-01-{rep:02d}-{actor:02d}.wav"
            p.parent.mkdir(parents=True, exist_ok=True)
            sf.write(p, np.zeros(160, dtype=np.float32), 16000)
    return root


def app_with_data() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test app"""

    register(app)
    return app


def table_rows(output: str) -> tuple[list[str], dict[str, list[str]]]:
    """The header and the rows (by speaker) of the table under ``clips by speaker:``."""
    lines = output[output.index("clips by speaker:"):].splitlines()[1:]
    header = lines[0].split()
    return header, {cells[0]: cells for cells in (line.split() for line in lines[1:] if line.strip())}


def test_speaker_counts(tmp_path: Path) -> None:
    utts = load_corpus("ravdess", write_tiny_ravdess(tmp_path / "rav"))
    rows = speaker_counts(utts)
    assert rows == [
        SpeakerCounts("ravdess:01", "male", 3, {"neutral": 1, "angry": 2}),
        SpeakerCounts("ravdess:02", "female", 2, {"calm": 1, "surprised": 1}),
        SpeakerCounts("ravdess:11", "male", 1, {"neutral": 1}),
    ]


def test_table_is_aligned() -> None:
    rows = [SpeakerCounts("a:1", "female", 12, {"neutral": 12}), SpeakerCounts("a:2", "unknown", 3, {"angry": 3})]
    lines = format_speaker_table(rows)
    assert [line.split() for line in lines] == [
        ["speaker", "gender", "clips", "neutral", "angry"], ["a:1", "female", "12", "12", "0"], ["a:2", "unknown", "3", "0", "3"]]
    ends = {len(line) for line in lines}
    assert len(ends) == 1  # right-aligned counts: every line ends in the same column
    assert lines[1].index("female") == lines[2].index("unknown") == lines[0].index("gender")


def test_inspect_prints_per_speaker_table(tmp_path: Path) -> None:
    data = write_tiny_ravdess(tmp_path / "rav")
    r = CliRunner().invoke(app_with_data(), ["data", "inspect", str(data)])
    assert r.exit_code == 0, r.output
    assert "ravdess, 6 clips, 3 speakers" in r.output  # the summary lines stay
    assert "emotions: neutral 2, calm 1, angry 2, surprised 1" in r.output and "clips by gender: female 2, male 4" in r.output
    header, rows = table_rows(r.output)
    assert header == ["speaker", "gender", "clips", "neutral", "calm", "angry", "surprised"]
    assert list(rows) == ["ravdess:01", "ravdess:02", "ravdess:11"]
    assert rows["ravdess:01"] == ["ravdess:01", "male", "3", "1", "0", "2", "0"]
    assert rows["ravdess:02"] == ["ravdess:02", "female", "2", "0", "1", "0", "1"]
    assert rows["ravdess:11"] == ["ravdess:11", "male", "1", "1", "0", "0", "0"]


@pytest.mark.skipif(not RAVDESS.is_dir(), reason="no ../shared/data/ravdess-speech")
def test_inspect_real_ravdess() -> None:
    r = CliRunner().invoke(app_with_data(), ["data", "inspect", str(RAVDESS)])
    assert r.exit_code == 0, r.output
    assert "ravdess, 1440 clips, 24 speakers" in r.output
    header, rows = table_rows(r.output)
    assert header == ["speaker", "gender", "clips", "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
    assert list(rows) == [f"ravdess:{a:02d}" for a in range(1, 25)]
    for a in range(1, 25):
        gender = "male" if a % 2 else "female"
        assert rows[f"ravdess:{a:02d}"][1:] == [gender, "60", "4", "8", "8", "8", "8", "8", "8", "8"]

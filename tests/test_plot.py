"""Pictures of timelines (emomon.output.plot): drawn from hand-made records, read back as pixels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emomon.errors import EmomonError
from emomon.labels import EMOTIONS
from emomon.records import FileResult, Segment, WindowRecord
from emomon.output import plot
from emomon.output.plot import (
    DPI,
    PALETTE,
    Spans,
    bin_spans,
    check_plot_format,
    fitting_texts,
    format_time,
    label_runs,
    plot_file,
    plot_windows,
)

LABELS = list(EMOTIONS)
ANGRY = {"neutral": 0.15, "sad": 0.05, "angry": 0.8}
SAD = {"calm": 0.15, "sad": 0.85}


def scores(**kw: float) -> dict[str, float]:
    return {lab: kw.get(lab, 0.0) for lab in LABELS}


def three_part_file(uncertain_sad: bool = False) -> FileResult:
    """Angry 0–10 s, silence 10–20 s, sad 20–30 s."""
    segs = [Segment(0.0, 10.0, "angry", scores(**ANGRY)), Segment(20.0, 30.0, "sad", scores(**SAD), uncertain_sad)]
    return FileResult("talk.wav", 30.0, 20.0, "angry", scores(angry=0.45, sad=0.45, neutral=0.1), segs)


def read_png(path: Path) -> np.ndarray:
    import matplotlib.image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path)[..., :3]


def rgb(hex_color: str) -> np.ndarray:
    from matplotlib.colors import to_rgb

    return np.array(to_rgb(hex_color))


def share(block: np.ndarray, color: np.ndarray, tol: float = 0.03) -> float:
    """Fraction of ``block``'s pixels within ``tol`` of ``color``."""
    return float((np.abs(block - color).max(axis=-1) <= tol).mean())


def column(t: float, x1: float = 30.0) -> int:
    """The pixel column of time ``t`` in the plot area (axes span [0, x1])."""
    return int(round((plot.LEFT_IN + (plot.WIDTH_IN - plot.LEFT_IN - plot.RIGHT_IN) * t / x1) * DPI))


def main_rows(top_in: float = plot.TOP_IN) -> slice:
    """Pixel rows of the upper 60 % of a row's main axes (where 80 % angry / 85 % sad lie)."""
    return slice(int((top_in + 0.05) * DPI), int((top_in + 0.4 * plot.MAIN_IN) * DPI))


def whole_main(top_in: float = plot.TOP_IN) -> slice:
    """Pixel rows of a row's main axes, inside its frame."""
    return slice(int(top_in * DPI) + 2, int((top_in + plot.MAIN_IN) * DPI) - 2)


def assert_three_parts(img: np.ndarray, light_sad: bool = False) -> None:
    rows = main_rows()
    left, middle, right = img[rows, column(1):column(9)], img[:, column(12):column(18)], img[rows, column(21):column(29)]
    assert share(left, rgb(PALETTE["angry"])) > 0.95
    assert share(right, rgb(PALETTE["angry"])) == 0.0
    plot_area = slice(int(plot.TOP_IN * DPI) + 2, int((plot.TOP_IN + plot.MAIN_IN + plot.STRIP_IN) * DPI) - 2)
    assert share(middle[plot_area], np.ones(3)) > 0.99  # no speech: background, strip included
    sad = rgb(PALETTE["sad"])
    if light_sad:
        light = sad + (1 - sad) * plot.LIGHTEN
        assert share(right, light) > 0.4 and share(right, sad) < 0.5
    else:
        assert share(right, sad) > 0.95
    strip = int((plot.TOP_IN + plot.MAIN_IN + plot.STRIP_IN / 2) * DPI)
    assert share(img[strip - 3:strip + 3, column(0.5):column(1.5)], rgb(PALETTE["angry"])) > 0.9


def test_file_plot_shows_angry_silence_sad(tmp_path: Path) -> None:
    out = plot_file(three_part_file(), tmp_path / "talk.png", LABELS)
    assert out == tmp_path / "talk.png"
    img = read_png(out)
    assert img.shape == (440, 1200, 3)
    assert_three_parts(img)


def test_uncertain_segment_is_lighter(tmp_path: Path) -> None:
    img = read_png(plot_file(three_part_file(uncertain_sad=True), tmp_path / "u.png", LABELS))
    assert_three_parts(img, light_sad=True)


def test_windows_plot_blank_without_speech(tmp_path: Path) -> None:
    recs = []
    for i in range(1, 61):
        t = 0.5 * i
        if t <= 10:
            recs.append(WindowRecord(t, "angry", scores(**ANGRY), scores(**ANGRY), 0.9, -20.0))
        elif t <= 20:
            recs.append(WindowRecord(t, None, None, scores(**ANGRY), 0.0, -60.0, reason="no speech"))
        else:
            recs.append(WindowRecord(t, "sad", scores(**SAD), scores(**SAD), 0.9, -20.0))
    img = read_png(plot_windows(recs, tmp_path / "w.png", LABELS))
    assert img.shape == (440, 1200, 3)
    assert_three_parts(img)


def assert_only_message(area: np.ndarray) -> None:
    """No emotion colour (every colour but neutral grey is saturated), only the grey message."""
    assert (area.max(axis=-1) - area.min(axis=-1)).max() < 0.02
    assert share(area, np.ones(3)) < 0.999


def test_no_speech_file_still_gives_a_picture(tmp_path: Path) -> None:
    quiet = FileResult("quiet.wav", 42.0, 0.0, None, None, [], reason="no speech")
    img = read_png(plot_file(quiet, tmp_path / "q.png", LABELS))
    assert img.shape == (440, 1200, 3)
    area = img[whole_main(), column(1, 42):column(41, 42)]
    assert_only_message(area)


def test_no_windows_still_gives_a_picture(tmp_path: Path) -> None:
    img = read_png(plot_windows([], tmp_path / "e.png", LABELS))
    assert img.shape == (440, 1200, 3)
    area = img[whole_main(), column(1):column(29)]
    assert_only_message(area)


def test_streams_get_a_row_each(tmp_path: Path) -> None:
    recs = [WindowRecord(0.5 * i, lab, scores(**s), scores(**s), 0.9, -20.0, stream=name)
            for name, lab, s in (("a", "angry", ANGRY), ("b", "sad", SAD)) for i in range(1, 41)]
    img = read_png(plot_windows(recs, tmp_path / "two.png", LABELS, title="two"))
    height = plot.TOP_IN + 2 * (plot.ROW_TITLE_IN + plot.MAIN_IN + plot.STRIP_IN) + plot.ROW_GAP_IN + plot.BOTTOM_IN
    assert img.shape == (round(height * DPI), 1200, 3)
    first = main_rows(plot.TOP_IN + plot.ROW_TITLE_IN)
    second = main_rows(plot.TOP_IN + 2 * plot.ROW_TITLE_IN + plot.MAIN_IN + plot.STRIP_IN + plot.ROW_GAP_IN)
    cols = slice(column(1, 20), column(19, 20))
    assert share(img[first, cols], rgb(PALETTE["angry"])) > 0.95
    assert share(img[second, cols], rgb(PALETTE["sad"])) > 0.95
    assert share(img[second, cols], rgb(PALETTE["angry"])) == 0.0


def long_file(n: int = 2500, seed: int = 0) -> FileResult:
    rng = np.random.default_rng(seed)
    starts = np.cumsum(rng.uniform(1.0, 4.5, n))
    segs = []
    for s, d in zip(starts, rng.uniform(0.5, 2.5, n)):
        p = rng.dirichlet(np.full(len(LABELS), 0.5))
        sc = dict(zip(LABELS, map(float, p)))
        segs.append(Segment(float(s), float(s + min(d, 0.9)), max(sc, key=sc.get), sc, bool(p.max() < 0.4)))
    return FileResult("long.wav", float(starts[-1] + 2), sum(x.duration for x in segs), "calm", scores(calm=1.0), segs)


def test_thousands_of_segments_draw(tmp_path: Path) -> None:
    result = long_file()
    assert len(result.segments) == 2500 and result.duration > 5000
    img = read_png(plot_file(result, tmp_path / "long.png", LABELS))
    assert img.shape == (440, 1200, 3)
    area = img[whole_main(), column(100, result.duration):column(result.duration - 100, result.duration)]
    assert all(share(area, rgb(c)) > 0.01 for c in PALETTE.values())  # every emotion shows somewhere


def test_strip_texts_only_where_they_fit() -> None:
    n = 2500
    start = np.arange(n) * 2.0
    labels = np.array(["angry", "sad"] * (n // 2), dtype=object)
    spans = Spans(start, start + 2.0, np.zeros((n, len(LABELS))), labels, np.zeros(n, bool))
    runs = label_runs(spans)
    assert len(runs.start) == n  # alternating labels: nothing merges
    assert fitting_texts(runs, 0.0, 2.0 * n, 1090) == []  # 0.4 px each: no text at all
    same = Spans(start, start + 2.0, np.zeros((n, len(LABELS))), np.array(["calm"] * n, dtype=object), np.zeros(n, bool))
    merged = label_runs(same)
    assert (merged.start.tolist(), merged.end.tolist()) == ([0.0], [2.0 * n])
    assert fitting_texts(merged, 0.0, 2.0 * n, 1090) == [(0, "calm")]
    unsure = Spans(np.array([0.0, 50.0]), np.array([50.0, 52.0]), np.zeros((2, 8)),
                   np.array(["fearful", "happy"], dtype=object), np.array([True, False]))
    assert fitting_texts(label_runs(unsure), 0.0, 100.0, 1000) == [(0, "fearful?")]


def test_bins_are_time_weighted() -> None:
    dist = np.zeros((3, len(LABELS)))
    dist[0, LABELS.index("angry")] = dist[1, LABELS.index("sad")] = dist[2, LABELS.index("sad")] = 1.0
    spans = Spans(np.array([0.0, 3.0, 10.5]), np.array([3.0, 4.0, 10.6]), dist,
                  np.array(["angry", "sad", "sad"], dtype=object), np.array([False, True, True]))
    binned = bin_spans(spans, 0.0, 5.0, 3)
    assert binned.start.tolist() == [0.0] and binned.end.tolist() == [5.0]  # 10.5–10.6 is under a fifth of its bin
    assert binned.dist[0, LABELS.index("angry")] == pytest.approx(0.75)
    assert binned.dist[0, LABELS.index("sad")] == pytest.approx(0.25)
    assert binned.label.tolist() == ["angry"] and binned.uncertain.tolist() == [False]


@pytest.mark.parametrize("name", ["x.gif", "x.txt", "x", "x.png.tmp"])
def test_bad_suffix_raises_before_work(tmp_path: Path, name: str) -> None:
    with pytest.raises(EmomonError) as err:
        plot_file(three_part_file(), tmp_path / name, LABELS)
    assert err.value.what == str(tmp_path / name) and ".png" in err.value.why
    with pytest.raises(EmomonError):
        plot_windows([], tmp_path / name, LABELS)
    assert list(tmp_path.iterdir()) == []


def test_good_suffixes_are_accepted() -> None:
    for name in ("a.png", "a.PNG", "a.svg", "a.pdf", "a.jpg", "a.jpeg"):
        check_plot_format(Path(name))


@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".pdf", b"%PDF"), (".jpg", b"\xff\xd8\xff")])
def test_other_formats(tmp_path: Path, suffix: str, magic: bytes) -> None:
    out = plot_file(three_part_file(), tmp_path / f"talk{suffix}", LABELS)
    assert out.read_bytes().startswith(magic)


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "talk.png"
    plot_file(three_part_file(), target, LABELS)
    assert [p.name for p in tmp_path.iterdir()] == ["talk.png"]  # no temporary file left
    before = target.read_bytes()

    def broken_savefig(self, fname, **kwargs) -> None:  # noqa: ANN001
        fname.write(b"\x89PNG half a pic")
        raise RuntimeError("interrupted")

    monkeypatch.setattr("matplotlib.figure.Figure.savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="interrupted"):
        plot_file(three_part_file(), target, LABELS)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["talk.png"]


def test_unwritable_folder_is_an_emomon_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(EmomonError, match="cannot write"):
        plot_file(three_part_file(), tmp_path / "file" / "talk.png", LABELS)


def test_error_result_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EmomonError, match="nothing to plot"):
        plot_file(FileResult("bad.wav", None, 0.0, None, None, error="cannot decode"), tmp_path / "b.png", LABELS)


def test_time_labels() -> None:
    assert format_time(12.5, 30) == "12.5"
    assert format_time(75, 600) == "1:15"
    assert format_time(75, 7200) == "0:01:15"
    assert format_time(5430, 7200) == "1:30:30"


def test_module_import_does_not_load_matplotlib() -> None:
    code = "import sys, emomon.output.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

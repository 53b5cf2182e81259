"""NaN and Inf samples: rejected for whole files (one clear line naming the file), marked and
skipped in a stream (never classified, smoothed or learnt), never NaN in any output, and a screen
that cannot be broken by them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from rich.console import Console

from conftest import SR, synth_speechlike
from emomon.audio import decode_audio, decode_blocks, scan_audio
from emomon.cli import main
from emomon.errors import AudioError
from emomon.labels import EMOTIONS
from emomon.records import WindowRecord, dumps
from emomon.stream import stream_file
from emomon.stream.api import file_monitor
from emomon.stream.monitor import MonitorConfig
from emomon.stream.smoothing import Ema
from emomon.stream.ui import MonitorState, render
from emomon.features.vad import VadOptions


def float_wav(path: Path, x: np.ndarray, rate: int = SR) -> Path:
    """``x (samples,)`` written as a 32-bit float WAV (the format that can hold NaN/Inf)."""
    sf.write(path, np.asarray(x, dtype=np.float32), rate, subtype="FLOAT")
    return path


def speech_with(bad: dict[int, float], seconds: float = 3.0, rate: int = SR) -> np.ndarray:
    """Speech-like audio ``(samples,)`` with ``bad[index] = value`` samples put in."""
    x = synth_speechlike(seconds, sr=rate)
    for i, v in bad.items():
        x[i] = v
    return x


def strict(line: str) -> dict:
    """``json.loads`` that refuses NaN/Infinity (as strict parsers do)."""
    def refuse(name: str) -> None:
        raise ValueError(f"non-strict JSON constant {name}")

    return json.loads(line, parse_constant=refuse)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- the decoder ------------------------------------------------------------------------------
def test_a_file_with_nan_is_rejected_naming_the_file_and_counting(tmp_path):
    rate = 48000  # resampled to 16 kHz: the check is on the file's own samples
    x = np.zeros(2 * rate, dtype=np.float32)
    x[rate : rate + 12] = np.nan
    path = float_wav(tmp_path / "clip.wav", x, rate)
    with pytest.raises(AudioError) as err:
        decode_audio(path, SR)
    assert err.value.what == str(path)
    assert err.value.why == "12 non-finite samples (NaN/Inf), the first at 1.00 s"
    with pytest.raises(AudioError, match="12 non-finite samples"):
        scan_audio(path)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_whole_files_of_nan_or_inf_are_rejected(tmp_path, value):
    path = float_wav(tmp_path / "bad.wav", np.full(SR, value, dtype=np.float32))
    with pytest.raises(AudioError) as err:
        decode_audio(path, SR)
    assert err.value.why == f"{SR} non-finite samples (NaN/Inf), the first at 0.00 s"


def test_one_bad_sample_late_in_a_long_file_no_block_with_it_is_yielded(tmp_path):
    x = speech_with({int(7.3 * SR): np.inf}, seconds=10.0)
    path = float_wav(tmp_path / "late.wav", x)
    blocks = decode_blocks(path, SR, block_seconds=2.0)
    seen = []
    with pytest.raises(AudioError) as err:
        for block in blocks:
            seen.append(block)
    assert err.value.why == "1 non-finite sample (NaN/Inf), at 7.30 s"
    assert seen and all(np.isfinite(b).all() for b in seen)  # the good start came through, nothing bad
    assert sum(len(b) for b in seen) <= int(7.3 * SR)


def test_arrays_are_checked_too_and_keep_passes_them_on(tmp_path):
    x = speech_with({100: np.nan, 200: np.inf})
    with pytest.raises(AudioError, match=r"^audio array: 2 non-finite samples \(NaN/Inf\), the first at 0\.01 s$"):
        decode_audio(x, SR, source_rate=SR)
    kept = np.concatenate(list(decode_blocks(x, SR, source_rate=SR, nonfinite="keep")))
    assert np.isnan(kept[100]) and np.isinf(kept[200]) and np.isfinite(np.delete(kept, [100, 200])).all()
    with pytest.raises(ValueError, match="nonfinite"):
        next(decode_blocks(x, SR, source_rate=SR, nonfinite="zero"))
    np.testing.assert_array_equal(decode_audio(synth_speechlike(1.0), SR, source_rate=SR), synth_speechlike(1.0))


# -- emomon file ------------------------------------------------------------------------------
def test_emomon_file_rejects_nan_with_one_line_and_strict_json(capsys, tmp_path, test_model_dir):
    good = float_wav(tmp_path / "good.wav", synth_speechlike(1.0))
    nan = float_wav(tmp_path / "nan.wav", np.full(SR, np.nan, dtype=np.float32))
    inf = float_wav(tmp_path / "inf.wav", speech_with({SR: np.inf}, seconds=2.0))
    code, out, err = run(capsys, "file", good, nan, inf, "--model", test_model_dir, "-f", "json", "--vad", "off")
    assert code == 1
    lines = [strict(line) for line in out.splitlines()]
    assert lines[0]["label"] in EMOTIONS and all(math.isfinite(v) for v in lines[0]["scores"].values())
    assert lines[1] == {"path": str(nan), "error": f"{SR} non-finite samples (NaN/Inf), the first at 0.00 s"}
    assert lines[2] == {"path": str(inf), "error": "1 non-finite sample (NaN/Inf), at 1.00 s"}
    assert f"emomon: error: {nan}: {SR} non-finite samples (NaN/Inf)" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2


# -- a stream ---------------------------------------------------------------------------------
def _bad_window(rec: WindowRecord, index: int, window: int) -> bool:
    end = round(rec.t * SR)
    return end - window <= index < end


def test_stream_marks_and_skips_windows_with_nonfinite_samples(tmp_path, test_model):
    index = int(1.3 * SR)
    path = float_wav(tmp_path / "inf.wav", speech_with({index: np.inf}))
    recs = list(stream_file(path, test_model, fast=True, vad="off", smoothing=0.5))
    window = round(test_model.config.window * SR)
    bad = [r for r in recs if r.reason == "non-finite samples"]
    assert bad and [r.t for r in bad] == [r.t for r in recs if _bad_window(r, index, window)]
    assert all(r.label is None and r.scores is None and r.compute_ms is None and not r.is_speech for r in bad)
    good = [r for r in recs if r not in bad]
    assert good and all(r.is_speech and r.reason is None for r in good)
    assert any(r.t > bad[-1].t for r in good)  # the stream goes on after them
    for r in recs:
        line = strict(dumps(r.to_dict()))
        assert all(v is not None and math.isfinite(v) for v in line["smoothed"].values())
        assert sum(r.smoothed.values()) == pytest.approx(1.0, abs=1e-6)
        assert math.isfinite(r.level_db)
    # smoothing went on as if the bad windows were not there: the EMA over the classified windows
    ema = Ema(len(EMOTIONS), 0.5)
    for r in good:
        expected = ema.update(np.array([r.scores[k] for k in EMOTIONS]))
        assert [r.smoothed[k] for k in EMOTIONS] == pytest.approx(expected, abs=1e-9)
    assert bad[0].smoothed == recs[recs.index(bad[0]) - 1].smoothed  # a skipped window leaves it as it was


def test_stream_at_another_rate_recovers_after_the_bad_samples(tmp_path, test_model):
    rate = 48000
    path = float_wav(tmp_path / "nan48.wav", speech_with({int(1.1 * rate) + i: np.nan for i in range(5)}, rate=rate), rate)
    recs = list(stream_file(path, test_model, fast=True, vad="off"))
    bad = [r for r in recs if r.reason == "non-finite samples"]
    # resampling spreads NaN over a few ms only: the windows touching 1.1 s, no more
    assert 1 <= len(bad) <= 5 and all(1.1 < r.t < 1.1 + test_model.config.window + 0.26 for r in bad)
    assert recs[-1].is_speech and all(math.isfinite(v) for v in recs[-1].smoothed.values())


def test_skipped_windows_teach_the_speaker_adapter_nothing(tmp_path, test_model):
    index = int(1.3 * SR)
    path = float_wav(tmp_path / "inf.wav", speech_with({index: np.nan}))
    monitor = file_monitor(path, test_model, fast=True, config=MonitorConfig(vad=VadOptions(method="off")))
    jobs = []
    submit = monitor.worker.submit
    monitor.worker.submit = lambda job: (jobs.append(job), submit(job))[1]  # type: ignore[method-assign]
    recs = list(monitor.records())
    marked = [j for j in jobs if j.reason == "non-finite samples"]
    assert marked and all(not j.classify and j.seconds == 0.0 for j in marked)
    assert all(not np.isfinite(j.window.real_samples).all() for j in marked)
    assert all(np.isfinite(j.window.samples).all() for j in jobs if j.classify)
    assert monitor.stats().nonfinite_windows == len(marked) == sum(r.reason == "non-finite samples" for r in recs)
    assert monitor.stats().speech_windows == len(recs) - len(marked)


def test_a_model_answering_nan_is_not_shown_as_an_answer(test_model, monkeypatch):
    real = test_model.predict_proba
    calls = []

    def broken(x):  # the first window of the first batch comes back as NaN
        calls.append(len(x))
        p = np.array(real(x))
        if len(calls) == 1:
            p[0] = np.nan
        return p

    monkeypatch.setattr(test_model, "predict_proba", broken)
    recs = list(stream_file(synth_speechlike(3.0), test_model, source_rate=SR, vad="off", fast=True))
    assert recs[0].reason == "non-finite scores" and recs[0].label is None and recs[0].scores is None
    assert recs[0].smoothed == pytest.approx({k: 1 / 8 for k in EMOTIONS})  # left alone
    assert all(r.is_speech for r in recs[1:]) and recs[1].smoothed == pytest.approx(recs[1].scores)
    assert all(math.isfinite(v) for r in recs for v in r.smoothed.values())


# -- smoothing, records, the screen -------------------------------------------------------------
def test_ema_ignores_nonfinite_and_misshapen_vectors():
    ema = Ema(3, 0.5)
    assert list(ema.update(np.array([np.nan, 0.5, 0.5]))) == pytest.approx([1 / 3] * 3) and not ema.started
    first = ema.update(np.array([0.2, 0.3, 0.5]))
    for poison in (np.array([np.inf, 0.0, 0.0]), np.array([0.1, np.nan, 0.9]), np.array([0.5, 0.5])):
        assert list(ema.update(poison)) == pytest.approx(list(first))
    assert ema.ignored == 4
    assert list(ema.update(np.array([0.4, 0.3, 0.3]))) == pytest.approx([0.3, 0.3, 0.4])


def test_records_never_write_nan():
    scores = {k: float("nan") for k in EMOTIONS}
    rec = WindowRecord(t=1.0, label=None, scores=scores, smoothed=scores, speech=float("nan"), level_db=float("-inf"),
                       latency_ms=float("inf"), reason="non-finite samples")
    d = strict(dumps(rec.to_dict()))
    assert d["level_db"] is None and d["speech"] is None and d["latency_ms"] is None
    assert set(d["scores"].values()) == {None} and set(d["smoothed"].values()) == {None}
    # any other NaN a record might carry (settings, nested lists) is written as null too
    assert strict(dumps({"settings": {"x": float("nan"), "y": [1.0, float("inf")]}})) == {"settings": {"x": None, "y": [1.0, None]}}


def _screen(state: MonitorState) -> str:
    console = Console(record=True, width=120, color_system=None)
    console.print(render(state))
    return console.export_text()


def test_ui_survives_nan_and_shows_skipped_windows():
    state = MonitorState(title="nan test", vad=VadOptions(method="off"))
    nan = {k: float("nan") for k in EMOTIONS}
    state.update(WindowRecord(t=0.5, label="angry", scores=nan, smoothed=nan, speech=1.0, level_db=float("nan")))
    text = _screen(state)  # NaN once crashed here (cannot convert float NaN to integer)
    assert "nan" not in text.lower().replace("nan test", "")
    uniform = {k: 1 / len(EMOTIONS) for k in EMOTIONS}
    state.update(WindowRecord(t=1.0, label=None, scores=None, smoothed=uniform, speech=1.0, level_db=-20.0,
                              reason="non-finite samples"))
    text = _screen(state)
    assert "non-finite samples" in text and "2 (0 without speech, 1 skipped)" in text


def test_the_stream_log_summary_counts_the_skipped_windows(capsys, tmp_path, test_model_dir):
    index = int(1.3 * SR)
    path = float_wav(tmp_path / "inf.wav", speech_with({index: np.inf}))
    log = tmp_path / "s.jsonl"
    code, out, err = run(capsys, "file", path, "--stream", "--fast", "--no-ui", "--model", test_model_dir, "--vad", "off", "--jsonl", log)
    assert code == 0
    lines = [strict(line) for line in log.read_text().splitlines()]
    skipped = sum(1 for r in lines if r.get("reason") == "non-finite samples")
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["nonfinite_windows"] == skipped > 0 and summary["gaps"] == 0
    assert f"{skipped} window{'s' * (skipped != 1)} with NaN/Inf samples skipped" in err

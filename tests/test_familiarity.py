"""The confidence floor: a stream whose answers collapse into one class with small margins says
"uncertain: unfamiliar voice" (stream/familiarity.py, the monitor, the CLI, the UI)."""

import json

import numpy as np
import pytest
from rich.console import Console

from conftest import SR, synth_speechlike
from emomon.cli import main
from emomon.errors import EmomonError
from emomon.labels import EMOTIONS
from emomon.records import WindowRecord
from emomon.stream import stream_file
from emomon.stream.familiarity import UNFAMILIAR, CollapseOptions, CollapseWatch, margin
from emomon.stream.ui import MonitorState, render


def _probs(top: int, p: float, k: int = 8) -> np.ndarray:
    out = np.full(k, (1 - p) / (k - 1))
    out[top] = p
    return out


def test_margin_is_top_minus_second():
    assert margin(np.array([0.1, 0.6, 0.3])) == pytest.approx(0.3)
    assert margin(np.array([1.0])) == 1.0


def test_one_class_with_small_margins_collapses_after_enough_windows():
    w = CollapseWatch(CollapseOptions(span_s=60, share=0.7, margin=0.3, min_windows=10))
    flags = [w.observe(0.5 * (i + 1), _probs(6, 0.3)) for i in range(20)]  # disgust 0.3 vs 0.1: margin 0.2
    assert flags[:9] == [False] * 9 and all(flags[9:])


def test_a_person_who_stays_angry_with_wide_margins_is_not_flagged():
    w = CollapseWatch(CollapseOptions(min_windows=10))
    assert not any(w.observe(0.5 * (i + 1), _probs(4, 0.8)) for i in range(200))


def test_mixed_answers_are_not_collapsed_and_the_share_is_a_strict_bound():
    w = CollapseWatch(CollapseOptions(share=0.7, margin=0.5, min_windows=10))
    tops = [6] * 7 + [1] * 3  # exactly 70 %: not more than the share
    flags = [w.observe(0.5 * (i + 1), _probs(c, 0.3)) for i, c in enumerate(tops)]
    assert not any(flags)
    assert w.observe(5.5, _probs(6, 0.3))  # 8 of 11 > 70 %


def test_the_span_forgets_old_answers():
    w = CollapseWatch(CollapseOptions(span_s=10, min_windows=5, margin=0.5))
    for i in range(20):
        w.observe(0.5 * (i + 1), _probs(6, 0.3))
    assert w.collapsed
    for i in range(30):  # 15 s of varied confident answers push the collapsed ones out of the span
        w.observe(10.0 + 0.5 * (i + 1), _probs(i % 8, 0.9))
    assert not w.collapsed


@pytest.mark.parametrize("bad, name", [(dict(span_s=0), "span_s"), (dict(share=0), "share"), (dict(share=1.5), "share"),
                                       (dict(margin=-0.1), "margin"), (dict(min_windows=0), "min_windows")])
def test_bad_options_name_the_option(bad, name):
    with pytest.raises(EmomonError) as e:
        CollapseOptions(**bad).check()
    assert name in e.value.what


# The energy test model (conftest) answers a quiet 180 Hz tone "angry" by a hair (mean margin ~0.07)
# and a loud 400 Hz one "angry" clearly (~0.68); vad off, so every 0.25 s hop is a speech window.
def _tone(amp: float, f0: float) -> np.ndarray:
    return synth_speechlike(20.0, f0=f0, amp=amp)


def test_stream_marks_a_collapsed_stream_unfamiliar_from_the_thirtieth_window(test_model):
    recs = list(stream_file(_tone(0.15, 180), test_model, fast=True, vad="off", source_rate=SR))
    cautions = [r.caution for r in recs]
    assert cautions[:29] == [None] * 29 and set(cautions[29:]) == {UNFAMILIAR}
    assert all(r.uncertain and r.label == "angry" for r in recs[29:])  # the model's answer is still given
    assert recs[-1].to_dict()["caution"] == UNFAMILIAR


def test_stream_without_the_check_or_with_a_clear_answer_says_nothing(test_model):
    off = list(stream_file(_tone(0.15, 180), test_model, fast=True, vad="off", source_rate=SR, collapse_check=False))
    assert all(r.caution is None and not r.uncertain for r in off)
    clear = list(stream_file(_tone(0.9, 400), test_model, fast=True, vad="off", source_rate=SR))
    assert {r.label for r in clear} == {"angry"} and all(r.caution is None for r in clear)


def test_cli_jsonl_says_unfamiliar_voice_and_the_flag_turns_it_off(capsys, tmp_path, test_model_dir):
    import soundfile as sf

    wav = tmp_path / "flat.wav"
    sf.write(wav, _tone(0.15, 180), SR)
    base = ["file", str(wav), "--stream", "--fast", "--no-ui", "--vad", "off", "--model", str(test_model_dir)]
    assert main(base) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    windows = [r for r in recs if r.get("type") == "window"]
    assert windows[-1]["caution"] == UNFAMILIAR and windows[0]["caution"] is None
    assert main(base + ["--no-collapse-check"]) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(r["caution"] is None for r in recs if r.get("type") == "window")


def test_cli_no_collapse_check_only_applies_with_stream(capsys, tmp_path, test_model_dir):
    import soundfile as sf

    wav = tmp_path / "a.wav"
    sf.write(wav, _tone(0.15, 180)[: SR], SR)
    assert main(["file", str(wav), "--no-collapse-check", "--model", str(test_model_dir)]) != 0
    err = capsys.readouterr().err
    assert "--no-collapse-check" in err and "--stream" in err and "Traceback" not in err


def test_ui_says_unfamiliar_voice_instead_of_the_label():
    scores = {k: (0.3 if k == "disgust" else 0.1) for k in EMOTIONS}
    rec = WindowRecord(t=0.5, label="disgust", scores=scores, smoothed=scores, speech=0.9, level_db=-20.0,
                       uncertain=True, caution=UNFAMILIAR)
    state = MonitorState(title="x")
    state.update(rec)
    console = Console(record=True, width=120, color_system=None)
    console.print(render(state))
    out = console.export_text()
    assert "UNCERTAIN: unfamiliar voice" in out and "top emotion: DISGUST" not in out
    plain = MonitorState(title="x")
    plain.update(WindowRecord(t=0.5, label="disgust", scores=scores, smoothed=scores, speech=0.9, level_db=-20.0))
    console = Console(record=True, width=120, color_system=None)
    console.print(render(plain))
    assert "top emotion: DISGUST" in console.export_text()

from rich.console import Console

from emomon.features.vad import VadOptions
from emomon.labels import EMOTIONS
from emomon.records import WindowRecord
from emomon.stream.ui import MonitorState, bar, render, sparkline


def _rec(t, top="angry", p=0.72, silent=False, latency=42.0, dropped=0.0, speech=None, compute=None):
    rest = (1 - p) / 7
    scores = {k: (p if k == top else rest) for k in EMOTIONS}
    return WindowRecord(t=t, label=None if silent else top, scores=None if silent else scores, smoothed=scores,
                        speech=(0.0 if silent else 0.8) if speech is None else speech,
                        latency_ms=latency, compute_ms=compute, level_db=-20.0 if not silent else -70.0, dropped_s=dropped,
                        reason="no speech" if silent else None)


def _text(state, width=120):
    console = Console(record=True, width=width, color_system=None)
    console.print(render(state))
    return console.export_text()


def test_bar_and_sparkline():
    assert bar(0.0, 10) == " " * 10
    assert bar(1.0, 10) == "█" * 10
    assert bar(0.5, 10) == "█" * 5 + " " * 5
    assert len(bar(0.33, 10)) == 10
    assert sparkline([0.0, 1.0], 4) == "  ▁█"


def test_render_shows_bars_history_top_level_latency_dropped():
    state = MonitorState(title="emomon test")
    for i, lat in enumerate([40.0, 50.0, 60.0]):
        state.update(_rec(0.5 * (i + 1), latency=lat, dropped=0.25))
    out = _text(state)
    for lab in EMOTIONS:
        assert lab in out
    assert "ANGRY" in out and "72.0%" in out  # top emotion and its share
    angry_line = next(l for l in out.splitlines() if l.strip("│ ").startswith("angry"))
    assert "█" * 21 in angry_line and "█" * 22 not in angry_line  # 72% of a 30-cell bar
    assert angry_line.split("%")[-1].strip("│ ") == "▆▆▆"  # history sparkline: 3 hops at 0.72
    calm_line = next(l for l in out.splitlines() if l.strip("│ ").startswith("calm"))
    assert calm_line.split("%")[-1].strip("│ ") == "▁▁▁"
    assert "-20.0 dBFS" in out
    assert "60 ms (median 50 ms)" in out
    assert "0.25 s audio" in out
    assert "3 (0 without speech)" in out
    assert _text(state) == out  # a pure function of the state


def test_render_silence_and_waiting():
    state = MonitorState()
    assert "waiting for audio" in _text(state)
    state.update(_rec(0.5, top="sad"))
    state.update(_rec(1.0, silent=True))
    out = _text(state)
    assert "no speech" in out and "last: sad" in out
    assert "2 (1 without speech)" in out


def test_render_several_streams():
    a, b = MonitorState(title="one"), MonitorState(title="two")
    a.update(_rec(0.5, top="happy"))
    b.update(_rec(0.5, top="fearful"))
    out = _text([a, b])
    assert "HAPPY" in out and "FEARFUL" in out and "one" in out and "two" in out


def test_render_fits_narrow_terminal():
    state = MonitorState()
    state.update(_rec(0.5, top="disgust"))
    console = Console(record=True, width=80, color_system=None)
    console.print(render(state, width=80))
    out = console.export_text()
    assert all(len(line) <= 80 for line in out.splitlines())
    for lab in EMOTIONS:
        assert lab in out
    assert "DISGUST" in out and "latency" in out and "dropped" in out


def test_stop_hint_only_while_running():
    state = MonitorState(title="x")
    state.update(_rec(0.5))
    assert "Ctrl-C to stop" in _text(state)
    state.finished = True
    out = _text(state)
    assert "Ctrl-C to stop" not in out and "[done]" in out


def test_raw_scores_shown_beside_smoothed():
    state = MonitorState(title="x")
    smoothed = {k: (0.6 if k == "sad" else 0.4 / 7) for k in EMOTIONS}
    raw = {k: (0.9 if k == "angry" else 0.1 / 7) for k in EMOTIONS}
    state.update(WindowRecord(t=0.5, label="angry", scores=raw, smoothed=smoothed, speech=1.0, latency_ms=10.0, level_db=-20.0))
    out = _text(state)
    assert "smoothed" in out and "raw" in out
    angry = next(l for l in out.splitlines() if l.strip("│ ").startswith("angry"))
    sad = next(l for l in out.splitlines() if l.strip("│ ").startswith("sad"))
    assert "5.7%" in angry and " 90%" in angry  # smoothed 5.7 %, raw 90 %
    assert "60.0%" in sad and "  1%" in sad
    assert "SAD" in out  # the top emotion follows the smoothed distribution


def _line(out, head):
    return next(l for l in out.splitlines() if l.strip("│ ").startswith(head))


def test_speech_meter_marks_the_threshold():
    state = MonitorState(title="x", vad=VadOptions(min_speech=0.25))
    state.update(_rec(0.5, speech=0.75))
    speech = _line(_text(state), "speech")
    meter = speech.split("speech", 1)[1].strip("│ ")[:20]
    assert meter.index("│") == 5  # 25 % of a 20-cell meter
    assert meter.count("█") == 14 and "75%" in speech and "silero" in speech


def test_energy_threshold_on_the_level_meter():
    state = MonitorState(title="x", vad=VadOptions(method="energy", silence_db=-30))
    state.update(_rec(0.5))
    level = _line(_text(state), "level")
    meter = level.split("level", 1)[1].strip("│ ")[:20]
    assert meter.index("│") == 10 and "-30 dBFS" in level  # -30 dB on a -60..0 dB meter
    silero = _line(_text(MonitorState(title="x")), "level")
    assert "│" not in silero.split("level", 1)[1].strip("│ ")[:20]  # the level is no threshold for Silero


def test_fast_mode_shows_compute_time_not_latency():
    state = MonitorState(title="x", realtime=False)
    state.update(_rec(0.5, latency=None, compute=37.0))
    out = _text(state)
    assert "compute" in out and "37 ms per window" in out and "latency" not in out


def test_uncertain_answers_are_shown_so():
    state = MonitorState(title="x", min_confidence=0.8)
    state.update(_rec(0.5, p=0.6))
    assert "uncertain" in _text(state)
    sure = MonitorState(title="x", min_confidence=0.5)
    sure.update(_rec(0.5, p=0.6))
    assert "uncertain" not in _text(sure)

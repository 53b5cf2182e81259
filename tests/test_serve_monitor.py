"""The monitor's serving mode: a persistent monitor, streams added and ended while it runs."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from conftest import SR, synth_speechlike
from emomon.errors import EmomonError
from emomon.features.vad import VadOptions
from emomon.stream import Monitor, MonitorConfig, PushSource, stream_file


def test_push_source_drops_the_oldest_when_full():
    src = PushSource(SR, "a", ring_seconds=1.0)
    assert src.push(np.ones(SR // 2, dtype=np.float32)) == 0
    assert src.push(np.ones(SR, dtype=np.float32)) == SR // 2
    assert src.dropped_seconds == pytest.approx(0.5) and src.seconds == pytest.approx(1.5)
    src.end()
    assert src.push(np.ones(10, dtype=np.float32)) == 0 and src.ring.closed


def test_a_persistent_monitor_serves_streams_added_while_it_runs(test_model):
    cfg = MonitorConfig(vad=VadOptions(method="off"))
    mon = Monitor(test_model, [], cfg, persistent=True)
    ended: list[tuple[str, int]] = []
    mon.on_stream_end = lambda name: ended.append((name, mon.stats(name).windows))
    got: dict[str, list] = {}

    def consume() -> None:
        for rec in mon.records():
            got.setdefault(rec.stream, []).append(rec)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    x = synth_speechlike(2.0)
    srcs = [PushSource(SR, name) for name in ("a", "b")]
    mon.add_source(srcs[0])
    mon.add_source(srcs[1], MonitorConfig(vad=VadOptions(method="off"), hop=0.5))
    with pytest.raises(EmomonError, match="running"):
        mon.add_source(PushSource(SR, "a"))
    for i in range(0, len(x), SR // 10):
        for s in srcs:
            s.push(x[i:i + SR // 10])
        time.sleep(0.01)
    for s in srcs:
        mon.end_source(s.name)
    deadline = time.monotonic() + 20
    while len(ended) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert thread.is_alive()  # no streams left: it keeps running
    ref = [r.label for r in stream_file(x, test_model, fast=True, vad="off", source_rate=SR)]
    assert [r.label for r in got["a"]] == ref and [r.t for r in got["b"]] == pytest.approx([0.5, 1.0, 1.5, 2.0])
    assert sorted(ended) == [("a", len(ref)), ("b", 4)] and mon.streams == []
    mon.stop()
    thread.join(10)
    assert not thread.is_alive()


def test_streams_are_added_only_to_a_persistent_monitor(test_model):
    from emomon.stream import FileSource

    mon = Monitor(test_model, FileSource(synth_speechlike(1.0), SR, source_rate=SR))
    with pytest.raises(EmomonError, match="persistent"):
        mon.add_source(PushSource(SR, "x"))
    with pytest.raises(EmomonError, match="no audio source"):
        Monitor(test_model, [])

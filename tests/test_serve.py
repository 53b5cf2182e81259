"""emomon serve, the working parts: routes, the stream protocol against a real uvicorn server on
a loopback port, with real WebSocket clients; records equal ``file --stream --fast``'s."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from conftest import SR, spoken
from serve_support import ThreadServer

from emomon import client
from emomon.audio import decode_audio
from emomon.stream import stream_file
from emomon.timeline import analyze_files


@pytest.fixture(scope="module")
def server(test_model):
    with ThreadServer(test_model) as srv:
        yield srv


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    """Real speech between silences (espeak-ng, 22.05 kHz) and the same at 16 kHz."""
    path = spoken(tmp_path_factory.mktemp("talk") / "talk.wav", "Kids are talking by the door. Dogs are sitting by the door.")
    x = decode_audio(path, SR)
    pause = np.zeros(SR, dtype=np.float32)
    return path, np.concatenate([pause, x, pause, x[: SR], pause])


def _by_type(msgs, kind):
    return [m for m in msgs if m["type"] == kind]


def test_health_and_models(server):
    h = client.health(server.url)
    assert h["status"] == "ok" and h["protocol"] == 1 and h["sessions"] == 0 and h["max_sessions"] == 16
    info = client.models(server.url)["models"][0]
    assert info["labels"][:2] == ["neutral", "calm"] and info["sample_rate"] == SR
    assert (info["window"], info["hop"]) == (1.0, 0.25)
    from emomon.serve.state import terminal_colors

    assert {lab: c["terminal"] for lab, c in info["colors"].items()} == {lab: terminal_colors()[lab] for lab in info["labels"]}
    assert all(c["css"].startswith("#") for c in info["colors"].values())


def test_stream_records_equal_file_stream_fast(server, test_model, talk):
    _, x = talk
    msgs = list(client.stream(x, server.url, sample_rate=SR, encoding="f32le"))
    ready, windows, summary = msgs[0], _by_type(msgs, "window"), msgs[-1]
    assert ready["type"] == "ready" and ready["protocol"] == 1 and ready["labels"] == list(test_model.labels)
    ref = [r.to_dict() for r in stream_file(x, test_model, fast=True, source_rate=SR)]
    assert [w["t"] for w in windows] == [r["t"] for r in ref]
    assert [w["label"] for w in windows] == [r["label"] for r in ref]
    assert any(w["label"] for w in windows) and not all(w["label"] for w in windows)
    assert set(windows[0]) == set(ref[0]) and all(w["stream"] == ready["session"] for w in windows)
    for w, r in zip(windows, ref):
        assert w["scores"] == r["scores"] or w["scores"] == pytest.approx(r["scores"], abs=1e-5)
        assert w["latency_ms"] is not None and w["latency_ms"] >= 0  # capture (arrival) to result
    segments = _by_type(msgs, "segment")
    assert len(segments) >= 2 and all(s["end"] > s["start"] and s["label"] in test_model.labels for s in segments)
    speech_ts = [w["t"] for w in windows if w["label"]]
    assert sum(s["windows"] for s in segments) == len(speech_ts)
    assert summary == {**summary, "type": "summary", "completed": True, "windows": len(ref), "dropped_s": 0.0,
                       "speech_windows": len(speech_ts), "stopped_by": None}
    assert not _by_type(msgs, "warning") and not _by_type(msgs, "error")


def test_a_16_bit_stream_at_the_files_own_rate_gets_the_same_answers(server, test_model, talk):
    path, _ = talk
    import soundfile as sf

    x, rate = sf.read(path, dtype="float32")
    assert rate != SR  # resampled by the server's stream, by the decoder for the file
    windows = _by_type(client.stream(x, server.url, sample_rate=rate), "window")
    ref = [r.to_dict() for r in stream_file(path, test_model, fast=True)]
    assert abs(len(windows) - len(ref)) <= 1
    hop = 0.25
    for w, r in zip(windows, ref):
        assert abs(w["t"] - r["t"]) <= hop
    same = sum(w["label"] == r["label"] for w, r in zip(windows, ref))
    assert same >= 0.85 * min(len(windows), len(ref))


def test_close_code_1000_and_flush(server, talk):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    _, x = talk
    with connect(server.ws) as ws:
        ws.send(json.dumps({"type": "config", "sample_rate": SR, "encoding": "pcm_s16le"}))
        ready = json.loads(ws.recv(timeout=10))
        assert ready["type"] == "ready" and ready["encoding"] == "pcm_s16le" and ready["limits"]["max_frame_bytes"] == 8000
        speech = x[SR: 3 * SR]
        for i in range(0, len(speech), SR // 20):
            ws.send(client.encode(speech[i:i + SR // 20]))
        ws.send(json.dumps({"type": "keepalive"}))
        ws.send(json.dumps({"type": "flush"}))
        got = []
        while not got or got[-1]["type"] != "flushed":
            got.append(json.loads(ws.recv(timeout=10)))
        assert {"keepalive", "window"} <= {m["type"] for m in got}
        assert got[-2]["type"] == "segment" and got[-1]["t"] == max(m["t"] for m in got if m["type"] == "window")
        ws.send(json.dumps({"type": "close"}))
        rest = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                rest.append(json.loads(ws.recv(timeout=10)))
        assert rest[-1]["type"] == "summary" and rest[-1]["completed"] is True
        assert closed.value.rcvd.code == 1000


def test_sessions_share_one_monitor_and_one_inference_worker(server, test_model, talk):
    _, x = talk
    clip = x[: 4 * SR]
    results: dict[int, list] = {}

    def run(i: int) -> None:
        results[i] = list(client.stream(clip, server.url, sample_rate=SR, encoding="f32le"))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ref = [r.label for r in stream_file(clip, test_model, fast=True, source_rate=SR)]
    sessions = set()
    for msgs in results.values():
        assert [w["label"] for w in _by_type(msgs, "window")] == ref
        sessions.add(msgs[0]["session"])
    assert len(sessions) == 3
    assert sum(t.name == "emomon-inference" for t in threading.enumerate()) == 1
    assert server.state.hub.monitor.worker.windows >= 3 * len(ref)
    assert client.health(server.url)["sessions"] == 0 and server.state.hub.monitor.streams == []


def test_analyze_gives_the_json_of_emomon_file(server, test_model, talk, tmp_path):
    path, _ = talk
    ref = next(analyze_files([str(path)], test_model)).to_dict()
    got = client.analyze(path, server.url, segments=True)
    assert got == {**ref, "path": path.name}
    assert len(got["segments"]) >= 1
    brief = client.analyze(path, server.url)
    assert "segments" not in brief and brief["label"] == ref["label"]
    # multipart/form-data, as a browser form sends it
    import urllib.request
    import uuid

    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"talk.wav\"\r\n"
            f"Content-Type: audio/wav\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{server.url}/v1/analyze?segments=true", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert json.loads(resp.read()) == {**ref, "path": "talk.wav"}


def test_the_page_is_served_with_the_colours(server):
    import urllib.request

    with urllib.request.urlopen(server.url + "/", timeout=10) as resp:
        html = resp.read().decode()
    assert "AudioWorklet" in html or "audioWorklet" in html
    assert "/v1/models" in html and "/v1/stream" in html

"""emomon serve under faults: disconnects, garbage, bad configs, limits, keys, busy, a client that
does not read, dropped audio, SIGTERM. Real uvicorn servers on loopback ports, real clients."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from conftest import SR, synth_speechlike
from serve_support import ThreadServer, free_port

from emomon import client

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

CONFIG = {"type": "config", "sample_rate": SR, "encoding": "pcm_s16le"}


def until_closed(ws, timeout: float = 15.0):
    """Every message up to the close, and the close code."""
    msgs = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            msgs.append(json.loads(ws.recv(timeout=deadline - time.monotonic())))
    except ConnectionClosed as exc:
        return msgs, exc.rcvd.code if exc.rcvd else None
    raise AssertionError(f"not closed within {timeout} s: {msgs[-3:]}")


def opened(srv, config=CONFIG, **kw):
    ws = connect(srv.ws, **kw).__enter__()
    try:
        ws.send(json.dumps(config))
    except ConnectionClosed:  # refused before it came (a missing key)
        pass
    return ws


def wait_for(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server(test_model):
    with ThreadServer(test_model, max_sessions=2) as srv:
        yield srv


@pytest.mark.parametrize("config, says", [
    ({"sample_rate": 1000}, "sample_rate"),
    ({"sample_rate": 16000.5}, "sample_rate"),
    ({"encoding": "mp3"}, "encoding"),
    ({"windw": 2.0}, "unknown config keys: windw"),
    ({"hop": 2.0}, "hop must not exceed the window"),
    ({"vad": "loud"}, "vad"),
])
def test_a_bad_config_is_refused_with_one_clear_message(server, config, says):
    ws = opened(server, {**CONFIG, **config})
    msgs, code = until_closed(ws)
    assert msgs == [{"type": "error", "code": "bad_config", "message": msgs[0]["message"]}] and says in msgs[0]["message"]
    assert code == 1008


@pytest.mark.parametrize("first", ["not json", b"\x00\x01"])
def test_the_first_message_must_be_a_config(server, first):
    ws = connect(server.ws).__enter__()
    ws.send(first)
    msgs, code = until_closed(ws)
    assert msgs[0]["code"] == "bad_config" and code == 1008


def test_garbage_frames_end_the_session(server):
    ws = opened(server)
    assert json.loads(ws.recv(timeout=10))["type"] == "ready"
    ws.send(b"\x01\x02\x03")  # not whole 16-bit samples
    msgs, code = until_closed(ws)
    assert msgs[-1]["code"] == "bad_audio" and code == 1003
    ws = opened(server)
    json.loads(ws.recv(timeout=10))
    ws.send("{\"type\": \"dance\"}")
    msgs, code = until_closed(ws)
    assert msgs[-1]["code"] == "bad_message" and "dance" in msgs[-1]["message"] and code == 1003


def test_an_oversized_frame_is_refused(server):
    ws = opened(server)
    assert json.loads(ws.recv(timeout=10))["type"] == "ready"
    ws.send(client.encode(np.zeros(SR, dtype=np.float32)))  # 1 s in one frame (limit 250 ms)
    msgs, code = until_closed(ws)
    assert msgs[-1]["code"] == "frame_too_large" and code == 1009


def test_a_client_that_disconnects_mid_stream_frees_its_slot(server):
    for _ in range(3):  # more than max_sessions in turn: every slot comes back
        ws = opened(server)
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        for i in range(10):
            ws.send(client.encode(synth_speechlike(0.05, seed=i)))
        ws.close()
    wait_for(lambda: client.health(server.url)["sessions"] == 0)
    wait_for(lambda: server.state.hub.monitor.streams == [])
    msgs = list(client.stream(synth_speechlike(1.0), server.url, sample_rate=SR))
    assert msgs[-1]["type"] == "summary" and msgs[-1]["completed"]


def test_more_sessions_than_the_limit_are_told_to_retry(server):
    held = [opened(server) for _ in range(2)]
    for ws in held:
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
    ws = opened(server)
    msgs, code = until_closed(ws)
    assert msgs == [{"type": "busy", "retry_after_s": 5.0, "message": msgs[0]["message"]}] and code == 1013
    with pytest.raises(client.ServerError) as refused:
        client.StreamSession(server.url, SR)
    assert refused.value.code == "busy" and refused.value.retry_after_s == 5.0
    for ws in held:
        ws.close()
    wait_for(lambda: client.health(server.url)["sessions"] == 0)


def test_audio_faster_than_real_time_is_dropped_oldest_first_with_warnings(test_model):
    with ThreadServer(test_model, ring_s=2.0) as srv:
        ws = opened(srv)
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        x = synth_speechlike(12.0)
        for i in range(0, len(x), SR // 10):
            ws.send(client.encode(x[i:i + SR // 10]))  # 12 s at once
        ws.send(json.dumps({"type": "close"}))
        msgs, code = until_closed(ws, 30)
    warnings = [m for m in msgs if m["type"] == "warning"]
    # the server takes audio no faster than real time: of 12 s sent within about a second, a 2 s
    # ring keeps the newest 2 s plus what fell due meanwhile, whatever the machine's speed
    assert warnings and warnings[0]["code"] == "dropped" and 12.0 - 2.0 - 3.0 < warnings[-1]["dropped_s"] < 12.0 - 2.0
    assert sum(w["new_s"] for w in warnings) == pytest.approx(warnings[-1]["dropped_s"], abs=1e-2)
    assert msgs[-1]["type"] == "summary" and msgs[-1]["dropped_s"] == pytest.approx(warnings[-1]["dropped_s"], abs=1e-2)
    assert msgs[-1]["seconds"] == pytest.approx(12.0) and code == 1000


def test_idle_clients_and_long_sessions_are_ended_with_a_summary(test_model):
    with ThreadServer(test_model, idle_timeout_s=0.6, max_session_s=30) as srv:
        ws = opened(srv)
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        msgs, code = until_closed(ws)
        assert [m["type"] for m in msgs[-2:]] == ["summary", "error"] and msgs[-1]["code"] == "idle_timeout" and code == 1008
        assert msgs[-2]["stopped_by"] == "idle_timeout" and msgs[-2]["completed"] is False
    with ThreadServer(test_model, max_session_s=1.0) as srv:
        ws = opened(srv)
        json.loads(ws.recv(timeout=10))
        t0 = time.monotonic()
        msgs = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.send(client.encode(synth_speechlike(0.05)))
                time.sleep(0.05)
        assert time.monotonic() - t0 < 10 and closed.value.rcvd.code == 1008


def test_a_client_that_does_not_read_is_closed(test_model):
    with ThreadServer(test_model, ping_s=0.5) as srv:
        ws = opened(srv, max_queue=1)  # the client library stops reading once one message waits
        x = synth_speechlike(6.0)
        try:
            for i in range(0, len(x), SR // 20):
                ws.send(client.encode(x[i:i + SR // 20]))
                time.sleep(0.05)
        except ConnectionClosed:
            pass
        wait_for(lambda: client.health(srv.url)["sessions"] == 0, 15)
        ws.close()


def test_a_client_whose_messages_pile_up_is_closed_as_a_slow_client(test_model, caplog):
    """The outgoing-queue path (pings would not show it: the client here answers none but the
    server pings once a minute): a raw client that sends audio and never reads, through a small
    socket buffer, fills the kernel's buffers, then the session's queue of ``out_queue``
    messages; the session is closed (``slow_client``) and its slot freed."""
    import socket

    from websockets.client import ClientProtocol
    from websockets.uri import parse_uri

    srv = ThreadServer(test_model, ping_s=60.0, out_queue=4)
    srv.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # accepted sockets inherit it: no autotuning
    with srv, caplog.at_level("WARNING", "emomon.serve"), socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # before connecting: a small window
        sock.connect(("127.0.0.1", srv.port))
        proto = ClientProtocol(parse_uri(srv.ws))
        proto.send_request(proto.connect())
        sock.sendall(b"".join(proto.data_to_send()))
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += sock.recv(1)  # the handshake only: nothing after it is ever read
        proto.receive_data(reply)
        assert reply.startswith(b"HTTP/1.1 101") and proto.handshake_exc is None
        proto.send_text(json.dumps({**CONFIG, "hop": 0.05}).encode())  # 20 window messages a second
        x = synth_speechlike(40.0)
        t0 = time.monotonic()
        try:
            for i in range(0, len(x), SR // 20):
                proto.send_binary(client.encode(x[i:i + SR // 20]))
                sock.sendall(b"".join(proto.data_to_send()))
                time.sleep(0.05)
                if not client.health(srv.url)["sessions"]:
                    break
        except OSError:  # the server closed the socket
            pass
        assert time.monotonic() - t0 < 38, "the server never closed a client that does not read"
        wait_for(lambda: client.health(srv.url)["sessions"] == 0, 15)
    assert any("the client is not reading" in r.getMessage() for r in caplog.records)


def test_keys_are_required_everywhere_when_set(test_model, tmp_path):
    with ThreadServer(test_model, api_key="s3cret") as srv:
        for route in ("/", "/v1/health", "/v1/models"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(srv.url + route, timeout=10)
            assert refused.value.code == 401 and json.loads(refused.value.read())["code"] == "unauthorized"
        with pytest.raises(client.ServerError) as wrong:
            client.health(srv.url, api_key="nope")
        assert wrong.value.status == 401 and "wrong API key" in wrong.value.message
        assert client.health(srv.url, api_key="s3cret")["status"] == "ok"
        with urllib.request.urlopen(srv.url + "/?token=s3cret", timeout=10) as resp:
            assert resp.status == 200
        wav = tmp_path / "a.wav"
        import soundfile as sf

        sf.write(wav, synth_speechlike(1.0), SR)
        with pytest.raises(client.ServerError):
            client.analyze(wav, srv.url)
        assert client.analyze(wav, srv.url, api_key="s3cret")["path"] == "a.wav"
        for kw in ({}, {"additional_headers": {"Authorization": "Bearer nope"}}):
            ws = opened(srv, **kw)
            try:
                ws.send(client.encode(np.zeros(800, dtype=np.float32)))
            except ConnectionClosed:
                pass
            msgs, code = until_closed(ws)
            assert msgs == [{"type": "error", "code": "unauthorized", "message": msgs[0]["message"]}] and code == 1008
        assert srv.state.registry.opened == 0  # refused before any session or audio
        ws = connect(srv.ws + "?token=s3cret").__enter__()
        ws.send(json.dumps(CONFIG))
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        ws.close()
        msgs = list(client.stream(synth_speechlike(0.5), srv.url, sample_rate=SR, api_key="s3cret"))
        assert msgs[-1]["type"] == "summary"


def test_uploads_over_the_limit_or_not_audio_are_refused(test_model, tmp_path):
    with ThreadServer(test_model, max_upload_mb=0.05) as srv:
        big = tmp_path / "big.wav"
        import soundfile as sf

        sf.write(big, synth_speechlike(3.0), SR)  # ~96 KB > 50 KiB
        with pytest.raises(client.ServerError) as refused:
            client.analyze(big, srv.url)
        assert refused.value.status == 413 and refused.value.code == "too_large"
        junk = tmp_path / "junk.wav"
        junk.write_bytes(b"this is not audio at all" * 10)
        with pytest.raises(client.ServerError) as bad:
            client.analyze(junk, srv.url)
        assert bad.value.status == 422 and bad.value.code == "bad_audio" and "junk.wav" in bad.value.message
        req = urllib.request.Request(srv.url + "/v1/analyze", data=b"", method="POST")
        with pytest.raises(urllib.error.HTTPError) as empty:
            urllib.request.urlopen(req, timeout=10)
        assert empty.value.code == 400


def test_sigterm_ends_every_session_with_a_close_message(test_model_dir, tmp_path):
    port = free_port()
    tests = str(Path(__file__).resolve().parent)
    code = (f"import sys; sys.path.insert(0, {tests!r}); import conftest; from emomon.serve.command import main; "
            f"sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", code, "--port", str(port), "--model", str(test_model_dir), "--log-level", "warning"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                client.health(url)
                break
            except client.ServerError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() is not None else "no start"
                time.sleep(0.2)
        sessions = [client.StreamSession(url, SR) for _ in range(2)]
        for s in sessions:
            for i in range(10):
                s.send(synth_speechlike(0.05, seed=i))
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        for s in sessions:
            msgs = list(s.messages(raise_errors=False))
            assert [m["type"] for m in msgs[-2:]] == ["summary", "error"]
            assert msgs[-1]["code"] == "server_shutdown" and msgs[-2]["stopped_by"] == "server_shutdown"
            assert msgs[-2]["seconds"] == pytest.approx(0.5)
            assert s._ws.close_code == 1001
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_importing_emomon_and_its_serve_command_loads_no_server_package():
    code = ("import sys, emomon, emomon.serve, emomon.serve.command, emomon.client; "
            "bad = [m for m in ('starlette', 'uvicorn', 'websockets', 'multipart', 'python_multipart', 'torch') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr

"""The web page of emomon serve in headless Chromium: a fake microphone playing espeak speech
(``--use-file-for-fake-audio-capture``), driven over the DevTools protocol; the page must show
labels within 5 s of its session opening. The screenshot is kept under the test's tmp dir."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.request


from conftest import needs, spoken
from serve_support import ThreadServer, free_port

LABEL_WITHIN_S = 5.0


class Cdp:
    """A minimal DevTools-protocol client over one page target."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=2**25).__enter__()
        self.n = 0

    def call(self, method: str, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == self.n:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return msg["result"]

    def eval(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")


def _page_target(port: int, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as resp:
                pages = [t for t in json.loads(resp.read()) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except OSError:
            pass
        assert time.monotonic() < deadline, "Chromium's DevTools endpoint did not come up"
        time.sleep(0.2)


def test_the_page_shows_labels_from_the_microphone(test_model, tmp_path):
    chromium = needs("chromium")
    clip = spoken(tmp_path / "clip.wav", "Kids are talking by the door. Dogs are sitting by the door. " * 2)
    with ThreadServer(test_model, api_key="pagekey") as srv:
        port = free_port()
        proc = subprocess.Popen([
            chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={clip}",
            "--autoplay-policy=no-user-gesture-required", f"--remote-debugging-port={port}", "--window-size=1280,800",
            f"{srv.url}/?token=pagekey&autostart=1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            cdp = Cdp(_page_target(port, time.monotonic() + 60))
            deadline = time.monotonic() + 60
            while not (cdp.eval("document.getElementById('status').textContent") or "").startswith("streaming"):
                assert time.monotonic() < deadline, cdp.eval("document.getElementById('status').textContent")
                time.sleep(0.1)
            ready = time.monotonic()
            label = ""
            while not label and time.monotonic() - ready < LABEL_WITHIN_S:
                label = cdp.eval("document.getElementById('label').dataset.label")
                time.sleep(0.1)
            time.sleep(1.0)  # a little more of the chart
            shot = tmp_path / "serve-page.png"
            shot.write_bytes(base64.b64decode(cdp.call("Page.captureScreenshot", format="png")["data"]))
            print(f"screenshot of the page: {shot}")
            assert label in test_model.labels, f"no label within {LABEL_WITHIN_S} s: {cdp.eval('document.body.innerText')}"
            colours = cdp.eval("JSON.stringify(model.colors)")
            assert json.loads(colours) == srv.state.colors  # the terminal's colours, from /v1/models
            assert cdp.eval("history.length") > 0
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

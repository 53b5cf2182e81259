"""Online speaker adaptation in the stream: order semantics through the worker and the monitor,
seconds heard, --no-adapt, the UI line, and a non-adaptive model left alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rich.console import Console

from conftest import SR, synth_speechlike
from emomon.features.vad import VadOptions
from emomon.features.windows import Window, clip_windows
from emomon.labels import EMOTIONS
from emomon.records import WindowRecord
from emomon.stream import FileSource, Monitor, MonitorConfig, stream_file
from emomon.stream.ui import MonitorState, render
from emomon.stream.worker import InferenceWorker, Job


def _signal(i: int, n: int = SR) -> np.ndarray:
    """Window ``i``'s audio: voices of rising pitch and level, so the statistics move."""
    return synth_speechlike(n / SR, f0=150 + 40 * i, amp=0.1 + 0.08 * i, seed=i)


def _job(stream: str, i: int, adapter, classify: bool = True) -> Job:
    x = _signal(i)
    return Job(Window(stream, i, x, len(x), (i + 1) * 0.25, 0.0, SR), speech=1.0 if classify else 0.0,
               classify=classify, adapter=adapter, seconds=0.25)


def _reference(model, idxs: list[int]) -> list[np.ndarray]:
    """What a stream of windows ``idxs`` (all classified) should get: each window standardised
    with the prior and the windows before it, then learnt."""
    adapter = model.new_adapter()
    out = []
    for i in idxs:
        with torch.inference_mode():
            f = model.features(torch.from_numpy(_signal(i)[None]))
            out.append(torch.softmax(model.classify_features(f, adapter.state()), dim=-1)[0].numpy())
        adapter.update(f[0].double().numpy(), 0.25)
    return out


@pytest.mark.parametrize("max_batch", [16, 3])
def test_worker_adapts_each_stream_on_its_earlier_windows_only(adaptive_model, max_batch):
    m = adaptive_model
    a, b = m.new_adapter(), m.new_adapter()
    # lane a: windows 0 1 (2: no speech) 3 4; lane b: windows 5 6 7, interleaved with a's
    jobs = [_job("a", 0, a), _job("b", 5, b), _job("a", 1, a), _job("b", 6, b), _job("a", 2, a, classify=False),
            _job("a", 3, a), _job("b", 7, b), _job("a", 4, a)]
    worker = InferenceWorker(m, max_batch=max_batch)
    for j in jobs:
        worker.submit(j)
    worker.start()
    out = [worker.results.get(timeout=30) for _ in jobs]
    worker.stop()
    got = {(o.window.stream, o.window.index): o.probs for o in out}
    assert got[("a", 2)] is None
    for stream, idxs in (("a", [0, 1, 3, 4]), ("b", [5, 6, 7])):
        for i, ref in zip(idxs, _reference(m, idxs)):
            np.testing.assert_allclose(got[(stream, i)], ref, atol=1e-5)
    # the no-speech window taught nothing; each adapter learnt its own stream's windows
    assert a.heard.count == 4 and a.heard.seconds == pytest.approx(1.0)
    assert b.heard.count == 3 and b.heard.seconds == pytest.approx(0.75)
    # the first window of a stream is the prior's answer; later ones are not (adaptation matters)
    prior = m.predict_proba(np.stack([_signal(i) for i in (0, 4)]))
    np.testing.assert_allclose(got[("a", 0)], prior[0], atol=1e-5)
    assert np.abs(got[("a", 4)] - prior[1]).max() > 1e-3


def test_stream_adapts_when_asked_and_counts_seconds(adaptive_model):
    x = np.concatenate([synth_speechlike(2.0, f0=250, amp=0.5)])
    default = list(stream_file(x, adaptive_model, source_rate=SR, vad="off"))
    assert all(r.adapted_s is None for r in default)  # off by default (issue 26: one-emotion sessions)
    recs = list(stream_file(x, adaptive_model, source_rate=SR, vad="off", adapt=True))
    assert len(recs) == 8
    # window 1 s, hop 0.25 s, all speech: the first window brings its 0.25 s of audio, each later one a hop
    assert [r.adapted_s for r in recs] == pytest.approx([r.t for r in recs])
    assert recs[0].to_dict()["adapted_s"] == 0.25
    off = list(stream_file(x, adaptive_model, source_rate=SR, vad="off", adapt=False))
    assert all(r.adapted_s is None and r.to_dict()["adapted_s"] is None for r in off)
    # --no-adapt: every window classified with the prior alone
    wins = np.stack([w.samples for w in clip_windows(x, SR, 1.0, 0.25)])
    prior = adaptive_model.predict_proba(wins)
    np.testing.assert_allclose([[r.scores[k] for k in EMOTIONS] for r in off], prior, atol=1e-5)
    adapted = np.array([[r.scores[k] for k in EMOTIONS] for r in recs])
    np.testing.assert_allclose(adapted[0], prior[0], atol=1e-5)  # nothing heard before the first window
    assert np.abs(adapted[1:] - prior[1:]).max() > 1e-3


def test_no_speech_windows_do_not_teach_the_adapter(adaptive_model):
    x = np.concatenate([synth_speechlike(1.0, f0=250, amp=0.5), np.zeros(2 * SR, dtype=np.float32),
                        synth_speechlike(1.0, f0=250, amp=0.5, seed=1)])
    mon = Monitor(adaptive_model, FileSource(x, SR, realtime=False, source_rate=SR, name="s"),
                  MonitorConfig(vad=VadOptions(method="energy"), adapt=True))
    recs = list(mon.records())
    quiet = [r for r in recs if not r.is_speech]
    speech = [r for r in recs if r.is_speech]
    assert quiet and speech
    adapter = mon.adapters["s"]
    assert adapter.heard.count == len(speech)
    assert adapter.heard.seconds == pytest.approx(speech[-1].adapted_s)
    for prev, rec in zip(recs, recs[1:]):
        if not rec.is_speech:
            assert rec.adapted_s == prev.adapted_s  # a window without speech adds nothing
    # the first window after the silence brings a whole window of new audio (1 s), not a hop
    after = next(r for p, r in zip(recs, recs[1:]) if r.is_speech and not p.is_speech)
    before = recs[recs.index(after) - 1].adapted_s
    assert after.adapted_s - before == pytest.approx(1.0)


def test_two_streams_keep_their_own_statistics(adaptive_model):
    x = synth_speechlike(1.5, f0=250, amp=0.5)
    y = synth_speechlike(1.5, f0=120, amp=0.05, seed=3)
    cfg = MonitorConfig(vad=VadOptions(method="off"))
    both = list(Monitor(adaptive_model, [FileSource(x, SR, realtime=False, source_rate=SR, name="x"),
                                         FileSource(y, SR, realtime=False, source_rate=SR, name="y")], cfg).records())
    alone = list(Monitor(adaptive_model, FileSource(x, SR, realtime=False, source_rate=SR, name="x"), cfg).records())
    xs = [r for r in both if r.stream == "x"]
    assert len(xs) == len(alone) == 6
    for a, b in zip(xs, alone):
        assert a.scores == pytest.approx(b.scores, abs=1e-5) and a.adapted_s == pytest.approx(b.adapted_s)


def test_a_model_that_cannot_adapt_is_left_alone(test_model, wav_file):
    mon = Monitor(test_model, FileSource(wav_file, SR, realtime=False), MonitorConfig(adapt=True, vad=VadOptions(method="off")))
    assert mon.config.adapt is False
    recs = list(mon.records())
    assert recs and all(r.adapted_s is None for r in recs) and mon.adapters == {} and mon.heard() is None


def _text(state: MonitorState) -> str:
    console = Console(record=True, width=120, color_system=None)
    console.print(render(state))
    return console.export_text()


def test_ui_shows_how_much_the_stream_has_adapted():
    rec = WindowRecord(t=1.0, label="sad", scores={k: 1 / 8 for k in EMOTIONS}, smoothed={k: 1 / 8 for k in EMOTIONS},
                       speech=0.9, level_db=-20.0, adapted_s=42.4)
    state = MonitorState(adapt=True, profile="anna")
    assert "adapting: no speech heard yet" in _text(state)
    state.update(rec)
    assert "adapted: 42 s of speech  (profile anna)" in _text(state)
    off = MonitorState()
    off.update(rec)
    assert "adapting off" in _text(off)


def test_the_unadapted_head_answers_a_new_voice_and_gives_way_as_it_is_heard(adaptive_model):
    """A new voice (weight 0) gets the unadapted head's answer; the speaker's own statistics alone
    (weight 1) the adapted head's; in between, the mixture of the two by the weight."""
    from emomon.models.adapt import SpeakerState

    m = adaptive_model
    assert m.has_unadapted_head
    with torch.inference_mode():
        f = m.features(torch.from_numpy(_signal(3)[None]))
        base = torch.softmax(m.base_head((f - m.base_mean) / m.base_scale) / m.base_temperature, dim=-1)
        st = m.new_adapter().state()
        adapted = torch.softmax(m.head(((f - torch.as_tensor(st.mean, dtype=f.dtype)) / torch.as_tensor(st.std, dtype=f.dtype)
                                        - m.feat_mean) / m.feat_scale) / m.temperature, dim=-1)
        p = {w: torch.softmax(m.classify_features(f, SpeakerState(st.mean, st.std, w)), dim=-1) for w in (0.0, 0.3, 1.0)}
    assert not torch.allclose(base, adapted, atol=1e-3)
    assert torch.allclose(p[0.0], base, atol=1e-5) and torch.allclose(p[1.0], adapted, atol=1e-5)
    assert torch.allclose(p[0.3], 0.7 * base + 0.3 * adapted, atol=1e-5)
    # the plain forward pass (no adapter) is the new voice
    with torch.inference_mode():
        assert torch.allclose(torch.softmax(m(torch.from_numpy(_signal(3)[None])), dim=-1), base, atol=1e-5)


def test_shift_aware_temperature_in_the_model(adaptive_model_dir, tmp_path):
    """params.shift divides both heads' logits by max(1, d/d0)**b, d measured with the plain head's
    statistics: inputs far from them get flatter answers, near ones are unchanged; a malformed
    shift is one clear error naming the field."""
    import json
    import shutil

    from emomon.errors import ModelError
    from emomon.models import load_model

    plain = load_model(adaptive_model_dir, device="cpu")
    with torch.inference_mode():
        f = plain.features(torch.from_numpy(_signal(5)[None]))
        d = float(((f - plain.base_mean) / plain.base_scale).square().mean())
    shifted = tmp_path / "shifted"
    shutil.copytree(adaptive_model_dir, shifted)
    cfg = json.loads((shifted / "config.json").read_text())
    cfg["params"]["shift"] = {"d0": d / 4, "b": 1.0}  # this input lies 4 times further than d0: 4 times the temperature
    (shifted / "config.json").write_text(json.dumps(cfg))
    m = load_model(shifted, device="cpu")
    with torch.inference_mode():
        base = torch.softmax(m.base_head((f - m.base_mean) / m.base_scale) / (m.base_temperature * 4.0), dim=-1)
        assert torch.allclose(torch.softmax(m.classify_features(f), dim=-1), base, atol=1e-5)
        assert torch.softmax(m.classify_features(f), dim=-1).max() < torch.softmax(plain.classify_features(f), dim=-1).max()
        near = m.base_mean[None, :].clone()  # the training statistics' own mean: d = 0, factor 1
        assert torch.allclose(m.classify_features(near), plain.classify_features(near), atol=1e-5)
    for bad in ({"d0": 0, "b": 1}, {"d0": 1}, {"d0": 1, "b": -1}, "x"):
        cfg["params"]["shift"] = bad
        (shifted / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(ModelError, match="params.shift"):
            load_model(shifted, device="cpu")


def test_shift_aware_temperature_of_a_plain_model(tiny_whisper_dir):
    from emomon.labels import EMOTIONS
    from emomon.models.layer_head import LayerHeadModel

    cfg = LayerHeadModel.make_config(EMOTIONS, layers=[1, 2], backbone_source=str(tiny_whisper_dir), shift={"d0": 0.5, "b": 2.0})
    m = LayerHeadModel(cfg).eval()
    n = m.head.in_features
    m.set_head(np.zeros(n), np.ones(n), np.random.default_rng(0).standard_normal((8, n)), np.zeros(8), temperature=2.0)
    f = torch.full((1, n), 2.0)  # standardised: z = 2 everywhere, d = 4 = 8 d0: factor 8 ** 2
    with torch.inference_mode():
        assert torch.allclose(m.classify_features(f), m.head(f) / (2.0 * 64.0), atol=1e-5)
        assert torch.allclose(m.classify_features(f * 0.1), m.head(f * 0.1) / 2.0, atol=1e-5)  # d = 0.04 < d0: unchanged
    assert cfg.params["shift"] == {"d0": 0.5, "b": 2.0}

"""Shared fixtures: a tiny deterministic model saved and re-loaded through the real path, and
synthesized audio (tests never need ../shared for core behaviour)."""

from __future__ import annotations

import math
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NoReturn

import numpy as np
import pytest
import torch

from emomon.labels import EMOTIONS
from emomon.models import EmotionModel, ModelConfig, load_model, register_architecture

def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background by a non-interactive shell (``cmd &``, ``nohup``)
    inherits SIGINT ignored, and so would every process it starts: the Ctrl-C tests send SIGINT
    to ``emomon`` subprocesses and need it delivered. A handler here (unlike an ignored signal)
    is reset to the default when a child executes, so those children see SIGINT as a user's
    terminal would deliver it."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


SR = 16000
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RAVDESS = SHARED / "data" / "ravdess-speech"


@register_architecture("test-energy")
class EnergyTestModel(EmotionModel):
    """Deterministic toy classifier: ``(batch, samples)`` → logits ``(batch, 8)``.

    Features ``(batch, 3)`` = [log RMS, zero-crossing rate, 1] → fixed linear map (a saved
    parameter, so save/load is exercised). Loud high-pitched audio leans "angry"/"surprised",
    low quiet audio "sad"/"calm".
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        g = torch.Generator().manual_seed(int(config.params.get("seed", 0)))
        w = torch.randn(3, len(config.labels), generator=g) * 0.1
        # hand-made directions so the label depends on the audio in a known way
        idx = {lab: i for i, lab in enumerate(config.labels)}
        w[0, idx["angry"]] += 2.0  # loudness
        w[1, idx["surprised"]] += 20.0  # zero-crossing rate (pitch)
        w[0, idx["sad"]] -= 2.0
        self.proj = torch.nn.Parameter(w)

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x = waveforms.float()
        rms = x.pow(2).mean(dim=1).clamp_min(1e-10).sqrt()
        logrms = torch.log10(rms) + 2.0  # ~0 at -40 dBFS
        zcr = (x[:, 1:] * x[:, :-1] < 0).float().mean(dim=1)
        feats = torch.stack([logrms, zcr, torch.ones_like(rms)], dim=1)  # (batch, 3)
        return feats @ self.proj  # (batch, labels)


def make_test_model_dir(directory: Path, window: float = 1.0, hop: float = 0.25) -> Path:
    cfg = ModelConfig(architecture="test-energy", labels=list(EMOTIONS), sample_rate=SR, window=window, hop=hop,
                      params={"seed": 0}, meta={"description": "test model (energy + ZCR)"})
    EnergyTestModel(cfg).save(directory)
    return directory


@pytest.fixture(scope="session")
def test_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_model_dir(tmp_path_factory.mktemp("model") / "test-energy")


@pytest.fixture(scope="session")
def test_model(test_model_dir: Path) -> EmotionModel:
    return load_model(test_model_dir, device="cpu")


def synth_speechlike(seconds: float, sr: int = SR, f0: float = 180.0, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    """A voiced-sounding test signal ``(samples,)``: harmonics of ``f0`` with a syllable envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    sig = sum((0.6 ** k) * np.sin(2 * math.pi * f0 * (k + 1) * t) for k in range(6))
    env = 0.55 + 0.45 * np.sin(2 * math.pi * 3.0 * t)
    x = amp * sig * env / 2.0 + 0.003 * rng.standard_normal(t.size)
    return x.astype(np.float32)


@pytest.fixture
def wav_file(tmp_path: Path) -> Path:
    import soundfile as sf

    path = tmp_path / "speech.wav"
    sf.write(path, synth_speechlike(3.0), SR)
    return path


@pytest.fixture
def silent_then_loud_file(tmp_path: Path) -> Path:
    import soundfile as sf

    path = tmp_path / "silence_loud.wav"
    x = np.concatenate([np.zeros(2 * SR, dtype=np.float32), synth_speechlike(2.0, amp=0.5)])
    sf.write(path, x, SR)
    return path


def unavailable(msg: str, ci_installs: str) -> NoReturn:
    """Skip the test for want of something (``msg``) locally; fail it in CI, which must install ``ci_installs``."""
    import os

    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{msg}: CI must install {ci_installs}")
    pytest.skip(msg)


def needs(tool: str) -> str:
    """The path of a command-line tool a test needs: skipped locally without it, a failure in CI."""
    import shutil

    path = shutil.which(tool)
    if path is None:
        unavailable(f"{tool} is not installed", "it (scripts/test.sh)")
    return path


AUDIO_STACK = "pulseaudio libportaudio2 libasound2-plugins"
"""What CI installs for the tests on a (virtual) audio device."""


@contextmanager
def virtual_microphones(runtime: Path, count: int = 1) -> Iterator[dict[str, str]]:
    """A private pulseaudio with ``count`` pipe-source virtual microphones (``scripts/virtmic.sh
    start runtime count``: FIFOs ``runtime/virtmic``, ``runtime/virtmic2``, ...), stopped after;
    yields the environment to run under (``XDG_RUNTIME_DIR``; with several, ``XDG_CONFIG_HOME``
    too, where alsa-lib reads their device names). Skipped locally without pulseaudio, a failure in CI."""
    import os
    import shutil
    import subprocess

    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        unavailable("pulseaudio is not installed", AUDIO_STACK)
    script = str(REPO / "scripts" / "virtmic.sh")
    out = subprocess.run(["bash", script, "start", str(runtime), str(count)], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        unavailable(f"virtual microphone{'s' if count > 1 else ''} failed to start: {out.stderr.strip()}", AUDIO_STACK)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    if count > 1:
        env["XDG_CONFIG_HOME"] = str(runtime)
    try:
        yield env
    finally:
        subprocess.run(["bash", script, "stop", str(runtime)], capture_output=True, timeout=60)


SENTENCES = [
    "Kids are talking by the door.",
    "Dogs are sitting by the door.",
    "I really did not expect to see you here today.",
    "Please put the books back on the shelf when you are done.",
]


def spoken(path: Path, text: str, speed: int = 150, pitch: int = 50) -> Path:
    """Real synthesized speech (espeak-ng) written to ``path`` (22.05 kHz WAV)."""
    import subprocess

    subprocess.run([needs("espeak-ng"), "-s", str(speed), "-p", str(pitch), "-w", str(path), text], check=True, capture_output=True)
    return path


@pytest.fixture(scope="session")
def speech_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 3.5 s of synthesized English speech (espeak-ng), at 22.05 kHz."""
    return spoken(tmp_path_factory.mktemp("speech") / "speech.wav", " ".join(SENTENCES[:2]))


def default_model_available() -> bool:
    from emomon.models import shipped_models

    return "default" in shipped_models()


def emomon_command() -> list[str]:
    """argv prefix that runs the CLI in a fresh interpreter with the test architecture registered
    (``python -m emomon`` itself cannot know the ``test-energy`` architecture)."""
    import sys

    tests = str(Path(__file__).resolve().parent)
    code = (
        f"import sys; sys.path.insert(0, {tests!r}); import conftest; "
        "from emomon.cli import main; sys.argv[0] = 'emomon'; sys.exit(main(sys.argv[1:]))"
    )
    return [sys.executable, "-c", code]


@pytest.fixture
def one_thread():
    """Training tests on a busy 2-core CPU: one torch thread avoids OpenMP spin-wait slowdowns."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def help_imports(argvs: list[list[str]], modules: tuple[str, ...]) -> subprocess.CompletedProcess:
    """Run ``emomon`` with each of ``argvs`` (``--help`` s) in one fresh interpreter; the last line
    of its stdout is the sorted list of ``modules`` they imported (``[]``: none)."""
    import sys

    code = ("import sys; from emomon.cli import main\n"
            f"for argv in {argvs!r}:\n"
            "    try: main(argv)\n"
            "    except SystemExit: pass\n"
            f"print(sorted(m for m in {modules!r} if m in sys.modules))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


# -- a tiny adaptive model (speaker standardisation) on a tiny random Whisper ---------------------
def tiny_whisper(max_source_positions: int = 1500):  # noqa: ANN201 - a transformers.WhisperModel
    """A random (seed 0) 2-layer Hugging Face Whisper with d_model 16; skipped without transformers."""
    transformers = pytest.importorskip("transformers")
    cfg = transformers.WhisperConfig(
        num_mel_bins=80, d_model=16, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=32, max_source_positions=max_source_positions,
        max_target_positions=20, vocab_size=60, pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=3,
    )
    torch.manual_seed(0)
    return transformers.WhisperModel(cfg)


def make_tiny_whisper(directory: Path) -> Path:
    """A :func:`tiny_whisper` saved as a Hugging Face directory (a backbone source)."""
    tiny_whisper().save_pretrained(directory, safe_serialization=True)
    return directory


def make_adaptive_model_dir(directory: Path, backbone: Path, prior_weight: float = 20.0, layers: tuple[int, ...] = (1, 2),
                            unadapted_head: bool = True) -> Path:
    """An adaptive layer-head model (1 s windows, 0.25 s hop) with random heads (the adapted one and,
    as the shipped default has, an unadapted one) and a prior taken from quiet low voices (120 Hz,
    -30 dB), so louder, higher test signals differ from it."""
    from emomon.models.layer_head import LayerHeadModel

    cfg = LayerHeadModel.make_config(EMOTIONS, layers=list(layers), backbone="whisper-base", backbone_source=str(backbone),
                                     prior_weight=prior_weight, unadapted_head=unadapted_head)
    cfg.window, cfg.hop = 1.0, 0.25
    model = LayerHeadModel(cfg).eval()
    prior = np.stack([synth_speechlike(1.0, f0=f0, amp=0.03, seed=i) for i, f0 in enumerate((100, 110, 120, 130))])
    with torch.inference_mode():
        feats = model.features(torch.from_numpy(prior)).double().numpy()  # (4, F)
    n_feat = feats.shape[1]
    rng = np.random.default_rng(1)
    model.set_prior(feats.mean(axis=0), feats.var(axis=0) + 1e-4)
    model.set_head(np.zeros(n_feat), np.ones(n_feat), 0.3 * rng.standard_normal((len(EMOTIONS), n_feat)), np.zeros(len(EMOTIONS)))
    if unadapted_head:
        model.set_unadapted_head(feats.mean(axis=0), feats.std(axis=0) + 1e-2, 0.3 * rng.standard_normal((len(EMOTIONS), n_feat)),
                                 np.zeros(len(EMOTIONS)))
    model.save(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_whisper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_whisper(tmp_path_factory.mktemp("tiny-whisper"))


@pytest.fixture(scope="session")
def adaptive_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_whisper_dir: Path) -> Path:
    return make_adaptive_model_dir(tmp_path_factory.mktemp("adaptive") / "model", tiny_whisper_dir)


@pytest.fixture(scope="session")
def adaptive_model(adaptive_model_dir: Path) -> EmotionModel:
    return load_model(adaptive_model_dir, device="cpu")

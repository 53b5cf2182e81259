"""``emomon listen`` (the microphone, live) and ``emomon devices`` (the inputs it can listen to)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

from .. import defaults
from ..errors import EmomonError
from .common import adaptation, check_options, load, run_live
from .options import (AppendOpt, BackendChoice, BackendOpt, CollapseOpt, Compute, ComputeOpt, ForceOpt, HopOpt, JsonlOpt,
                      MinConfidenceOpt, MinSpeechOpt, ModelOpt, NoUiOpt, PlotOpt, PrecisionChoice, PrecisionOpt, ProfileOpt,
                      SilenceOpt, SmoothingOpt, VadMethod, VadOpt, VadThresholdOpt, WindowOpt, vad_options)

if TYPE_CHECKING:
    from ..stream.sources import InputDevice

DeviceOpt = typer.Option(None, "--device", "-d", metavar="NAME|INDEX", help="Input device name or index (see `emomon devices`); repeat it for several devices, "
                                                                            "each its own stream through the one model.")
DurationOpt = typer.Option(None, "--duration", metavar="SECONDS", help="Stop after this many seconds (wall time: a device that delivers nothing cannot keep the session going).", min=0.01)
StallTimeoutOpt = typer.Option(defaults.STALL_TIMEOUT_S, "--stall-timeout", metavar="SECONDS", min=0.0,
                               help="Stop with a device error when the device delivers no audio for this long (0: never).")
SilenceTimeoutOpt = typer.Option(defaults.SILENCE_TIMEOUT_S, "--silence-timeout", metavar="SECONDS", min=0.0,
                                 help="Stop with a device error when the device delivers nothing but digital silence (exact zeros: muted, or its source "
                                      "gone) for this long (0: never; it is warned about after --stall-timeout).")
AdaptOpt = typer.Option(None, "--adapt/--no-adapt", help="Adapt to the speaker's voice as speech is heard (off by default: it erases the emotion of a "
                                                         "session that holds only one; a --profile turns it on).")


def listen(
    device: Optional[List[str]] = DeviceOpt,
    model: str = ModelOpt,
    window: Optional[float] = WindowOpt,
    hop: Optional[float] = HopOpt,
    smoothing: float = SmoothingOpt,
    vad: VadMethod = VadOpt,
    vad_threshold: float = VadThresholdOpt,
    min_speech: float = MinSpeechOpt,
    silence_db: float = SilenceOpt,
    min_confidence: Optional[float] = MinConfidenceOpt,
    duration: Optional[float] = DurationOpt,
    stall_timeout: float = StallTimeoutOpt,
    silence_timeout: float = SilenceTimeoutOpt,
    jsonl: Optional[Path] = JsonlOpt,
    force: bool = ForceOpt,
    append: bool = AppendOpt,
    plot: Optional[Path] = PlotOpt,
    no_ui: bool = NoUiOpt,
    adapt: Optional[bool] = AdaptOpt,
    profile: Optional[str] = ProfileOpt,
    collapse_check: bool = CollapseOpt,
    compute: Compute = ComputeOpt,
    precision: PrecisionChoice = PrecisionOpt,
    backend: BackendChoice = BackendOpt,
) -> None:
    """Monitor the microphone live (Ctrl-C or SIGTERM stops, exit 0: the log is flushed, the plot drawn, the profile saved;
    a device that stops delivering audio ends it with a device error, exit 1)."""
    from ..stream.api import microphone_monitor
    from ..stream.familiarity import collapse_options
    from ..stream.monitor import MonitorConfig

    check_options(jsonl=jsonl, plot=plot, force=force, append=append, adapt=adapt, profile=profile, window=window)
    devs = listen_devices(device or [], profile)  # a bad --device fails before the model loads
    m = load(model, compute, window, precision, backend)
    cfg = MonitorConfig(window=window, hop=hop, smoothing=smoothing, vad=vad_options(vad, vad_threshold, min_speech, silence_db),
                        min_confidence=min_confidence, duration=duration, adapt=adaptation(m, model, adapt, profile),
                        collapse=collapse_options(collapse_check))
    monitor = microphone_monitor(model=m, devices=[d.index for d in devs], config=cfg, profile=profile,
                                 stall_timeout=stall_timeout, silence_timeout=silence_timeout)
    title = f"emomon · {devs[0].name}" if len(devs) == 1 else "emomon"
    run_live(monitor, model, title, no_ui=no_ui, jsonl=jsonl, force=force, append=append, plot=plot)
    # Ctrl-C (or SIGTERM) is the normal way to stop listening: exit 0 either way.


def listen_devices(specs: List[str], profile: Optional[str]) -> List["InputDevice"]:
    """The ``--device``s of ``listen`` (none: the default input), resolved and checked; a
    ``--profile`` is one speaker's, so it is refused with several devices."""
    from ..stream.api import check_device_profile
    from ..stream.sources import resolve_input_devices

    check_device_profile(len(specs), profile)
    return resolve_input_devices(specs)


def devices() -> None:
    """List audio input devices (the default is marked *)."""
    from rich.console import Console
    from rich.table import Table

    from ..stream import sources

    devs = sources.list_input_devices()
    if not devs:
        raise EmomonError("audio input", "no input device found")
    table = Table(show_header=True, header_style="bold")
    for col in ("", "index", "name", "channels", "rate", "host API"):
        table.add_column(col)
    for d in devs:
        table.add_row("*" if d.is_default else "", str(d.index), d.name, str(d.channels), f"{d.default_rate:.0f}", d.hostapi)
    Console().print(table)

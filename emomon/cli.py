"""The ``emomon`` command line: a thin layer over emomon's Python API.

Commands: ``listen`` (microphone), ``file`` (the speech segments of files, or ``--stream`` through
the live pipeline), ``demo``, ``devices``, ``models``, ``profiles`` (speaker profiles);
``train``/``data``/``report`` are plugged in by :mod:`emomon.training`, ``batch`` (Ray) by :mod:`emomon.batch.cli`. Each command parses its options and calls the API
(:mod:`emomon.stream`, :mod:`emomon.timeline`). Every expected error is one stderr line
``emomon: error: <what>: <why>`` and a non-zero exit, never a traceback. Nothing heavy is
imported until a command runs, so every ``--help`` is instant.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, List, Optional

import typer

from . import defaults
from .version import __version__
from .errors import EmomonError, Terminated
from .models.backend import BACKENDS, DEFAULT_BACKEND, EXPORT_FORMATS
from .models.onnx_cache import QUANTIZATIONS
from .models.shipped import shipped_models

if TYPE_CHECKING:
    from .features.vad import VadOptions
    from .models.base import EmotionModel
    from .profiles import Profile
    from .records import FileResult
    from .stream.sources import InputDevice

log = logging.getLogger("emomon")


def _version(value: bool) -> None:
    if value:
        print(f"emomon {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="emomon",
    help="Real-time speech emotion monitor (neutral, calm, happy, sad, angry, fearful, disgust, surprised).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Real-time speech emotion monitor (neutral, calm, happy, sad, angry, fearful, disgust, surprised)."""


class Compute(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


VadMethod = Enum("VadMethod", {m: m for m in defaults.VAD_METHODS}, type=str)  # type: ignore[misc]
PrecisionChoice = Enum("PrecisionChoice", {p: p for p in defaults.PRECISIONS}, type=str)  # type: ignore[misc]
BackendChoice = Enum("BackendChoice", {b: b for b in BACKENDS}, type=str)  # type: ignore[misc]
ExportFormat = Enum("ExportFormat", {f: f for f in EXPORT_FORMATS}, type=str)  # type: ignore[misc]
Quantize = Enum("Quantize", {q: q for q in QUANTIZATIONS}, type=str)  # type: ignore[misc]


def _model_help() -> str:
    names = ", ".join(shipped_models()) or "none installed"
    return f"Shipped model name ({names}) or a model directory (config.json + model.safetensors)."


_reported = [0]  # error lines printed by this run of main()

OPTION_NAMES = frozenset({
    "window", "hop", "smoothing", "duration", "min_confidence", "vad", "vad_threshold", "min_speech", "precision",
    "backend", "quantize", "profile", "adapt", "jsonl", "plot", "shard_size", "num_cpus", "actors", "batch_size",
    "cpus_per_actor", "gpus_per_actor", "address",
})
"""The option names the library's errors use for what the command line calls ``--window`` and so on."""


def flag_of(what: str) -> str:
    """An error's ``what`` as the command line says it: an option name the library uses (``window``,
    ``min_confidence``; ``precision=bf16`` with its value; several joined by ``/``) becomes its
    flag (``--window``, ``--min-confidence``, ``--precision bf16``); anything else is as it is."""
    parts = what.split("/")
    flags = []
    for part in parts:
        name, sep, value = part.partition("=")
        if name not in OPTION_NAMES:
            return what
        flags.append("--" + name.replace("_", "-") + (f" {value}" if sep else ""))
    return "/".join(flags)


def flag_message(message: str) -> str:
    """``message`` (``what: why``, as a file result's error) with its ``what`` as a flag (:func:`flag_of`)."""
    what, sep, why = message.partition(": ")
    return f"{flag_of(what)}{sep}{why}" if sep else message


def err(what: str, why: str) -> None:
    """Print one error line to stderr (the CLI's only error format)."""
    _reported[0] += 1
    print(f"emomon: error: {what}: {why}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# options shared by several commands (defaults from emomon.defaults)
# ----------------------------------------------------------------------------------------------
ModelOpt = typer.Option("default", "--model", "-m", help=_model_help(), metavar="NAME|DIR")
ComputeOpt = typer.Option(Compute.auto, "--compute", help="Where the model runs: auto (CUDA when available), cpu, cuda.")
BackendOpt = typer.Option(BackendChoice(DEFAULT_BACKEND), "--backend",
                          help="What runs the model: torch (every model), onnx (onnxruntime, no torch imported; layer-head models on Whisper: the model directory's model.onnx, else exported once into the cache).")
PrecisionOpt = typer.Option(PrecisionChoice(defaults.PRECISION), "--precision",
                            help="The encoder's number format: auto (bf16 where the hardware has it: AMX/AVX512-BF16 CPUs, CUDA; else fp32), fp32, bf16.")
WindowOpt = typer.Option(None, "--window", metavar="SECONDS", help=f"Window length in seconds, at least {defaults.MIN_WINDOW_S:g} (default: the model's; also the longest segment of `file`).")
HopOpt = typer.Option(None, "--hop", metavar="SECONDS", help="Hop between windows in seconds (default: the model's).", min=0.01)
SmoothingOpt = typer.Option(defaults.SMOOTHING, "--smoothing", metavar="FACTOR", help="EMA weight of the past, 0 (none) .. <1.", min=0.0, max=0.999)
VadOpt = typer.Option(defaults.VAD_METHOD, "--vad", help="Voice activity: silero (level-independent), energy (an RMS gate at --silence-db), off.")
VadThresholdOpt = typer.Option(defaults.VAD_THRESHOLD, "--vad-threshold", metavar="P", help="Silero speech probability that starts speech.", min=0.01, max=0.99)
MinSpeechOpt = typer.Option(defaults.MIN_SPEECH, "--min-speech", metavar="FRACTION", help="A window needs this fraction of speech to be classified.", min=0.0, max=1.0)
SilenceOpt = typer.Option(defaults.SILENCE_DB, "--silence-db", metavar="DBFS", help="With --vad energy: frames quieter than this RMS level (dBFS) are not speech.")
MinConfidenceOpt = typer.Option(None, "--min-confidence", help="Mark answers whose top probability is below P as uncertain (default: off).", min=0.0, max=1.0, metavar="P")
DurationOpt = typer.Option(None, "--duration", metavar="SECONDS", help="Stop after this many seconds of audio.", min=0.01)
ListenDurationOpt = typer.Option(None, "--duration", metavar="SECONDS", help="Stop after this many seconds (wall time: a device that delivers nothing cannot keep the session going).", min=0.01)
StallTimeoutOpt = typer.Option(defaults.STALL_TIMEOUT_S, "--stall-timeout", metavar="SECONDS", min=0.0,
                               help="Stop with a device error when the device delivers no audio for this long (0: never).")
SilenceTimeoutOpt = typer.Option(defaults.SILENCE_TIMEOUT_S, "--silence-timeout", metavar="SECONDS", min=0.0,
                                 help="Stop with a device error when the device delivers nothing but digital silence (exact zeros: muted, or its source gone) for this long (0: never; it is warned about after --stall-timeout).")
JsonlOpt = typer.Option(None, "--jsonl", metavar="PATH", help="Also log the session to this file: a header, every window, a summary (JSON lines).")
ForceOpt = typer.Option(False, "--force", help="Overwrite an existing --jsonl or --plot file.")
AppendOpt = typer.Option(False, "--append", help="Append a new session (with its own header) to an existing --jsonl file.")
NoUiOpt = typer.Option(False, "--no-ui", help="Write window records as JSON lines to stdout instead of the live screen.")
PlotOpt = typer.Option(None, "--plot", metavar="PATH", help="Draw the emotion timeline to this picture (.png, .svg, .pdf) at the end.")
CollapseOpt = typer.Option(defaults.COLLAPSE_CHECK, "--collapse-check/--no-collapse-check",
                           help=f"Say 'uncertain: unfamiliar voice' while over {defaults.COLLAPSE_SPAN_S:.0f} s one class holds > {defaults.COLLAPSE_SHARE:.0%} of the answers with small margins (file: with --stream).")
AdaptOpt = typer.Option(None, "--adapt/--no-adapt", help="Adapt to the speaker's voice as speech is heard (the default when the model can).")
FileAdaptOpt = typer.Option(None, "--adapt/--no-adapt", help="Adapt to the speaker: the files are one session, every segment classified with the statistics of all their speech (with --stream: on by default when the model can).")
ProfileOpt = typer.Option(None, "--profile", metavar="NAME", help="Start from the speaker profile NAME and save what is heard to it (see `emomon profiles`).")


def vad_options(vad: str, threshold: float, min_speech: float, silence_db: float) -> "VadOptions":
    from .features.vad import VadOptions

    return VadOptions(method=str(getattr(vad, "value", vad)), threshold=threshold, min_speech=min_speech, silence_db=silence_db)


@contextmanager
def loading(model: str) -> Iterator[None]:
    """A spinner on stderr while the model loads (only on a terminal)."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(f"loading model {model}…", spinner="dots"):
        yield


def load(model: str, compute: Compute, window: Optional[float] = None, precision: str = defaults.PRECISION,
         backend: str = DEFAULT_BACKEND) -> "EmotionModel":
    """The model, loaded on ``backend`` (a spinner on a terminal) with its encoder in ``precision``;
    ``window`` (``--window``) checked against it."""
    from .stream.api import open_model

    with loading(model):
        m = open_model(model, compute.value, getattr(precision, "value", precision), getattr(backend, "value", backend))
    check_window_fits(m, window)
    return m


def check_window_fits(m: "EmotionModel", window: Optional[float]) -> None:
    """Refuse a ``--window`` shorter than the loaded model's input takes (its front end's STFT,
    or its backbone's shortest input), before any audio reaches it."""
    if window is None:
        return  # the model's own window: its config was checked against the same needs
    needs, rate = m.input_needs, m.sample_rate
    if round(window * rate) < needs.min_samples:
        raise EmomonError("--window", f"{window:g} s is shorter than {needs.source} takes "
                                      f"({needs.min_samples} samples at {rate} Hz: at least {needs.min_samples / rate:.4g} s)")


def check_adapt_options(adapt: Optional[bool], profile: Optional[str]) -> None:
    """Refuse, before the model loads, a bad profile name or a profile without adaptation."""
    if profile is None:
        return
    from .profiles import check_name

    check_name(profile)
    if adapt is False:
        raise EmomonError("--profile", "needs adaptation (drop --no-adapt)")


def adaptation(m: "EmotionModel", model: str, adapt: Optional[bool], profile: Optional[str], default: bool = defaults.ADAPT) -> bool:
    """Whether to adapt to the speaker: ``adapt`` (``None``: ``default``) when ``m`` can; a model
    that cannot is a note on stderr when ``--adapt`` was asked for, an error with ``--profile``."""
    if m.adaptive:
        return default if adapt is None else adapt
    if profile is not None:
        raise EmomonError(f"--profile {profile}", f"model {model} cannot adapt to the speaker (it was not trained with speaker standardisation)")
    if adapt:
        print(f"emomon: note: model {model} cannot adapt to the speaker; running without adaptation", file=sys.stderr)
    return False


def check_outputs(jsonl: Optional[Path], plot: Optional[Path], force: bool, append: bool) -> None:
    """Refuse, before the model loads, output files that would clobber something."""
    from .output.files import check_output_path, check_plot_path

    if jsonl is not None:
        check_output_path(jsonl, "jsonl", force, append)
    if plot is not None:
        check_plot_path(plot, force)


def run_live(monitor, model: str, title: str, *, no_ui: bool, jsonl: Optional[Path], force: bool, append: bool,
             plot: Optional[Path]) -> bool:  # noqa: ANN001
    """Run a live session into its sinks and print the summary line; True when it ran to the end."""
    from .stream.api import session_sinks
    from .stream.session import run_session, summary_line
    from .stream.sinks import ProfileSaver

    sinks = session_sinks(monitor, title=title, screen=not no_ui, jsonl=jsonl, append=append, force=force, plot=plot)
    summary = run_session(monitor, sinks, model)
    print(summary_line(summary), file=sys.stderr)
    if plot is not None:
        print(f"emomon: timeline drawn to {plot}", file=sys.stderr)
    for sink in sinks:
        if isinstance(sink, ProfileSaver) and sink.saved is not None and monitor.profile is not None:
            profile_saved(monitor.profile.name, monitor.profile.seconds, sink.saved)
    return summary.completed


def profile_saved(name: str, seconds: float, path: Path) -> None:
    print(f"emomon: profile {name} saved: {seconds:.0f} s of speech heard in all ({path})", file=sys.stderr)


# ----------------------------------------------------------------------------------------------
# listen
# ----------------------------------------------------------------------------------------------
@app.command()
def listen(
    device: Optional[List[str]] = typer.Option(None, "--device", "-d", metavar="NAME|INDEX", help="Input device name or index (see `emomon devices`); repeat it for several devices, each its own stream through the one model."),
    model: str = ModelOpt,
    window: Optional[float] = WindowOpt,
    hop: Optional[float] = HopOpt,
    smoothing: float = SmoothingOpt,
    vad: VadMethod = VadOpt,
    vad_threshold: float = VadThresholdOpt,
    min_speech: float = MinSpeechOpt,
    silence_db: float = SilenceOpt,
    min_confidence: Optional[float] = MinConfidenceOpt,
    duration: Optional[float] = ListenDurationOpt,
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
    from .stream.api import microphone_monitor
    from .stream.familiarity import CollapseOptions
    from .stream.monitor import MonitorConfig
    from .features.windows import check_window

    check_outputs(jsonl, plot, force, append)
    check_adapt_options(adapt, profile)
    check_window(window)
    devs = listen_devices(device or [], profile)  # a bad --device fails before the model loads
    m = load(model, compute, window, precision, backend)
    cfg = MonitorConfig(window=window, hop=hop, smoothing=smoothing, vad=vad_options(vad, vad_threshold, min_speech, silence_db),
                        min_confidence=min_confidence, duration=duration, adapt=adaptation(m, model, adapt, profile),
                        collapse=CollapseOptions() if collapse_check else None)
    monitor = microphone_monitor(model=m, devices=[d.index for d in devs], config=cfg, profile=profile,
                                 stall_timeout=stall_timeout, silence_timeout=silence_timeout)
    title = f"emomon · {devs[0].name}" if len(devs) == 1 else "emomon"
    run_live(monitor, model, title, no_ui=no_ui, jsonl=jsonl, force=force, append=append, plot=plot)
    # Ctrl-C (or SIGTERM) is the normal way to stop listening: exit 0 either way.


def listen_devices(specs: List[str], profile: Optional[str]) -> List["InputDevice"]:
    """The ``--device``s of ``listen`` (none: the default input), resolved and checked; a
    ``--profile`` is one speaker's, so it is refused with several devices."""
    from .stream.api import check_device_profile
    from .stream.sources import resolve_input_devices

    check_device_profile(len(specs), profile)
    return resolve_input_devices(specs)


# ----------------------------------------------------------------------------------------------
# file
# ----------------------------------------------------------------------------------------------
def _stream_only(**given: object) -> None:
    used = [name for name, value in given.items() if value not in (None, False)]
    if used:
        raise EmomonError(", ".join(used), "only apply with --stream")


@app.command("file")
def file_cmd(
    paths: List[str] = typer.Argument(..., metavar="PATH...", help="Audio files, folders (searched recursively) or globs."),
    model: str = ModelOpt,
    fmt: Optional[Format] = typer.Option(None, "--format", "-f", help="table (the default), json (one object per file and line, segments included) or csv."),
    segments: bool = typer.Option(False, "--segments", help="csv/table: one row per speech segment instead of per file."),
    plot: Optional[Path] = PlotOpt,
    stream: bool = typer.Option(False, "--stream", help="Run the live streaming pipeline over the file (UI or --no-ui JSON lines)."),
    fast: bool = typer.Option(False, "--fast", help="With --stream: as fast as the model goes instead of real time."),
    window: Optional[float] = WindowOpt,
    hop: Optional[float] = HopOpt,
    smoothing: Optional[float] = typer.Option(None, "--smoothing", metavar="FACTOR", help=f"With --stream: EMA weight of the past, 0 (none) .. <1 (default {defaults.SMOOTHING}).", min=0.0, max=0.999),
    vad: VadMethod = VadOpt,
    vad_threshold: float = VadThresholdOpt,
    min_speech: float = MinSpeechOpt,
    silence_db: float = SilenceOpt,
    min_confidence: Optional[float] = MinConfidenceOpt,
    duration: Optional[float] = DurationOpt,
    jsonl: Optional[Path] = JsonlOpt,
    force: bool = ForceOpt,
    append: bool = AppendOpt,
    no_ui: bool = NoUiOpt,
    adapt: Optional[bool] = FileAdaptOpt,
    profile: Optional[str] = ProfileOpt,
    collapse_check: bool = CollapseOpt,
    compute: Compute = ComputeOpt,
    precision: PrecisionChoice = PrecisionOpt,
    backend: BackendChoice = BackendOpt,
) -> None:
    """The speech segments of files and their emotions, or --stream a file through the live pipeline."""
    from .features.windows import check_window
    from .timeline.inputs import expand_inputs

    check_outputs(jsonl, plot, force, append)
    check_adapt_options(adapt, profile)
    check_window(window)
    vad_opts = vad_options(vad, vad_threshold, min_speech, silence_db)
    inputs = list(expand_inputs(paths))
    if stream:
        if fmt is not None or segments:
            raise EmomonError("--format/--segments", "do not apply with --stream (it writes window records: --no-ui, --jsonl)")
        failed = _stream_files(inputs, model, compute, precision=precision, backend=backend, window=window, hop=hop, smoothing=smoothing, vad_opts=vad_opts,
                               min_confidence=min_confidence, duration=duration, adapt=adapt, profile=profile, fast=fast,
                               collapse_check=collapse_check, no_ui=no_ui, jsonl=jsonl, force=force, append=append, plot=plot)
        if failed:
            raise typer.Exit(1)
        return
    _stream_only(**{"--fast": fast, "--hop": hop, "--smoothing": smoothing, "--duration": duration, "--jsonl": jsonl,
                    "--append": append, "--no-ui": no_ui, "--no-collapse-check": not collapse_check})
    if plot is not None and len(inputs) != 1:
        raise EmomonError("--plot", f"draws the timeline of one file (got {len(inputs)})")
    if profile is not None and not adapt:
        raise EmomonError("--profile", "applies with --adapt (or --stream)")
    from .stream.api import open_profile
    from .timeline.analyze import FileOptions

    options = FileOptions(vad=vad_opts, window=window, min_confidence=min_confidence)
    m = load(model, compute, window, precision, backend)
    session = bool(adapt) and adaptation(m, model, adapt, profile)
    prof = open_profile(profile, m) if session else None  # a profile that does not fit fails before any work
    if _analyze(inputs, m, options, fmt or Format.table, segments, plot, session=session, profile=prof):
        raise typer.Exit(1)


def _stream_files(inputs: list[tuple[str, Optional[str]]], model: str, compute: Compute, *, precision: str, backend: str, window: Optional[float],
                  hop: Optional[float], smoothing: Optional[float], vad_opts: "VadOptions", min_confidence: Optional[float],
                  duration: Optional[float], adapt: Optional[bool], profile: Optional[str], fast: bool, collapse_check: bool, no_ui: bool,
                  jsonl: Optional[Path], force: bool, append: bool, plot: Optional[Path]) -> int:
    """``emomon file --stream``: the files that open stream, each one that does not (or an
    argument that names nothing) is one error line; returns how many failed (exit 130 on Ctrl-C)."""
    from .stream.api import file_monitor
    from .stream.familiarity import CollapseOptions
    from .stream.monitor import MonitorConfig

    bad: list[EmomonError] = [EmomonError(arg, why) for arg, why in inputs if why is not None]
    for exc in bad:
        err(flag_of(exc.what), exc.why)
    paths = [p for p, why in inputs if why is None]
    if not paths:
        return len(bad)  # each one said why
    m = load(model, compute, window, precision, backend)
    cfg = MonitorConfig(window=window, hop=hop, smoothing=defaults.SMOOTHING if smoothing is None else smoothing,
                        vad=vad_opts, min_confidence=min_confidence, duration=duration, adapt=adaptation(m, model, adapt, profile),
                        collapse=CollapseOptions() if collapse_check else None)

    def unreadable(exc: EmomonError) -> None:
        bad.append(exc)
        err(flag_of(exc.what), exc.why)

    try:
        monitor = file_monitor(paths, m, fast=fast, config=cfg, profile=profile, on_error=unreadable)
    except EmomonError:
        if len(bad) == len(inputs):
            return len(bad)  # no file could be opened: each one said why
        raise
    name = Path(monitor.streams[0]).name if len(monitor.streams) == 1 else "files"
    if not run_live(monitor, model, f"emomon · {name}", no_ui=no_ui, jsonl=jsonl, force=force, append=append, plot=plot):
        raise typer.Exit(130)
    return len(bad)


def _failed_input(path: str, why: str) -> "FileResult":
    from .records import FileResult

    return FileResult(path=path, duration=None, speech=0.0, label=None, scores=None, error=why)


def _file_results(inputs: list[tuple[str, Optional[str]]], m: "EmotionModel", options, advance) -> Iterator["FileResult"]:  # noqa: ANN001
    """Each input analysed on its own, in order (the windows of several files share batches)."""
    from .timeline.batched import analyze_batched

    ok = [i for i, (_, why) in enumerate(inputs) if why is None]
    results = analyze_batched([inputs[i][0] for i in ok], m, options, progress=lambda j, f: advance(ok[j], f))
    for i, (path, why) in enumerate(inputs):
        result = next(results) if why is None else _failed_input(path, why)
        advance(i, 1.0)
        yield result


def _session_results(inputs: list[tuple[str, Optional[str]]], m: "EmotionModel", options, advance,  # noqa: ANN001
                     profile: Optional["Profile"]) -> Iterator["FileResult"]:
    """The inputs as one adapted session (``--adapt``), in order; the profile saved."""
    from .timeline.session import analyze_session

    ok = [i for i, (_, why) in enumerate(inputs) if why is None]
    session = analyze_session([inputs[i][0] for i in ok], m, options=options, profile=profile,
                              progress=lambda j, f: advance(ok[j], f))
    if profile is not None:
        profile_saved(profile.name, profile.seconds, profile.path)
    results = dict(zip(ok, session.results))
    for i, (path, why) in enumerate(inputs):
        advance(i, 1.0)
        yield results[i] if i in results else _failed_input(path, why or "")


def _analyze(inputs: list[tuple[str, Optional[str]]], m: "EmotionModel", options, fmt: Format, segments: bool,  # noqa: ANN001
             plot: Optional[Path], session: bool = False, profile: Optional["Profile"] = None) -> int:
    """Analyse the inputs (each on its own, or as one adapted ``session``) and write the
    results; returns how many failed."""
    from .output.writers import make_writer

    writer = make_writer(fmt.value, m.labels, segments)
    failed = 0
    with file_progress(len(inputs), enabled=fmt == Format.table) as advance:
        results = _session_results(inputs, m, options, advance, profile) if session else _file_results(inputs, m, options, advance)
        for result in results:
            if result.error is not None:
                failed += 1
                err(result.path, flag_message(result.error))
            writer.write(result)
    writer.close()
    if plot is not None and not failed:
        from .output.plot import plot_file

        plot_file(result, plot, labels=m.labels)
        print(f"emomon: timeline drawn to {plot}", file=sys.stderr)
    return failed


@contextmanager
def file_progress(files: int, enabled: bool) -> Iterator:
    """A progress bar on stderr over ``files`` files (on a terminal, when ``enabled``);
    yields ``advance(i, fraction)``."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda i, f: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    done = [0.0] * files
    with Progress(TextColumn("analysing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("files", total=files)

        def advance(i: int, fraction: float) -> None:
            done[i] = max(done[i], fraction)
            bar.update(task, completed=sum(done))

        yield advance


# ----------------------------------------------------------------------------------------------
# devices, models
# ----------------------------------------------------------------------------------------------
@app.command()
def devices() -> None:
    """List audio input devices (the default is marked *)."""
    from rich.console import Console
    from rich.table import Table

    from .stream import sources

    devs = sources.list_input_devices()
    if not devs:
        raise EmomonError("audio input", "no input device found")
    table = Table(show_header=True, header_style="bold")
    for col in ("", "index", "name", "channels", "rate", "host API"):
        table.add_column(col)
    for d in devs:
        table.add_row("*" if d.is_default else "", str(d.index), d.name, str(d.channels), f"{d.default_rate:.0f}", d.hostapi)
    Console().print(table)


def _meta_summary(meta: dict) -> str:
    parts = []
    for key in ("description", "recipe", "protocol", "data"):
        if meta.get(key):
            parts.append(f"{key}: {meta[key]}" if key != "description" else str(meta[key]))
    if isinstance(meta.get("corpora"), list):
        parts.append(f"trained on: {', '.join(map(str, meta['corpora']))}")
    for key in ("ua", "wa", "f1"):
        v = meta.get(key)
        if isinstance(v, dict) and "mean" in v:
            v = v["mean"]
        if isinstance(v, (int, float)):
            parts.append(f"{key.upper()} {v * 100:.1f}%" if v <= 1 else f"{key.upper()} {v:.1f}")
    if meta.get("license"):
        parts.append(f"license: {meta['license']}")
    return "; ".join(parts) or "-"


@app.command()
def models() -> None:
    """List the trained models shipped with emomon."""
    from rich.console import Console
    from rich.padding import Padding
    from rich.text import Text

    from .models import read_config, resolve_model_dir

    names = shipped_models()
    if not names:
        print("no shipped models (give --model a model directory)")
        return
    console = Console()
    for i, name in enumerate(names):  # a block per model: it reads the same on a narrow terminal as on a wide one
        try:
            cfg = read_config(resolve_model_dir(name))
        except EmomonError as exc:
            console.print(Text(name, style="bold"), Text(f" unreadable: {exc.why}"))
            continue
        head = Text(name, style="bold")
        head.append(f"  {cfg.architecture} · window {cfg.window:g} s, hop {cfg.hop:g} s")
        if i:
            console.print()
        console.print(head)
        console.print(Padding(Text(f"labels ({len(cfg.labels)}): {', '.join(cfg.labels)}"), (0, 0, 0, 2)))
        console.print(Padding(Text(_meta_summary(cfg.meta)), (0, 0, 0, 2)))


@app.command("export")
def export_cmd(
    model: str = typer.Argument(..., metavar="NAME|DIR", help=_model_help()),
    fmt: ExportFormat = typer.Option(ExportFormat("onnx"), "--format", help="onnx: the backbone as an ONNX graph (model.onnx) beside the head and config."),
    quantize: Optional[Quantize] = typer.Option(None, "--quantize", help="int8: the graph's MatMul/Gemm weights in int8 (dynamic quantization; a quarter of the size)."),
    out: Path = typer.Option(..., "--out", metavar="DIR", help="The model directory to write (config.json, model.safetensors, model.onnx)."),
    force: bool = typer.Option(False, "--force", help="Overwrite a model or graph already in DIR."),
) -> None:
    """Export a model for another runtime: DIR then runs with --model DIR --backend onnx (layer-head models on Whisper)."""
    from .models.onnx_cache import prepare_export

    q = getattr(quantize, "value", quantize)
    prepare_export(model, out, q, force)  # every refusal before torch is imported
    from .models.export import export_onnx

    with loading(f"{model} (exporting to {fmt.value})"):
        path = export_onnx(model, out, quantize=q, force=force)
    size = (path / "model.onnx").stat().st_size / 1e6
    print(f"emomon: exported {model} to {path} (model.onnx {size:.0f} MB, {q or 'fp32'}); "
          f"run it with --model {path} --backend onnx", file=sys.stderr)


@app.command("profiles")
def profiles_cmd(
    delete: Optional[str] = typer.Option(None, "--delete", metavar="NAME", help="Delete the profile NAME."),
) -> None:
    """List the speaker profiles (--profile NAME): seconds of speech heard, last update, model features."""
    from .profiles import delete_profile, list_profiles, profiles_dir

    if delete is not None:
        print(f"deleted {delete_profile(delete)}")
        return
    infos = list_profiles()
    if not infos:
        print(f"no profiles (in {profiles_dir()})")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", caption=str(profiles_dir()))
    for col in ("name", "speech heard", "updated", "model features"):
        table.add_column(col, overflow="fold")
    for p in infos:
        if p.error is not None:
            table.add_row(p.name, "?", "?", f"unreadable: {p.error}")
        else:
            table.add_row(p.name, f"{p.seconds:.0f} s", p.updated or "-", p.model or "-")
    Console().print(table)


SAMPLE_CLIP = Path(__file__).resolve().parent / "samples" / "03-01-05-02-01-01-16.flac"


@app.command()
def demo(
    model: str = ModelOpt,
    fast: bool = typer.Option(False, "--fast", help="As fast as the model goes instead of real time."),
    no_ui: bool = NoUiOpt,
    compute: Compute = ComputeOpt,
    precision: PrecisionChoice = PrecisionOpt,
    backend: BackendChoice = BackendOpt,
) -> None:
    """Stream the shipped sample clip (RAVDESS actor 16, angry, strong) through the live pipeline."""
    if not SAMPLE_CLIP.is_file():
        raise EmomonError(str(SAMPLE_CLIP), "the sample clip is missing from this installation")
    from .stream.api import file_monitor

    monitor = file_monitor(str(SAMPLE_CLIP), load(model, compute, precision=precision, backend=backend), fast=fast)
    if not run_live(monitor, model, f"emomon · {SAMPLE_CLIP.name}", no_ui=no_ui, jsonl=None, force=False, append=False, plot=None):
        raise typer.Exit(130)


# ----------------------------------------------------------------------------------------------
# plug-ins from the training package, and the entry point
# ----------------------------------------------------------------------------------------------
def _register_plugins() -> None:
    for modname in ("emomon.training.cli", "emomon.training.cli_data", "emomon.batch.cli"):
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name and modname.startswith(exc.name):
                continue
            log.warning("cannot load %s: %s", modname, exc)
            continue
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break listen/file
            log.warning("cannot load %s: %s", modname, exc)
            continue
        register = getattr(mod, "register", None)
        if callable(register):
            register(app)


_register_plugins()


def _flags_as_flags(command) -> None:  # noqa: ANN001 - a click command or group
    """typer's help shows a boolean flag's type as ``<bool>``; a flag takes no value, so show none."""
    ctx = command.context_class(command, help_option_names=["-h", "--help"])
    help_option = command.get_help_option(ctx)
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _flags_as_flags(sub)


class PipeClosed(Exception):
    """stdout's reader went away (``emomon file ... | head -1``): a normal end, not an error."""


def _pipe_closed_passes(command) -> None:  # noqa: ANN001 - a click command or group
    """Let a closed stdout reach :func:`main` as :class:`PipeClosed`: click catches
    ``OSError(EPIPE)`` itself and exits 1, even outside standalone mode."""
    invoke = command.invoke

    def guarded(ctx):  # noqa: ANN001, ANN202
        try:
            return invoke(ctx)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise PipeClosed() from exc
            raise

    command.invoke = guarded


def _stdout_settled() -> Optional[OSError]:
    """Flush stdout; when that fails (closed pipe, full disk), point it at /dev/null so that
    Python's own flush at exit stays quiet, and return the error."""
    try:
        sys.stdout.flush()
        return None
    except OSError as exc:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
        return exc


def _pipe_closed() -> int:
    """The exit code when stdout's reader went away: 0 (a normal end), or 1 when an error line
    was printed before; stdout is pointed at /dev/null so nothing more is said."""
    _stdout_settled()
    return 1 if _reported[0] else 0


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point; returns the exit code (0 ok, 1 error, 2 usage, 130 interrupted).

    A closed stdout (``| head -1``) ends the run quietly: 0, or 1 when an error line had been
    printed before. An output that cannot be written (a full disk) is one error line and 1.
    """
    logging.basicConfig(
        level=logging.DEBUG if os.environ.get("EMOMON_DEBUG") else logging.WARNING,
        format="emomon: %(levelname)s: %(message)s",
    )
    _reported[0] = 0
    rc = _run(argv)
    problem = _stdout_settled()
    if problem is not None and problem.errno == errno.EPIPE:
        rc = _pipe_closed()
    elif problem is not None and rc == 0:
        err("stdout", f"cannot write ({problem.strerror or problem})")
        rc = 1
    _exit_now_if_stuck(rc)
    return rc


def _exit_now_if_stuck(rc: int) -> None:
    """End the process with ``os._exit(rc)`` when an audio stream had to be abandoned (a device
    that stalled): PortAudio's own clean-up at exit would wait for it forever. Everything is
    written by now; stdout, stderr and the log handlers are flushed first."""
    sources = sys.modules.get("emomon.stream.sources")
    if sources is None or not sources.abandoned_streams():
        return
    log.debug("exiting at once: the input stream of %s was abandoned", ", ".join(sources.abandoned_streams()))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    logging.shutdown()
    os._exit(rc)


def _run(argv: Optional[List[str]]) -> int:
    """Run the command line ``argv``; every expected error one line on stderr. Returns the exit code."""
    command = typer.main.get_command(app)
    _flags_as_flags(command)
    _pipe_closed_passes(command)
    try:
        rv = command.main(args=argv, prog_name="emomon", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except PipeClosed:
        return _pipe_closed()
    except SystemExit as exc:  # rich ends a write to a closed pipe with SystemExit(1)
        if isinstance(exc.__context__, OSError) and exc.__context__.errno == errno.EPIPE:
            return _pipe_closed()
        raise
    except typer.Abort:  # Ctrl-C outside our loops
        print("", file=sys.stderr)
        return 130
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except typer.TyperException as exc:  # click's (vendored) usage errors
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message())
            return 0
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            print(ctx.get_usage(), file=sys.stderr)
        print(f"emomon: error: {exc.format_message()}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except EmomonError as exc:
        err(flag_of(exc.what), exc.why)
        return 1
    except KeyboardInterrupt:
        return 130
    except Terminated:  # a second SIGTERM while a live session closed
        return 143
    except BrokenPipeError:  # raised outside a command (click's own output)
        return _pipe_closed()
    except Exception as exc:  # noqa: BLE001 - never a traceback; EMOMON_DEBUG=1 shows it
        if os.environ.get("EMOMON_DEBUG"):
            raise
        why = str(exc).splitlines()[0] if str(exc) else ""
        err("internal error", f"{type(exc).__name__}: {why} (set EMOMON_DEBUG=1 for the traceback)")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

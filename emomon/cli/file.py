"""``emomon file``: the speech segments of files and their emotions (:mod:`emomon.timeline`), or
``--stream`` the files through the live pipeline (:mod:`emomon.stream`)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, List, Optional

import typer

from .. import defaults
from ..errors import EmomonError
from .common import adaptation, check_options, load, profile_saved, run_live
from .options import (AppendOpt, BackendChoice, BackendOpt, CollapseOpt, Compute, ComputeOpt, ForceOpt, Format, HopOpt,
                      JsonlOpt, MinConfidenceOpt, MinSpeechOpt, ModelOpt, NoUiOpt, PlotOpt, PrecisionChoice, PrecisionOpt,
                      ProfileOpt, SilenceOpt, VadMethod, VadOpt, VadThresholdOpt, WindowOpt, vad_options)
from .process import err, flag_message

if TYPE_CHECKING:
    from ..features.vad import VadOptions
    from ..models.base import EmotionModel
    from ..profiles import Profile
    from ..records import FileResult
    from ..timeline.analyze import FileOptions

Inputs = List["tuple[str, Optional[str]]"]  # (path, why it names nothing to analyse, or None)
Advance = Callable[[int, float], None]  # advance(file index, fraction of its work done)

DurationOpt = typer.Option(None, "--duration", metavar="SECONDS", help="Stop after this many seconds of audio.", min=0.01)
AdaptOpt = typer.Option(None, "--adapt/--no-adapt", help="Adapt to the speaker: the files are one session, every segment classified with the statistics of all their "
                                                         "speech (off by default: it erases the emotion of a session that holds only one).")


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
    adapt: Optional[bool] = AdaptOpt,
    profile: Optional[str] = ProfileOpt,
    collapse_check: bool = CollapseOpt,
    compute: Compute = ComputeOpt,
    precision: PrecisionChoice = PrecisionOpt,
    backend: BackendChoice = BackendOpt,
) -> None:
    """The speech segments of files and their emotions, or --stream a file through the live pipeline."""
    from ..timeline.inputs import expand_inputs

    check_options(jsonl=jsonl, plot=plot, force=force, append=append, adapt=adapt, profile=profile, window=window)
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
    if _analyze_inputs(inputs, model, compute, precision, backend, vad_opts, window, min_confidence, fmt, segments, plot, adapt, profile):
        raise typer.Exit(1)


def _stream_only(**given: object) -> None:
    """Refuse the options given (not ``None``/``False``) that only apply with ``--stream``."""
    used = [name for name, value in given.items() if value not in (None, False)]
    if used:
        raise EmomonError(", ".join(used), "only apply with --stream")


def _analyze_inputs(inputs: Inputs, model: str, compute: Compute, precision: str, backend: str, vad_opts: "VadOptions",
                    window: Optional[float], min_confidence: Optional[float], fmt: Optional[Format], segments: bool,
                    plot: Optional[Path], adapt: Optional[bool], profile: Optional[str]) -> int:
    """``emomon file`` without ``--stream``: the inputs' timelines, each on its own or (``--adapt``)
    as one session; returns how many failed."""
    from ..profiles import open_profile
    from ..timeline.analyze import FileOptions

    if plot is not None and len(inputs) != 1:
        raise EmomonError("--plot", f"draws the timeline of one file (got {len(inputs)})")
    if profile is not None and not adapt:
        raise EmomonError("--profile", "applies with --adapt (or --stream)")
    options = FileOptions(vad=vad_opts, window=window, min_confidence=min_confidence)
    m = load(model, compute, window, precision, backend)
    session = bool(adapt) and adaptation(m, model, adapt, profile)
    prof = open_profile(profile, m) if session else None  # a profile that does not fit fails before any work
    return _analyze(inputs, m, options, fmt or Format.table, segments, plot, session=session, profile=prof)


def _stream_files(inputs: Inputs, model: str, compute: Compute, *, precision: str, backend: str, window: Optional[float],
                  hop: Optional[float], smoothing: Optional[float], vad_opts: "VadOptions", min_confidence: Optional[float],
                  duration: Optional[float], adapt: Optional[bool], profile: Optional[str], fast: bool, collapse_check: bool, no_ui: bool,
                  jsonl: Optional[Path], force: bool, append: bool, plot: Optional[Path]) -> int:
    """``emomon file --stream``: the files that open stream, each one that does not (or an
    argument that names nothing) is one error line; returns how many failed (exit 130 on Ctrl-C)."""
    from ..stream.api import file_monitor
    from ..stream.familiarity import collapse_options
    from ..stream.monitor import MonitorConfig

    bad: list[EmomonError] = [EmomonError(arg, why) for arg, why in inputs if why is not None]
    for exc in bad:
        err(exc.what, exc.why)
    paths = [p for p, why in inputs if why is None]
    if not paths:
        return len(bad)  # each one said why
    m = load(model, compute, window, precision, backend)
    cfg = MonitorConfig(window=window, hop=hop, smoothing=defaults.SMOOTHING if smoothing is None else smoothing,
                        vad=vad_opts, min_confidence=min_confidence, duration=duration, adapt=adaptation(m, model, adapt, profile),
                        collapse=collapse_options(collapse_check))

    def unreadable(exc: EmomonError) -> None:
        bad.append(exc)
        err(exc.what, exc.why)

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


def _file_results(inputs: Inputs, m: "EmotionModel", options: "FileOptions", advance: Advance) -> Iterator["FileResult"]:
    """Each input analysed on its own, in order (:func:`~emomon.timeline.analyze_files`: the
    windows of several files share batches); an input that names nothing is its error result."""
    from ..timeline.analyze import analyze_files, error_result

    ok = [i for i, (_, why) in enumerate(inputs) if why is None]
    results = analyze_files([inputs[i][0] for i in ok], m, options=options, progress=lambda j, f: advance(ok[j], f))
    for i, (path, why) in enumerate(inputs):
        result = next(results) if why is None else error_result(path, why)
        advance(i, 1.0)
        yield result


def _session_results(inputs: Inputs, m: "EmotionModel", options: "FileOptions", advance: Advance,
                     profile: Optional["Profile"]) -> Iterator["FileResult"]:
    """The inputs as one adapted session (``--adapt``), in order; the profile saved."""
    from ..timeline.analyze import error_result
    from ..timeline.session import analyze_session

    ok = [i for i, (_, why) in enumerate(inputs) if why is None]
    session = analyze_session([inputs[i][0] for i in ok], m, options=options, profile=profile,
                              progress=lambda j, f: advance(ok[j], f))
    if profile is not None:
        profile_saved(profile.name, profile.seconds, profile.path)
    results = dict(zip(ok, session.results))
    for i, (path, why) in enumerate(inputs):
        advance(i, 1.0)
        yield results[i] if i in results else error_result(path, why or "")


def _analyze(inputs: Inputs, m: "EmotionModel", options: "FileOptions", fmt: Format, segments: bool,
             plot: Optional[Path], session: bool = False, profile: Optional["Profile"] = None) -> int:
    """Analyse the inputs (each on its own, or as one adapted ``session``) and write the
    results; returns how many failed."""
    from ..output.writers import make_writer

    writer = make_writer(fmt.value, m.labels, segments)
    failed = 0
    with file_progress(len(inputs), enabled=fmt == Format.table) as advance:
        results = _session_results(inputs, m, options, advance, profile) if session else _file_results(inputs, m, options, advance)
        for result in results:
            if result.error is not None:  # the library names options as the API does: here as flags
                result = replace(result, error=flag_message(result.error))
                failed += 1
                err(result.path, result.error)
            writer.write(result)
    writer.close()
    if plot is not None and not failed:
        from ..output.plot import plot_file

        plot_file(result, plot, labels=m.labels)
        print(f"emomon: timeline drawn to {plot}", file=sys.stderr)
    return failed


@contextmanager
def file_progress(files: int, enabled: bool) -> Iterator[Advance]:
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

"""The ``emomon`` command line: a thin layer over :mod:`emomon.stream` and the model registry.

Commands: ``listen`` (microphone), ``file`` (whole-clip predictions, or ``--stream`` through the
live pipeline), ``devices``, ``models``; ``train``/``data``/``report`` are plugged in by
:mod:`emomon.training` when present. Every expected error is one stderr line
``emomon: error: <what>: <why>`` and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import csv
import glob
import importlib
import json
import logging
import os
import statistics
import sys
from enum import Enum
from pathlib import Path
from typing import IO, Iterator, List, Optional

import typer

from .errors import EmomonError
from .models.registry import shipped_models

log = logging.getLogger("emomon")

AUDIO_SUFFIXES = {
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".webm",
    ".mka", ".aiff", ".aif", ".au", ".wma", ".caf",
}

app = typer.Typer(
    name="emomon",
    help="Real-time speech emotion monitor (neutral, calm, happy, sad, angry, fearful, disgust, surprised).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Compute(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _model_help() -> str:
    names = ", ".join(shipped_models()) or "none installed"
    return f"Shipped model name ({names}) or a model directory (config.json + model.safetensors)."


def err(what: str, why: str) -> None:
    """Print one error line to stderr (the CLI's only error format)."""
    print(f"emomon: error: {what}: {why}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# options shared by listen and file --stream
# ----------------------------------------------------------------------------------------------
ModelOpt = typer.Option("default", "--model", "-m", help=_model_help())
ComputeOpt = typer.Option(Compute.auto, "--compute", help="Where the model runs: auto (CUDA when available), cpu, cuda.")
WindowOpt = typer.Option(None, "--window", help="Window length in seconds (default: the model's).", min=0.01)
HopOpt = typer.Option(None, "--hop", help="Hop between windows in seconds (default: the model's).", min=0.01)
SmoothingOpt = typer.Option(0.6, "--smoothing", help="EMA weight of the past, 0 (none) .. <1.", min=0.0, max=0.999)
SilenceOpt = typer.Option(-45.0, "--silence-db", help="Windows quieter than this RMS level (dBFS) are silent.")
DurationOpt = typer.Option(None, "--duration", help="Stop after this many seconds of audio.", min=0.01)
JsonlOpt = typer.Option(None, "--jsonl", help="Also log every window as a JSON line to this file.")
ForceOpt = typer.Option(False, "--force", help="Overwrite an existing --jsonl file.")
AppendOpt = typer.Option(False, "--append", help="Append to an existing --jsonl file.")
NoUiOpt = typer.Option(False, "--no-ui", help="Write window records as JSON lines to stdout instead of the UI.")


def check_log_path(path: Optional[Path], force: bool, append: bool) -> None:
    """Refuse before any work starts when ``--jsonl`` would clobber a file."""
    if path is None:
        return
    if force and append:
        raise EmomonError("--jsonl", "use either --force or --append, not both")
    if path.is_dir():
        raise EmomonError(str(path), "is a directory")
    if path.exists() and not (force or append):
        raise EmomonError(str(path), "already exists (use --append to add to it or --force to overwrite it)")
    if not path.parent.exists():
        raise EmomonError(str(path), f"folder {path.parent} does not exist")


def open_log(path: Optional[Path], force: bool, append: bool) -> Optional[IO[str]]:
    if path is None:
        return None
    mode = "a" if append else ("w" if force else "x")
    try:
        return open(path, mode, encoding="utf-8")
    except FileExistsError:
        raise EmomonError(str(path), "already exists (use --append to add to it or --force to overwrite it)") from None
    except OSError as exc:
        raise EmomonError(str(path), f"cannot open for writing ({exc.strerror or exc})") from None


def _stream_config(window, hop, smoothing, silence_db, duration):  # noqa: ANN001, ANN202
    from .stream import MonitorConfig

    return MonitorConfig(window=window, hop=hop, smoothing=smoothing, silence_db=silence_db, duration=duration)


def run_monitor(monitor, *, log_path: Optional[Path], force: bool, append: bool, no_ui: bool, title: str) -> bool:  # noqa: ANN001
    """Drive ``monitor`` to the end: UI or JSON lines, plus the optional log.

    Returns ``True`` when it ran to the end, ``False`` when Ctrl-C stopped it (the log is
    flushed and closed either way).
    """
    from .stream.ui import MonitorState, render

    logf = open_log(log_path, force, append)
    states = {
        name: MonitorState(labels=monitor.labels, title=f"{title} — {name}" if len(monitor.streams) > 1 else title,
                           silence_db=monitor.config.silence_db)
        for name in monitor.streams
    }
    gen = monitor.records()
    latencies: list[float] = []
    completed = False

    def consume(on_record) -> None:  # noqa: ANN001
        for rec in gen:
            latencies.append(rec.latency_ms)
            if logf is not None:
                logf.write(json.dumps(rec.to_dict()) + "\n")
                logf.flush()
            on_record(rec)

    try:
        if no_ui:
            def emit(rec) -> None:  # noqa: ANN001
                sys.stdout.write(json.dumps(rec.to_dict()) + "\n")
                sys.stdout.flush()

            consume(emit)
        else:
            from rich.console import Console
            from rich.live import Live

            console = Console()
            width = console.width
            with Live(render(list(states.values()), width=width), console=console, refresh_per_second=10, transient=False) as live:
                def show(rec) -> None:  # noqa: ANN001
                    states[rec.stream].update(rec, monitor.stats(rec.stream).dropped_seconds)
                    live.update(render(list(states.values()), width=width))

                try:
                    consume(show)
                finally:
                    for s in states.values():
                        s.finished = True
                    live.update(render(list(states.values()), width=width))
            if not console.is_terminal:  # rich ends a non-terminal Live without a newline
                console.line()
        completed = True
    except KeyboardInterrupt:
        monitor.stop()
    finally:
        gen.close()  # stops sources and the worker
        if logf is not None:
            logf.flush()
            logf.close()
    stats = monitor.stats()
    if latencies:
        med = statistics.median(latencies)
        print(
            f"emomon: {stats.windows} windows, latency median {med:.0f} ms, dropped {stats.dropped_seconds:.2f} s of audio"
            + ("" if completed else " (stopped)"),
            file=sys.stderr,
        )
    return completed


# ----------------------------------------------------------------------------------------------
# listen
# ----------------------------------------------------------------------------------------------
@app.command()
def listen(
    device: Optional[str] = typer.Option(None, "--device", "-d", help="Input device name or index (see `emomon devices`)."),
    model: str = ModelOpt,
    window: Optional[float] = WindowOpt,
    hop: Optional[float] = HopOpt,
    smoothing: float = SmoothingOpt,
    silence_db: float = SilenceOpt,
    duration: Optional[float] = DurationOpt,
    jsonl: Optional[Path] = JsonlOpt,
    force: bool = ForceOpt,
    append: bool = AppendOpt,
    no_ui: bool = NoUiOpt,
    compute: Compute = ComputeOpt,
) -> None:
    """Monitor the microphone live (Ctrl-C stops; the log is flushed)."""
    from .stream import Monitor, MicrophoneSource, open_model, resolve_input_device

    check_log_path(jsonl, force, append)
    dev = resolve_input_device(device)  # a bad --device fails before the model loads
    m = open_model(model, compute.value)
    cfg = _stream_config(window, hop, smoothing, silence_db, duration)
    source = MicrophoneSource(dev.index, m.sample_rate, name="mic")
    monitor = Monitor(m, source, cfg)
    run_monitor(monitor, log_path=jsonl, force=force, append=append, no_ui=no_ui, title=f"emomon · {dev.name}")
    # Ctrl-C is the normal way to stop listening: exit 0 either way.


# ----------------------------------------------------------------------------------------------
# file
# ----------------------------------------------------------------------------------------------
def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES


def expand_inputs(args: List[str]) -> Iterator[tuple[str, Optional[str]]]:
    """Each argument → ``(path, None)`` per audio file, or ``(arg, why)`` when it names nothing.

    Folders are searched recursively and globs expanded (``**`` allowed); both keep only files
    with an audio suffix. A plain file is always tried, whatever its suffix.
    """
    for arg in args:
        p = Path(arg).expanduser()
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and _is_audio(f))
            if not files:
                yield arg, "no audio files in this folder"
            for f in files:
                yield str(f), None
        elif p.exists():
            yield str(p), None
        elif glob.has_magic(arg):
            matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(arg), recursive=True))
            files = []
            for mpath in matches:
                if mpath.is_dir():
                    files.extend(sorted(f for f in mpath.rglob("*") if f.is_file() and _is_audio(f)))
                elif _is_audio(mpath):
                    files.append(mpath)
            if not files:
                yield arg, "no audio file matches this pattern"
            for f in files:
                yield str(f), None
        else:
            yield arg, "no such file"


@app.command("file")
def file_cmd(
    paths: List[str] = typer.Argument(..., metavar="PATH...", help="Audio files, folders (searched recursively) or globs."),
    model: str = ModelOpt,
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Whole-clip output: table, json (one object per line) or csv."),
    stream: bool = typer.Option(False, "--stream", help="Run the live streaming pipeline over the file (UI or --no-ui JSON lines)."),
    fast: bool = typer.Option(False, "--fast", help="With --stream: as fast as the model goes instead of real time."),
    window: Optional[float] = WindowOpt,
    hop: Optional[float] = HopOpt,
    smoothing: float = SmoothingOpt,
    silence_db: float = SilenceOpt,
    duration: Optional[float] = DurationOpt,
    jsonl: Optional[Path] = JsonlOpt,
    force: bool = ForceOpt,
    append: bool = AppendOpt,
    no_ui: bool = NoUiOpt,
    compute: Compute = ComputeOpt,
) -> None:
    """Predict the emotion of whole clips, or --stream a file through the live pipeline."""
    from .stream import open_model

    if stream:
        check_log_path(jsonl, force, append)
        inputs = list(expand_inputs(paths))
        for arg, why in inputs:
            if why is not None:
                raise EmomonError(arg, why)
        from .stream import FileSource, Monitor

        m = open_model(model, compute.value)
        sources = [FileSource(p, m.sample_rate, realtime=not fast, name=p) for p, _ in inputs]
        monitor = Monitor(m, sources, _stream_config(window, hop, smoothing, silence_db, duration))
        name = Path(inputs[0][0]).name if len(inputs) == 1 else "files"
        if not run_monitor(monitor, log_path=jsonl, force=force, append=append, no_ui=no_ui, title=f"emomon · {name}"):
            raise typer.Exit(130)
        return

    if jsonl is not None or no_ui or fast:
        raise EmomonError("--jsonl/--no-ui/--fast", "only apply with --stream")
    m = open_model(model, compute.value)
    labels = m.labels
    failed = 0
    rows: list[tuple[str, str, dict[str, float]]] = []
    writer = None
    if fmt == Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["path", "label", *labels])
        sys.stdout.flush()
    for path, why in expand_inputs(paths):
        if why is None:
            try:
                pred = m.predict(path)
            except EmomonError as exc:
                why = exc.why if exc.what == path else f"{exc.what}: {exc.why}"
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
                why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if why is not None:
            failed += 1
            err(path, why)
            continue
        if fmt == Format.json:
            sys.stdout.write(json.dumps({"path": path, "label": pred.label, "scores": pred.scores}) + "\n")
            sys.stdout.flush()
        elif writer is not None:
            writer.writerow([path, pred.label, *(f"{pred.scores[lab]:.6f}" for lab in labels)])
            sys.stdout.flush()
        else:
            rows.append((path, pred.label, pred.scores))
    if fmt == Format.table and rows:
        _print_table(rows, labels)
    if failed:
        raise typer.Exit(1)


def _print_table(rows: list[tuple[str, str, dict[str, float]]], labels: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from .stream.ui import COLORS

    table = Table(show_header=True, header_style="bold")
    table.add_column("file", overflow="fold", ratio=1)
    table.add_column("emotion", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("next", no_wrap=True)
    for path, label, scores in rows:
        others = sorted((k for k in labels if k != label), key=lambda k: -scores[k])[:2]
        table.add_row(
            path,
            f"[bold {COLORS.get(label, 'white')}]{label}[/]",
            f"{scores[label] * 100:.0f}%",
            " · ".join(f"{k} {scores[k] * 100:.0f}%" for k in others),
        )
    Console().print(table)


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
    from rich.table import Table

    from .models import read_config, resolve_model_dir

    names = shipped_models()
    if not names:
        print("no shipped models (give --model a model directory)")
        return
    table = Table(show_header=True, header_style="bold")
    for col in ("name", "architecture", "labels", "window/hop", "about"):
        table.add_column(col, overflow="fold")
    for name in names:
        try:
            cfg = read_config(resolve_model_dir(name))
        except EmomonError as exc:
            table.add_row(name, "?", "?", "?", f"unreadable: {exc.why}")
            continue
        table.add_row(name, cfg.architecture, f"{len(cfg.labels)}: {', '.join(cfg.labels)}", f"{cfg.window:g}s/{cfg.hop:g}s", _meta_summary(cfg.meta))
    Console().print(table)


SAMPLE_CLIP = Path(__file__).resolve().parent / "samples" / "03-01-05-02-01-01-16.flac"


@app.command()
def demo(
    model: str = ModelOpt,
    fast: bool = typer.Option(False, "--fast", help="As fast as the model goes instead of real time."),
    no_ui: bool = NoUiOpt,
    compute: Compute = ComputeOpt,
) -> None:
    """Stream the shipped sample clip (RAVDESS actor 16, angry, strong) through the live pipeline."""
    if not SAMPLE_CLIP.is_file():
        raise EmomonError(str(SAMPLE_CLIP), "the sample clip is missing from this installation")
    file_cmd(
        paths=[str(SAMPLE_CLIP)], model=model, fmt=Format.table, stream=True, fast=fast, window=None, hop=None,
        smoothing=0.6, silence_db=-45.0, duration=None, jsonl=None, force=False, append=False, no_ui=no_ui,
        compute=compute,
    )


# ----------------------------------------------------------------------------------------------
# plug-ins from the training package, and the entry point
# ----------------------------------------------------------------------------------------------
def _register_plugins() -> None:
    for modname in ("emomon.training.cli", "emomon.training.cli_data"):
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


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point; returns the exit code (0 ok, 1 error, 2 usage, 130 interrupted)."""
    logging.basicConfig(
        level=logging.DEBUG if os.environ.get("EMOMON_DEBUG") else logging.WARNING,
        format="emomon: %(levelname)s: %(message)s",
    )
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="emomon", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
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
        err(exc.what, exc.why)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 141
    except Exception as exc:  # noqa: BLE001 - never a traceback; EMOMON_DEBUG=1 shows it
        if os.environ.get("EMOMON_DEBUG"):
            raise
        why = str(exc).splitlines()[0] if str(exc) else ""
        err("internal error", f"{type(exc).__name__}: {why} (set EMOMON_DEBUG=1 for the traceback)")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

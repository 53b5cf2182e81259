"""``emomon batch``: the command line of :func:`emomon.batch.run_batch` (registered by :mod:`emomon.cli.root`).

Nothing heavy is imported here: Ray, torch and pyarrow load when the command runs, so
``emomon --help`` and ``emomon batch --help`` stay instant.

(No ``from __future__ import annotations`` here: typer reads the command's annotations, which
name classes imported inside :func:`register`.)
"""

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, List, Optional

import typer

from .. import defaults

if TYPE_CHECKING:
    from .job import BatchProgress, BatchSummary


@contextmanager
def batch_progress(enabled: bool) -> Iterator[Callable[["BatchProgress"], None]]:
    """A progress bar on stderr (on a terminal): files analysed by this run, shards finished."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda p: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("analysing"), BarColumn(), MofNCompleteColumn(), TextColumn("files · {task.fields[shards]}"),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("files", total=None, shards="")

        def update(p: "BatchProgress") -> None:
            bar.update(task, completed=p.files_done, total=p.files_todo, shards=f"{p.shards_done}/{p.shards} shards")

        yield update


def summary_line(s: "BatchSummary") -> str:
    """The line printed at the end of a job."""
    if s.interrupted:
        return (f"emomon: interrupted: {s.done} of {s.shards} shards done in {s.out}; "
                "run the same command to resume")
    earlier = f" ({s.skipped} from an earlier run)" if s.skipped else ""
    errors = f", {s.errors} error row{'s' if s.errors > 1 else ''} (see the error column)" if s.errors else ", no errors"
    shards = f"{s.shards} shard{'s' if s.shards > 1 else ''}"
    return f"emomon: batch: {shards} in {s.out}{earlier}: {s.files} file{'s' if s.files > 1 else ''}{errors}; {s.seconds:.1f} s"


def register(app: typer.Typer) -> None:
    """Add the ``batch`` command to ``app``."""
    from ..cli.options import (BackendChoice, BackendOpt, Compute, ComputeOpt, MinConfidenceOpt, MinSpeechOpt, ModelOpt,
                               PrecisionChoice, PrecisionOpt, SilenceOpt, VadMethod, VadOpt, VadThresholdOpt, WindowOpt, vad_options)

    @app.command("batch")
    def batch_cmd(
        inputs: List[str] = typer.Argument(..., metavar="MANIFEST_OR_DIR", help="Folders (searched recursively), audio files, globs, or CSV/JSONL manifests (a 'path' column)."),
        out: Path = typer.Option(..., "--out", "-o", metavar="DIR", help="Folder of the results: part-NNNNN.parquet shards and _batch.json (the job's settings)."),
        address: Optional[str] = typer.Option(None, "--address", metavar="ADDR", help="Run on this Ray cluster (HEAD:6379, auto, ray://...) instead of a local Ray."),
        num_cpus: Optional[int] = typer.Option(None, "--num-cpus", min=1, help="CPUs of the local Ray (default: the machine's)."),
        actors: Optional[int] = typer.Option(None, "--actors", min=1, help="Model actors (default: as many as the cluster's CPUs hold, --cpus-per-actor each)."),
        cpus_per_actor: float = typer.Option(1.0, "--cpus-per-actor", min=0.01, help="CPUs each actor holds (its torch threads)."),
        gpus_per_actor: float = typer.Option(0.0, "--gpus-per-actor", min=0.0, help="GPUs each actor holds (with --compute cuda)."),
        batch_size: int = typer.Option(defaults.BATCH_FILES_PER_CALL, "--batch-size", min=1, help="Files per call of an actor."),
        shard_size: int = typer.Option(defaults.BATCH_SHARD_SIZE, "--shard-size", min=1, help="Files per Parquet shard (the unit a rerun skips)."),
        model: str = ModelOpt,
        compute: Compute = ComputeOpt,
        precision: PrecisionChoice = PrecisionOpt,
        backend: BackendChoice = BackendOpt,
        window: Optional[float] = WindowOpt,
        vad: VadMethod = VadOpt,
        vad_threshold: float = VadThresholdOpt,
        min_speech: float = MinSpeechOpt,
        silence_db: float = SilenceOpt,
        min_confidence: Optional[float] = MinConfidenceOpt,
        force: bool = typer.Option(False, "--force", help="Start again: remove an earlier job's shards and state in --out instead of refusing other settings."),
    ) -> None:
        """Analyse many files as `emomon file` does, on Ray, into Parquet shards (one row per file); a rerun resumes."""
        from ..features.windows import check_window
        from ..timeline.analyze import FileOptions
        from .job import RayOptions, import_ray, run_batch

        import_ray()  # without Ray: one line saying how to install it, before anything else

        check_window(window)
        options = FileOptions(vad=vad_options(vad, vad_threshold, min_speech, silence_db), window=window,
                              min_confidence=min_confidence)
        ray_options = RayOptions(address=address, num_cpus=num_cpus, actors=actors, cpus_per_actor=cpus_per_actor,
                                 gpus_per_actor=gpus_per_actor, batch_size=batch_size)
        with batch_progress(True) as progress:
            summary = run_batch(inputs, out, model, options=options, compute=compute.value, precision=precision.value,
                                backend=backend.value, shard_size=shard_size,
                                ray_options=ray_options, force=force, progress=progress)
        print(summary_line(summary), file=sys.stderr)
        if summary.interrupted:
            raise typer.Exit(130)
        if summary.errors:
            raise typer.Exit(1)


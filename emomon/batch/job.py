"""A batch job: list the inputs, skip the finished shards, analyse the rest on Ray, write each shard.

:func:`run_batch` is ``emomon batch``. The driver (this process) lists and shards the inputs
(:mod:`.inputs`), opens the job's state in OUT (:mod:`.state`: other settings are refused), and
sends the files of the unfinished shards through a Ray Data pipeline — a dataset of the files'
paths, ``map_batches`` over a pool of :class:`~emomon.batch.predictor.FilePredictor` actors
(each loads the model once). Results stream back to the driver, which writes a shard's Parquet
file (atomically) as soon as all its files are in: the workers only read audio, the driver alone
writes to OUT. Ctrl-C stops the job; the shards written so far stay and the same call resumes.

Ray is imported only here, when a job runs. Without ``address`` a local Ray is started with
``num_cpus`` (default: the machine's) and shut down at the end; with one, the job connects to
that cluster (``ray.init(address=...)``); a Ray already initialised in this process is used as is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from .. import defaults
from ..version import __version__
from ..errors import EmomonError
from .inputs import BatchItem, Shard, inputs_digest, list_inputs, plan_shards
from .parquet import ShardMeta, check_labels, write_shard
from .predictor import DEFAULT_BACKEND, ModelChoice
from .state import BatchSettings, BatchState

if TYPE_CHECKING:
    import pyarrow as pa

    from ..models.base import EmotionModel
    from ..timeline.analyze import FileOptions

log = logging.getLogger(__name__)

DEFAULT_SHARD_SIZE = defaults.BATCH_SHARD_SIZE
DEFAULT_BATCH_SIZE = defaults.BATCH_FILES_PER_CALL
MAX_BLOCKS = 2000
ADDRESS_TIMEOUT_S = 5.0
INSTALL_HINT = "pip install 'emomon[batch]'"


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide a job runs (none of it changes a row).

    ``address``: an existing cluster (``HOST:6379``, ``auto``, ``ray://...``), ``None`` for a local
    Ray with ``num_cpus`` (``None``: all of the machine's); ``actors``: the pool's size (``None``:
    as many as the cluster's CPUs allow at ``cpus_per_actor`` each); ``gpus_per_actor``: GPUs each
    actor holds (with ``compute="cuda"``); ``batch_size``: files per call of an actor.
    """

    address: str | None = None
    num_cpus: int | None = None
    actors: int | None = None
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self) -> None:
        for name, value, low in (("num_cpus", self.num_cpus, 1), ("actors", self.actors, 1), ("batch_size", self.batch_size, 1)):
            if value is not None and value < low:
                raise EmomonError(name, f"must be at least {low} (got {value})")
        if self.cpus_per_actor <= 0 or self.gpus_per_actor < 0:
            raise EmomonError("cpus_per_actor/gpus_per_actor", "CPUs must be above 0, GPUs at least 0")
        if self.address is not None and self.num_cpus is not None:
            raise EmomonError("num_cpus", "sizes a local Ray; a cluster (--address) has the CPUs its nodes give it")


@dataclass(frozen=True)
class BatchProgress:
    """Where a running job stands: files analysed of those to do in this run, shards finished of all."""

    files_done: int
    files_todo: int
    shards_done: int
    shards: int


@dataclass(frozen=True)
class BatchSummary:
    """How a job went. ``skipped``: shards finished by an earlier run; ``written``: by this one;
    ``errors``: error rows in all finished shards; ``interrupted``: stopped by Ctrl-C (the same
    call resumes)."""

    out: Path
    shards: int
    files: int
    skipped: int = 0
    written: int = 0
    errors: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    shard_paths: list[Path] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Shards finished in all."""
        return self.skipped + self.written

    @property
    def complete(self) -> bool:
        return self.done == self.shards


def import_ray() -> Any:
    """The ``ray`` module; an :class:`EmomonError` (one line: how to install it) without it."""
    try:
        import ray
        import ray.data  # noqa: F401 - the extra that emomon[batch] installs
    except ImportError as exc:
        missing = "" if exc.name in (None, "ray") else f" (its dependency {exc.name} is missing)"
        raise EmomonError("ray", f"not installed{missing}: emomon batch needs it: {INSTALL_HINT}") from None
    return ray


def describe_model(model: "str | Path | EmotionModel") -> tuple[str, str, list[str]]:
    """``(name, digest, labels)`` of a model without loading its weights: a shipped name or a
    directory is known by its config and its files' names and sizes, a loaded model by its config."""
    if not isinstance(model, (str, Path)):  # a loaded model (checking its class would import torch)
        cfg = model.config.to_dict()
        return cfg.get("architecture", "model"), _digest(cfg), list(model.labels)
    from ..models.config import read_config
    from ..models.shipped import resolve_model_dir, shipped_models

    directory = resolve_model_dir(model)
    cfg = read_config(directory)
    files = sorted((p.name, p.stat().st_size) for p in directory.iterdir() if p.is_file())
    name = str(model) if str(model) in shipped_models() else str(directory.resolve())
    return name, _digest([(directory / "config.json").read_text(encoding="utf-8"), files]), list(cfg.labels)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()


@contextmanager
def ray_session(ray: Any, options: RayOptions) -> Iterator[None]:
    """Ray, initialised for the job: connected to ``options.address``, or a local one; shut down
    at the end when this call started it (one already running in this process is left as is)."""
    if ray.is_initialized():
        log.info("using the Ray already initialised in this process")
        yield
        return
    what = f"address={options.address}" if options.address else "ray"
    debug = log.isEnabledFor(logging.DEBUG)
    if options.address is not None:
        check_address(options.address)
    try:
        ray.init(address=options.address, num_cpus=options.num_cpus, include_dashboard=False,
                 logging_level=logging.INFO if debug else logging.ERROR, log_to_driver=debug)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise EmomonError(what, f"cannot start or reach Ray ({_first_line(exc)})") from None
    try:
        yield
    finally:
        ray.shutdown()


def check_address(address: str) -> None:
    """An :class:`EmomonError` at once when nothing listens at ``HOST:PORT`` (``ray.init`` would
    retry for minutes); ``auto`` and addresses without a port are left to Ray."""
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=ADDRESS_TIMEOUT_S).close()
    except OSError as exc:
        raise EmomonError(f"address={address}", f"no Ray cluster answers there ({exc.strerror or exc}); "
                                                  "start one with `ray start --head` on that node") from None


def check_model(choice: ModelChoice, options: "FileOptions") -> None:
    """Load the model once here, on the CPU, before Ray starts: a model that cannot load (or a
    ``--window`` it cannot take) is one error line now, not an actor dying on every node."""
    from ..models.open import check_window_fits

    check_window_fits(choice.open("cpu"), options.window)


def quiet_ray_data() -> None:
    """Keep Ray Data's notes (``Starting execution of Dataset ...``, its tracebacks) off the screen: its
    console handler shows nothing unless emomon logs at DEBUG (``EMOMON_DEBUG=1``); its log
    file in the Ray session folder keeps everything; a failure reaches the user as emomon's one
    error line (:func:`_run`)."""
    if log.isEnabledFor(logging.DEBUG):
        return
    for handler in logging.getLogger("ray.data").handlers:
        if "File" not in type(handler).__name__:
            handler.setLevel(logging.CRITICAL)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def pool_size(ray: Any, options: RayOptions, files: int) -> int:
    """Actors in the pool: ``options.actors``, else as many as the cluster's CPUs (and GPUs)
    hold at the per-actor share; never more than there are files."""
    if options.actors is not None:
        return max(1, min(options.actors, files))
    res = ray.cluster_resources()
    fits = int(res.get("CPU", 1) // options.cpus_per_actor)
    if options.gpus_per_actor > 0:
        fits = min(fits, int(res.get("GPU", 0) // options.gpus_per_actor))
    return max(1, min(fits, files))


def results_stream(ray: Any, shards: Sequence[Shard], choice: ModelChoice, options: "FileOptions", labels: Sequence[str],
                   ray_options: RayOptions) -> Iterator["pa.Table"]:
    """The results of ``shards``' files as Ray Data produces them (tables with ``shard`` and ``pos``,
    in no particular order)."""
    from .predictor import FilePredictor

    rows = [{"shard": s.index, "pos": i, "path": it.path, "error": it.error} for s in shards for i, it in enumerate(s.items)]
    quiet_ray_data()
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the CLI shows its own
    size = pool_size(ray, ray_options, len(rows))
    blocks = min(len(rows), max(size, min(MAX_BLOCKS, math.ceil(len(rows) / ray_options.batch_size))))  # work for every actor
    log.info("%d files in %d shards, %d actors, %d files a call", len(rows), len(shards), size, ray_options.batch_size)
    ds = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
        FilePredictor, fn_constructor_args=(choice, options, list(labels)), batch_format="pyarrow",
        batch_size=ray_options.batch_size, compute=ray.data.ActorPoolStrategy(size=size),
        num_cpus=ray_options.cpus_per_actor, num_gpus=ray_options.gpus_per_actor or None)
    yield from ds.iter_batches(batch_format="pyarrow", batch_size=None)


class ShardWriter:
    """Collects results by shard and writes each shard (atomically) once all its files are in."""

    def __init__(self, state: BatchState, shards: Sequence[Shard], labels: Sequence[str]) -> None:
        self.state = state
        self.labels = list(labels)
        self.todo = {s.index: s for s in shards}
        self.parts: dict[int, list["pa.Table"]] = {}
        self.rows: dict[int, int] = {}
        self.written: list[tuple[Path, int]] = []  # (path, error rows)

    def add(self, table: "pa.Table") -> int:
        """Take a table of results; returns how many files it held."""
        import pyarrow.compute as pc

        for index in pc.unique(table["shard"]).to_pylist():
            part = table.filter(pc.equal(table["shard"], index))
            self.parts.setdefault(index, []).append(part)
            self.rows[index] = self.rows.get(index, 0) + part.num_rows
            if self.rows[index] >= len(self.todo[index].items):
                self._write(self.todo.pop(index))
        return table.num_rows

    def _write(self, shard: Shard) -> None:
        import pyarrow as pa

        table = pa.concat_tables(self.parts.pop(shard.index)).sort_by("pos")
        if table["pos"].to_pylist() != list(range(len(shard.items))):
            raise EmomonError(f"shard {shard.index}", "Ray returned another set of rows than the shard's files")
        table = table.drop_columns(["shard", "pos"])
        errors = len(shard.items) - table["error"].null_count
        path = self.state.path(shard)
        try:
            write_shard(path, table, ShardMeta(self.state.digest, shard.index, table.num_rows, errors, self.labels))
        except OSError as exc:
            raise EmomonError(str(path), f"cannot write ({exc.strerror or exc})") from None
        log.info("%s written: %d files, %d errors", path, table.num_rows, errors)
        self.written.append((path, errors))


def job_settings(items: Sequence[BatchItem], choice: ModelChoice, options: "FileOptions", shard_size: int) -> BatchSettings:
    """The settings the rows depend on (what OUT/_batch.json records)."""
    name, digest, labels = describe_model(choice.model)
    check_labels(labels)
    return BatchSettings(model=name, model_digest=digest, labels=labels, compute=choice.compute,
                         precision=choice.precision, backend=choice.backend,
                         options=dataclasses.asdict(options), shard_size=shard_size, files=len(items),
                         inputs_digest=inputs_digest(items), emomon_version=__version__)


def run_batch(
    inputs: str | Path | Sequence[str | Path],
    out: str | Path,
    model: "str | Path | EmotionModel" = "default",
    *,
    options: "FileOptions | None" = None,
    compute: str = "auto",
    precision: str = defaults.PRECISION,
    backend: str = DEFAULT_BACKEND,
    shard_size: int = DEFAULT_SHARD_SIZE,
    ray_options: RayOptions | None = None,
    force: bool = False,
    progress: Callable[[BatchProgress], None] | None = None,
) -> BatchSummary:
    """Analyse ``inputs`` (folders, files, globs, CSV/JSONL manifests) as ``emomon file`` does and
    write one row per file to Parquet shards in ``out``; see the module doc. ``model``, ``compute``,
    ``precision`` and ``backend`` are ``emomon file``'s options of those names.

    Shards finished by an earlier call with the same settings are skipped; other settings are a
    :class:`~emomon.errors.DataError` unless ``force``. A file that cannot be analysed is a row
    with ``error``. Ctrl-C returns a summary with ``interrupted`` set (the shards written stay).
    """
    from ..timeline.analyze import FileOptions

    ray = import_ray()
    started = time.perf_counter()
    opts, ray_opts = options or FileOptions(), ray_options or RayOptions()
    choice = ModelChoice(model, compute, precision, backend)
    items = list_inputs(inputs)
    shards = plan_shards(items, shard_size)
    settings = job_settings(items, choice, opts, shard_size)
    state = BatchState.open(out, settings, force=force)
    finished = {s.index: state.done(s) for s in shards}
    todo = [s for s in shards if finished[s.index] is None]
    skipped_errors = sum(e for e in finished.values() if e is not None)
    if todo:
        log.info("%d of %d shards to do (%d finished before)", len(todo), len(shards), len(shards) - len(todo))
        check_model(choice, opts)
    writer = ShardWriter(state, todo, settings.labels)
    interrupted = _run(ray, writer, todo, len(shards) - len(todo), len(shards), choice, opts, ray_opts, progress) if todo else False
    return BatchSummary(out=state.out, shards=len(shards), files=len(items), skipped=len(shards) - len(todo),
                        written=len(writer.written), errors=skipped_errors + sum(e for _, e in writer.written),
                        interrupted=interrupted, seconds=time.perf_counter() - started,
                        shard_paths=[state.path(s) for s in shards])


def _run(ray: Any, writer: ShardWriter, todo: Sequence[Shard], skipped: int, total: int, choice: ModelChoice,
         options: "FileOptions", ray_options: RayOptions, progress: Callable[[BatchProgress], None] | None) -> bool:
    """Run the unfinished shards through Ray into ``writer``; True when Ctrl-C stopped it."""
    files_todo = sum(len(s.items) for s in todo)
    done = 0
    try:
        with ray_session(ray, ray_options):
            for table in results_stream(ray, todo, choice, options, writer.labels, ray_options):
                done += writer.add(table)
                if progress is not None:
                    progress(BatchProgress(done, files_todo, skipped + len(writer.written), total))
    except KeyboardInterrupt:
        log.info("interrupted: %d shards written by this run", len(writer.written))
        return True
    except EmomonError:
        raise
    except Exception as exc:  # noqa: BLE001 - a Ray failure (an actor that died, a lost node) is one line
        if type(exc).__name__ in ("RayTaskError", "RayActorError", "ActorDiedError", "RaySystemError", "ObjectLostError") \
                or type(exc).__module__.startswith("ray"):
            raise EmomonError("ray", f"the job failed ({_ray_cause(exc)}); the shards written so far stay, "
                                     "the same command resumes") from exc
        raise
    return False


def _ray_cause(exc: BaseException) -> str:
    """The line of a Ray error that says what went wrong (its cause when it wraps an emomon error)."""
    cause = getattr(exc, "cause", None) or exc.__cause__
    if isinstance(cause, EmomonError):
        return f"{cause.what}: {cause.why}"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error" in line:
            return line
    return lines[-1] if lines else type(exc).__name__

"""The command line as a process: its one error format, its exit codes, stdout and closed pipes.

Every expected error is one stderr line ``emomon: error: <what>: <why>`` and a non-zero exit,
never a traceback. The library names the options its errors are about as the API does
(``window``, ``min_confidence``, ``precision=bf16``): :func:`flag_of` says them as the command
line's flags (``--window``, ``--min-confidence``, ``--precision bf16``). A closed stdout
(``emomon file ... | head -1``) is a normal end; an output that cannot be written is an error.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from typing import Any, List, Optional

import typer

from ..errors import EmomonError, Terminated

log = logging.getLogger("emomon")

_reported = [0]  # error lines printed by this run of main()

OPTION_NAMES = frozenset({
    "window", "hop", "smoothing", "duration", "min_confidence", "vad", "vad_threshold", "min_speech", "precision",
    "backend", "quantize", "profile", "adapt", "jsonl", "plot", "shard_size", "num_cpus", "actors", "batch_size",
    "cpus_per_actor", "gpus_per_actor", "address",
})
"""The option names the library's errors use (its parameter names) for the command line's flags."""


def flag_of(what: str) -> str:
    """An error's ``what`` as the command line says it: an option name of :data:`OPTION_NAMES`
    (``window``, ``min_confidence``; ``precision=bf16`` with its value; several joined by ``/``)
    becomes its flag (``--window``, ``--min-confidence``, ``--precision bf16``: underscores to
    dashes, ``--`` before); anything else (a path, ``profile anna``) is left as it is."""
    flags = []
    for part in what.split("/"):
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


def report(exc: EmomonError) -> None:
    """Print ``exc`` as one error line, its ``what`` as a flag when it names an option (:func:`flag_of`)."""
    err(flag_of(exc.what), exc.why)


def note(text: str | None) -> None:
    """Print ``emomon: note: <text>`` on stderr (nothing when ``text`` is ``None``)."""
    if text is not None:
        print(f"emomon: note: {text}", file=sys.stderr)


class PipeClosed(Exception):
    """stdout's reader went away (``emomon file ... | head -1``): a normal end, not an error."""


def pipe_closed_passes(command: Any) -> None:
    """Let a closed stdout reach :func:`run` as :class:`PipeClosed`: click catches
    ``OSError(EPIPE)`` itself and exits 1, even outside standalone mode."""
    invoke = command.invoke

    def guarded(ctx: Any) -> Any:
        try:
            return invoke(ctx)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise PipeClosed() from exc
            raise

    command.invoke = guarded


def stdout_settled() -> Optional[OSError]:
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


def pipe_closed() -> int:
    """The exit code when stdout's reader went away: 0 (a normal end), or 1 when an error line
    was printed before; stdout is pointed at /dev/null so nothing more is said."""
    stdout_settled()
    return 1 if _reported[0] else 0


def exit_now_if_stuck(rc: int) -> None:
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


def main(command: Any, argv: Optional[List[str]] = None) -> int:
    """Run the click ``command`` on ``argv`` as the process does; returns the exit code (0 ok,
    1 error, 2 usage, 130 interrupted, 143 a second SIGTERM).

    A closed stdout (``| head -1``) ends the run quietly: 0, or 1 when an error line had been
    printed before. An output that cannot be written (a full disk) is one error line and 1.
    """
    logging.basicConfig(
        level=logging.DEBUG if os.environ.get("EMOMON_DEBUG") else logging.WARNING,
        format="emomon: %(levelname)s: %(message)s",
    )
    _reported[0] = 0
    pipe_closed_passes(command)
    rc = run(command, argv)
    problem = stdout_settled()
    if problem is not None and problem.errno == errno.EPIPE:
        rc = pipe_closed()
    elif problem is not None and rc == 0:
        err("stdout", f"cannot write ({problem.strerror or problem})")
        rc = 1
    exit_now_if_stuck(rc)
    return rc


def run(command: Any, argv: Optional[List[str]]) -> int:
    """Run the command line ``argv``; every expected error one line on stderr. Returns the exit code."""
    try:
        rv = command.main(args=argv, prog_name="emomon", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except PipeClosed:
        return pipe_closed()
    except SystemExit as exc:  # rich ends a write to a closed pipe with SystemExit(1)
        if isinstance(exc.__context__, OSError) and exc.__context__.errno == errno.EPIPE:
            return pipe_closed()
        raise
    except typer.Abort:  # Ctrl-C outside our loops
        print("", file=sys.stderr)
        return 130
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except typer.TyperException as exc:  # click's (vendored) usage errors
        return _usage_error(exc)
    except EmomonError as exc:
        report(exc)
        return 1
    except KeyboardInterrupt:
        return 130
    except Terminated:  # a second SIGTERM while a live session closed
        return 143
    except BrokenPipeError:  # raised outside a command (click's own output)
        return pipe_closed()
    except Exception as exc:  # noqa: BLE001 - never a traceback; EMOMON_DEBUG=1 shows it
        if os.environ.get("EMOMON_DEBUG"):
            raise
        why = str(exc).splitlines()[0] if str(exc) else ""
        err("internal error", f"{type(exc).__name__}: {why} (set EMOMON_DEBUG=1 for the traceback)")
        return 1


def _usage_error(exc: Any) -> int:
    """click's usage error as its usage line and one error line; no arguments at all is the help (0)."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        print(exc.format_message())
        return 0
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        print(ctx.get_usage(), file=sys.stderr)
    print(f"emomon: error: {exc.format_message()}", file=sys.stderr)
    return int(getattr(exc, "exit_code", 2))

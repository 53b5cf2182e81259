"""The ``emomon`` app: its commands in the order ``--help`` lists them, the plug-ins, ``main``.

Built-in commands come from this package's modules; ``train``/``report``/``data`` are plugged in
by :mod:`emomon.training`, ``batch`` (Ray) by :mod:`emomon.batch.cli` (each module's
``register(app)``); a plug-in that cannot load (its extra not installed) is left out, and one
that is broken is a warning, never the end of ``listen`` and ``file``.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, List, Optional

import typer

from ..version import __version__
from . import demo, file, listen, models, profiles, process

log = logging.getLogger("emomon")

PLUGINS = ("emomon.training.cli", "emomon.training.cli_data", "emomon.batch.cli")
"""Modules whose ``register(app)`` adds their commands, in this order."""

HELP = "Real-time speech emotion monitor (neutral, calm, happy, sad, angry, fearful, disgust, surprised)."


def _version(value: bool) -> None:
    """``--version``: print it and exit."""
    if value:
        print(f"emomon {__version__}")
        raise typer.Exit()


from ..serve.command import serve_cmd  # noqa: E402 (typer and defaults only: the server loads when it runs)

app = typer.Typer(
    name="emomon",
    help=HELP,
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


app.command()(listen.listen)
app.command("file")(file.file_cmd)
app.command("serve")(serve_cmd)
app.command()(listen.devices)
app.command()(models.models)
app.command("export")(models.export_cmd)
app.command("profiles")(profiles.profiles_cmd)
app.command()(demo.demo)


def _register_plugins() -> None:
    """Add the plug-ins' commands (:data:`PLUGINS`) to :data:`app`."""
    for modname in PLUGINS:
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


def _flags_as_flags(command: Any) -> None:
    """typer's help shows a boolean flag's type as ``<bool>``; a flag takes no value, so show none
    (``command``: a click command or group, and every command below it)."""
    ctx = command.context_class(command, help_option_names=["-h", "--help"])
    help_option = command.get_help_option(ctx)
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _flags_as_flags(sub)


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point; returns the exit code (0 ok, 1 error, 2 usage, 130 interrupted).

    A closed stdout (``| head -1``) ends the run quietly: 0, or 1 when an error line had been
    printed before. An output that cannot be written (a full disk) is one error line and 1.
    """
    command = typer.main.get_command(app)
    _flags_as_flags(command)
    return process.main(command, argv)

"""The ``emomon`` command line: a thin layer over emomon's Python API.

Commands: ``listen`` (microphone), ``file`` (the speech segments of files, or ``--stream`` through
the live pipeline), ``demo``, ``devices``, ``models``, ``export``, ``profiles`` (speaker profiles);
``train``/``data``/``report`` are plugged in by :mod:`emomon.training`, ``batch`` (Ray) by
:mod:`emomon.batch.cli`. Each command parses its options and calls the API (:mod:`emomon.stream`,
:mod:`emomon.timeline`, :mod:`emomon.models`). Every expected error is one stderr line
``emomon: error: <what>: <why>`` and a non-zero exit, never a traceback. Nothing heavy is
imported until a command runs, so every ``--help`` is instant.

The modules:

* :mod:`.root` — the app, its commands in order, the plug-ins, :func:`main`;
* :mod:`.options` — the typer options and choices several commands share (the plug-ins' too);
* :mod:`.process` — the error line, the exit codes, stdout and closed pipes, option names as flags;
* :mod:`.common` — loading a model, refusing outputs, running a live session;
* a module per command group: :mod:`.listen` (``listen``, ``devices``), :mod:`.file`,
  :mod:`.demo`, :mod:`.models` (``models``, ``export``), :mod:`.profiles`.

``app`` and ``main`` are imported on first use: importing :mod:`emomon.cli.options` (as the
plug-ins do) builds no app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

_EXPORTS = {  # submodule (relative to this package) -> the names it gives
    "root": ["app", "main"],
}

if TYPE_CHECKING:  # pragma: no cover
    from .root import app, main

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

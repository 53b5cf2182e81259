"""What several commands share: a model loaded with a spinner, output files refused before it
loads, the adaptation decision said on stderr, and a live session run into its sinks."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional

from .. import defaults
from ..models.backend import DEFAULT_BACKEND
from .options import Compute
from .process import note

if TYPE_CHECKING:
    from ..models.base import EmotionModel
    from ..stream.monitor import Monitor


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
    ``window`` (``--window``) checked against it before any audio is read."""
    from ..models.open import check_window_fits, open_model

    with loading(model):
        m = open_model(model, compute.value, getattr(precision, "value", precision), getattr(backend, "value", backend))
    check_window_fits(m, window)
    return m


def adaptation(m: "EmotionModel", model: str, adapt: Optional[bool], profile: Optional[str],
               default: bool = defaults.ADAPT) -> bool:
    """Whether to adapt to the speaker (:func:`~emomon.models.open.decide_adaptation`); its note,
    when there is one, on stderr."""
    from ..models.open import decide_adaptation

    decision = decide_adaptation(m, adapt, profile, default, name=model)
    note(decision.note)
    return decision.adapt


def check_options(*, jsonl: Optional[Path], plot: Optional[Path], force: bool, append: bool, adapt: Optional[bool],
                  profile: Optional[str], window: Optional[float]) -> None:
    """What ``listen`` and ``file`` refuse before the model loads: output files that would clobber
    something, a bad ``--profile`` (or one with ``--no-adapt``), a bad ``--window``."""
    from ..features.windows import check_window
    from ..output.files import check_output_path, check_plot_path
    from ..profiles import check_profile_options

    if jsonl is not None:
        check_output_path(jsonl, "jsonl", force, append)
    if plot is not None:
        check_plot_path(plot, force)
    check_profile_options(adapt, profile)
    check_window(window)


def run_live(monitor: "Monitor", model: str, title: str, *, no_ui: bool, jsonl: Optional[Path], force: bool, append: bool,
             plot: Optional[Path]) -> bool:
    """Run a live session into its sinks and print the summary line; True when it ran to the end."""
    from ..stream.api import session_sinks
    from ..stream.session import run_session, summary_line
    from ..stream.sinks import ProfileSaver

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
    """Say on stderr that profile ``name`` was saved to ``path``, ``seconds`` of speech heard in all."""
    print(f"emomon: profile {name} saved: {seconds:.0f} s of speech heard in all ({path})", file=sys.stderr)

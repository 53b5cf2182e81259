"""Output files a user names (a ``jsonl`` log, a ``plot`` picture): refused before any work
starts when they would clobber something or no picture format fits them."""

from __future__ import annotations

from pathlib import Path

from ..errors import EmomonError


def check_output_path(path: Path, option: str, force: bool = False, append: bool = False) -> None:
    """Refuse, before any work starts, an output file that would clobber something; ``option``
    (``jsonl``, ``plot``) names it in the error when ``force`` and ``append`` are both given."""
    if force and append:
        raise EmomonError(option, "use either --force or --append, not both")
    if path.is_dir():
        raise EmomonError(str(path), "is a directory")
    if path.exists() and not (force or append):
        hint = "use --append to add to it or --force to overwrite it" if option == "jsonl" else "use --force to overwrite it"
        raise EmomonError(str(path), f"already exists ({hint})")
    if not path.parent.exists():
        raise EmomonError(str(path), f"folder {path.parent} does not exist")


def check_plot_path(path: Path, force: bool = False) -> None:
    """Refuse, before any work starts, a ``plot`` file that exists or that no picture format fits."""
    check_output_path(path, "plot", force)
    from .plot import check_plot_format

    check_plot_format(path)

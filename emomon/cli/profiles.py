"""``emomon profiles``: the speaker profiles (``--profile NAME``) kept between sessions."""

from __future__ import annotations

from typing import Optional

import typer


def profiles_cmd(
    delete: Optional[str] = typer.Option(None, "--delete", metavar="NAME", help="Delete the profile NAME."),
) -> None:
    """List the speaker profiles (--profile NAME): seconds of speech heard, last update, model features."""
    from ..profiles import delete_profile, list_profiles, profiles_dir

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

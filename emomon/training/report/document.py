"""A tiny document model (headings, paragraphs, tables, images) rendered to Markdown and to one
self-contained HTML file (images embedded as base64 PNG).

Paragraphs are Markdown text: in the HTML, Markdown code spans (backticks) become ``<code>`` and the rest is
escaped. Image paths are relative to the report folder (``figures/<name>.png``).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

FIGURES = "figures"

HTML_STYLE = (
    "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}"
    "th{background:#f0f0f0}tr:nth-child(even){background:#fafafa}img{max-width:100%;margin:0.5em 0}"
    "code{background:#f4f4f4;padding:0 3px}</style></head><body>"
)


@dataclass
class Doc:
    """The report's blocks in order: ``("h", (level, text))``, ``("p", text)``,
    ``("table", (headers, rows))`` (rows of strings, as many cells as headers) and ``("img", (rel, alt))``."""

    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def h(self, level: int, text: str) -> None:
        """A heading of ``level`` (1 for the title)."""
        self.blocks.append(("h", (level, text)))

    def p(self, text: str) -> None:
        """A paragraph of Markdown text."""
        self.blocks.append(("p", text))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A table; each cell goes through ``str``."""
        self.blocks.append(("table", (list(headers), [list(map(str, r)) for r in rows])))

    def img(self, rel: str, alt: str) -> None:
        """An image at ``rel`` (relative to the report folder), captioned ``alt``."""
        self.blocks.append(("img", (rel, alt)))

    def markdown(self) -> str:
        """The document as Markdown: blocks separated by a blank line, images linked."""
        out = [md for kind, v in self.blocks if (md := _markdown_block(kind, v)) is not None]
        return "\n\n".join(out) + "\n"

    def html(self, base: Path, title: str) -> str:
        """The document as one HTML page titled ``title``, its images read from ``base / rel`` and embedded."""
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>',
            HTML_STYLE,
        ]
        for kind, v in self.blocks:
            parts.extend(_html_block(kind, v, base))
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"


def _markdown_block(kind: str, v: Any) -> str | None:
    """One block in Markdown (``None`` for a block of an unknown kind)."""
    if kind == "h":
        return "#" * v[0] + " " + v[1]
    if kind == "p":
        return v
    if kind == "table":
        headers, rows = v
        esc = lambda s: s.replace("|", "\\|")  # noqa: E731
        return "\n".join(
            ["| " + " | ".join(map(esc, headers)) + " |", "|" + "|".join("---" for _ in headers) + "|"]
            + ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
        )
    if kind == "img":
        return f"![{v[1]}]({v[0]})"
    return None


def _html_block(kind: str, v: Any, base: Path) -> list[str]:
    """One block as HTML lines (none for a block of an unknown kind)."""
    if kind == "h":
        return [f"<h{v[0]}>{html.escape(v[1])}</h{v[0]}>"]
    if kind == "p":
        return [f"<p>{_inline_html(v)}</p>"]
    if kind == "table":
        headers, rows = v
        return (["<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr></thead><tbody>"]
                + ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows]
                + ["</tbody></table>"])
    if kind == "img":
        rel, alt = v
        data = base64.b64encode((base / rel).read_bytes()).decode("ascii")
        return [f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
                f"<figcaption>{html.escape(alt)} (<a href=\"{html.escape(rel)}\">{html.escape(rel)}</a>)</figcaption></figure>"]
    return []


def _inline_html(text: str) -> str:
    """Escape ``text`` and turn Markdown ``code`` spans into ``<code>``."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{s}</code>" if i % 2 else s for i, s in enumerate(pieces))

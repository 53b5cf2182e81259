"""What the routes share: the model, the options, the hub, the session registry, the colours."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..stream.monitor import MonitorConfig
from .hub import Hub
from .options import ServeOptions
from .sessions import SessionRegistry

if TYPE_CHECKING:
    from ..models.base import EmotionModel

log = logging.getLogger(__name__)

# the terminal's colour names (emomon.stream.ui.COLORS) as CSS colours for a dark page
CSS = {"white": "#e8e8e8", "cyan": "#22c7d6", "yellow": "#e5c100", "blue": "#3d7bff", "red": "#e5484d",
       "magenta": "#d15bd1", "green": "#35b34a", "bright_yellow": "#fff35c", "bright_cyan": "#7ff0f7",
       "bright_red": "#ff7b7b", "bright_green": "#8df08d", "bright_blue": "#8fb0ff", "bright_magenta": "#f59cf5"}
EXTRA = ("#8c564b", "#7f7f7f", "#bcbd22", "#e377c2", "#393b79", "#637939", "#843c39", "#5254a3")


def terminal_colors() -> dict[str, str]:
    """The terminal UI's emotion colours (``COLORS``: in :mod:`emomon.output` once moved there,
    in :mod:`emomon.stream.ui` before)."""
    for module in ("emomon.output", "emomon.output.colors", "emomon.stream.ui"):
        try:
            mod = __import__(module, fromlist=["COLORS"])
        except ImportError:
            continue
        colors = getattr(mod, "COLORS", None)
        if isinstance(colors, dict):
            return dict(colors)
    return {}


def label_colors(labels: list[str]) -> dict[str, dict[str, str]]:
    """Per label: its terminal colour name and the CSS colour the web page draws it in."""
    names = terminal_colors()
    out: dict[str, dict[str, str]] = {}
    for i, lab in enumerate(labels):
        name = names.get(lab)
        out[lab] = {"terminal": name or "", "css": CSS.get(name or "", EXTRA[i % len(EXTRA)])}
    return out


@dataclass
class ServerState:
    """The server's shared parts (one per app)."""

    model: "EmotionModel"
    options: ServeOptions
    model_name: str
    config: MonitorConfig = field(default_factory=MonitorConfig)
    hub: Hub | None = None
    registry: SessionRegistry | None = None
    analyses: asyncio.Semaphore | None = None
    colors: dict[str, dict[str, str]] = field(default_factory=dict)

    def start(self) -> None:
        """Start the hub (its monitor thread) and make the registry; call on the event loop."""
        cfg = replace(self.config, max_batch=self.options.max_batch, max_wait=self.options.max_wait)
        self.config = cfg.resolved(self.model)
        self.hub = Hub(self.model, self.config).start()
        self.registry = SessionRegistry(self.options.max_sessions)
        self.analyses = asyncio.Semaphore(self.options.analyses)
        self.colors = label_colors(list(self.model.labels))
        log.info("serving model %s (%s labels, %d Hz, window %.2f s, hop %.2f s)", self.model_name, len(self.model.labels),
                 self.model.sample_rate, self.config.window, self.config.hop)

    def stop(self) -> None:
        if self.hub is not None:
            self.hub.close()

    def model_info(self) -> dict[str, Any]:
        m = self.model
        return {"name": self.model_name, "labels": list(m.labels), "sample_rate": m.sample_rate,
                "window": self.config.window, "hop": self.config.hop, "adaptive": bool(getattr(m, "adaptive", False)),
                "backend": self.options.backend, "colors": self.colors}

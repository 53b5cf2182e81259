"""The package version (one place: the facade, the CLI, exported graphs and batch jobs read it here)."""

from __future__ import annotations

__version__ = "0.2.0"

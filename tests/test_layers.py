"""The package's layers (scripts/import_graph.py): no circle, no import up the layers, stream and
timeline apart, nothing but ``__main__`` importing the command line. Parses, imports nothing: fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "import_graph.py"


def _graph(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_emomon_has_no_circle_and_no_forbidden_edge() -> None:
    proc = _graph()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no circles, no forbidden edges" in proc.stdout
    edges = {line.strip() for line in proc.stdout.splitlines() if line.startswith("  ")}
    assert "stream -> output" in edges and "timeline -> models" in edges  # the layers read as meant
    assert not {"stream -> timeline", "timeline -> stream"} & edges


def _package(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "emomon"
    for rel, text in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return pkg


def test_the_script_sees_circles_and_forbidden_edges(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {
        "__init__.py": "",
        "errors.py": "",
        "stream/__init__.py": "",
        "stream/api.py": "def f():\n    from ..timeline import analyze\n",  # a function-level import counts
        "timeline/__init__.py": "",
        "timeline/analyze.py": "from ..stream import api\nfrom .. import errors\n",
        "models/__init__.py": "",
        "models/open.py": "from ..cli import main\n",
        "cli/__init__.py": "",
        "cli/options.py": "",
        "batch/__init__.py": "",
        "batch/cli.py": "from ..cli.options import x\n",  # allowed: a plug-in command line
        "output/__init__.py": "",
        "output/plot.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..stream import api\n",  # never runs
    })
    proc = _graph("--root", str(pkg))
    assert proc.returncode == 1
    out = proc.stdout
    assert "circle (modules): emomon.stream.api <-> emomon.timeline.analyze" in out
    assert "forbidden: stream -> timeline" in out and "forbidden: timeline -> stream" in out
    assert "forbidden: models -> cli" in out
    assert "batch -> cli.options" in out and "forbidden: batch" not in out
    assert "output -> stream" not in out

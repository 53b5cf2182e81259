#!/usr/bin/env python3
"""The import graph of the ``emomon`` package: its package-level edges, circles and layer breaks.

Every module under ``emomon/`` is parsed (``ast``, nothing imported) and every ``import`` and
``from ... import`` in it is read, at module level and inside functions alike; only those under
``if TYPE_CHECKING:`` are left out (they never run). Importing ``a.b.c`` also runs the
``__init__`` of ``a`` and ``a.b``: those count for circles, not for the layers (a lazy package
``__init__`` that imports nothing, as ``emomon.cli``'s, lets ``cli.options`` be imported alone).

Printed: the edges between packages (``stream -> models``: some module of ``emomon.stream``
imports one of ``emomon.models``; top-level modules such as ``records`` are their own node),
then every circle among modules and among packages, then every forbidden edge. The rules:

* the layers, from the bottom: the base modules (errors, defaults, records, audio, ...); then
  ``features``, ``models``, ``profiles``, ``output``; then ``stream`` and ``timeline``; then
  ``batch``, ``training``, ``serve`` and ``client``; then ``cli``; then ``__main__`` and the ``emomon`` facade. No
  import goes to a higher layer;
* ``stream`` and ``timeline`` never import each other;
* nothing imports ``cli`` but ``__main__`` (and the facade); the plug-in command lines
  (``training.cli*``, ``batch.cli``) may import ``cli.options``, the shared typer options,
  which is its own node ``cli.options`` and imports nothing of the command line.

Exit 0 when there is no circle and no forbidden edge, else 1::

    python scripts/import_graph.py [--root emomon] [--modules]
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Iterator

PACKAGE = "emomon"

LAYERS: list[set[str]] = [
    {"errors", "defaults", "labels", "lazy", "atomic", "version", "registry", "records", "audio", "manifests"},
    {"features", "models", "profiles", "output"},
    {"stream", "timeline"},
    {"batch", "training", "serve", "client"},
    {"cli.options"},  # the shared typer options: below the plug-in CLIs that import them
    {"cli"},
    {"__main__", PACKAGE},
]
"""Nodes by layer, bottom first. ``cli.options`` is placed where its importers may reach it;
its own imports are held to the layer it depends on by :data:`OPTIONS_MAY_IMPORT`."""

OPTIONS_MAY_IMPORT = LAYERS[0] | LAYERS[1]
"""What ``cli.options`` may import: the base and the model/feature layer (no command, no stream)."""

FORBIDDEN: list[tuple[set[str], set[str], str]] = [
    ({"stream"}, {"timeline"}, "stream and timeline never import each other"),
    ({"timeline"}, {"stream"}, "stream and timeline never import each other"),
    ({"models", "features", "output", "records"}, {"stream", "timeline", "cli", "cli.options", "batch", "training"},
     "the model, feature and output layers import no pipeline, command line, batch or training"),
]

OPTIONS_IMPORTERS = ("training.cli", "batch.cli", "cli")
"""Modules (below ``emomon.``, prefixes) allowed to import ``emomon.cli.options``."""


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root``: dotted name -> file (``a.b`` for ``a/b/__init__.py``)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    """Whether ``node`` is ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement of ``tree`` at any depth, except under ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _resolve(name: str, node: ast.Import | ast.ImportFrom, known: dict[str, Path]) -> Iterator[str]:
    """The modules of the package that ``node`` (in module ``name``) imports."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                yield alias.name
        return
    if node.level:
        is_package = known[name].name == "__init__.py"
        base = name.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not (target == PACKAGE or target.startswith(PACKAGE + ".")):
        return
    subs = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in known]
    yield from subs
    if len(subs) < len(node.names):
        yield target


def _closest(module: str, known: dict[str, Path]) -> str:
    """``module``, or the closest package above it that is in the package (``a.b.attr`` -> ``a.b``)."""
    while module not in known and "." in module:
        module = module.rsplit(".", 1)[0]
    return module


def graph(root: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``(imports, runs)``: module -> the modules it imports, and module -> the package
    ``__init__`` s those imports run first (``import a.b.c`` runs ``a`` and ``a.b``). Both count
    for circles; only what a module imports counts for the layers (a package whose ``__init__``
    imports nothing of its own, as ``emomon.cli``'s, can be passed through to a module below it)."""
    known = modules(root)
    imports: dict[str, set[str]] = defaultdict(set)
    runs: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _imports(tree):
            for target in _resolve(name, node, known):
                target = _closest(target, known)
                if target != name:
                    imports[name].add(target)
                parts = target.split(".")
                for i in range(1, len(parts)):
                    dep = ".".join(parts[:i])
                    if dep in known and not name.startswith(dep + ".") and dep != name:
                        runs[name].add(dep)
        imports.setdefault(name, set())
    return dict(imports), dict(runs)


def node_of(module: str) -> str:
    """The package-level node of ``module``: ``emomon.stream.api`` -> ``stream``; the facade is ``emomon``."""
    parts = module.split(".")[1:]
    if not parts:
        return PACKAGE
    if parts[:2] == ["cli", "options"]:
        return "cli.options"
    return parts[0]


def package_edges(edges: dict[str, set[str]]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """``(node, node)`` -> the module edges behind it (edges inside one node left out)."""
    out: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for src, dsts in edges.items():
        for dst in dsts:
            a, b = node_of(src), node_of(dst)
            if a != b and dst != PACKAGE:
                out[(a, b)].append((src, dst))
            elif dst == PACKAGE and src != PACKAGE:
                out[(a, PACKAGE)].append((src, dst))
    return out


def circles(edges: dict[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan's, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    nodes = set(edges) | {d for ds in edges.values() for d in ds}
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        comp.append(member)
                        if member == node:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
            elif nxt not in index:
                index[nxt] = low[nxt] = counter
                counter += 1
                stack.append(nxt)
                on_stack.add(nxt)
                work.append((nxt, iter(sorted(edges.get(nxt, ())))))
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
    return sorted(found)


def _layer(node: str) -> int:
    """The layer of ``node`` (0: the bottom; -1: in none)."""
    for i, members in enumerate(LAYERS):
        if node in members:
            return i
    return -1  # an unknown node: reported by :func:`violations`


def violations(pkg: dict[tuple[str, str], list[tuple[str, str]]]) -> list[str]:
    """Every forbidden package-level edge, with a module edge behind it."""
    bad = []
    for (a, b), why in sorted(pkg.items()):
        src, dst = sorted(why)[0]
        example = f"{src} -> {dst}"
        if _layer(a) < 0 or _layer(b) < 0:
            bad.append(f"{a} -> {b}: {a if _layer(a) < 0 else b} is in no layer (add it to LAYERS) ({example})")
            continue
        ruled = [rule for sources, targets, rule in FORBIDDEN if a in sources and b in targets]
        if ruled:
            bad.append(f"{a} -> {b}: {ruled[0]} ({example})")
        elif b == "cli.options":
            outsiders = [s for s, _ in why if not s.split(".", 1)[1].startswith(OPTIONS_IMPORTERS)]
            if outsiders:
                bad.append(f"{a} -> {b}: only the command lines import the shared options ({outsiders[0]})")
        elif a == "cli.options" and b not in OPTIONS_MAY_IMPORT:
            bad.append(f"{a} -> {b}: the shared options import nothing above the model layer ({example})")
        elif _layer(b) > _layer(a) and a != "cli.options":
            bad.append(f"{a} -> {b}: an import up the layers ({example})")
    return bad


def main(argv: list[str] | None = None) -> int:
    """Print the graph; 1 on a circle or a forbidden edge."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent / PACKAGE,
                        help="the package folder (default: the emomon next to this script)")
    parser.add_argument("--modules", action="store_true", help="also print the module edges behind each package edge")
    args = parser.parse_args(argv)
    edges, runs = graph(args.root)
    pkg = package_edges(edges)
    every = {m: edges.get(m, set()) | runs.get(m, set()) for m in set(edges) | set(runs)}
    print("package edges:")
    for (a, b), why in sorted(pkg.items()):
        print(f"  {a} -> {b}")
        if args.modules:
            for src, dst in sorted(why):
                print(f"      {src} -> {dst}")
    pkg_graph: dict[str, set[str]] = defaultdict(set)
    for a, b in pkg:
        pkg_graph[a].add(b)
    found = [("module", c) for c in circles(every)] + [("package", c) for c in circles(pkg_graph)]
    bad = violations(pkg)
    for kind, comp in found:
        print(f"circle ({kind}s): {' <-> '.join(comp)}")
    for line in bad:
        print(f"forbidden: {line}")
    if not found and not bad:
        print("no circles, no forbidden edges")
    return 1 if found or bad else 0


if __name__ == "__main__":
    sys.exit(main())

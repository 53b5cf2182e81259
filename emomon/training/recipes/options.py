"""A recipe's options (``--set key=value``): declared, typed and validated before any work.

Each recipe lists its :class:`Option`\\ s; :func:`validate_options` turns the raw ``--set`` values
(JSON when they parse, else strings) into a complete dict of typed values, defaults filled in.
An unknown or mistyped key fails with one line naming the recipe's valid keys.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ...errors import DataError

KINDS = ("bool", "int", "float", "str", "ints", "path")


@dataclass(frozen=True)
class Option:
    """One option: ``kind`` is ``bool``/``int``/``float``/``str``/``ints`` (a list of integers) or
    ``path`` (a string, ``None`` allowed); ``choices`` restricts a ``str``."""

    name: str
    kind: str
    default: Any
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None

    def parse(self, value: Any, recipe: str) -> Any:
        """``value`` as this option's type; :class:`DataError` (naming the option) when it is not one."""
        where = f"--set {self.name}={value!r} ({recipe})"
        try:
            out = _convert(self.kind, value)
        except (TypeError, ValueError):
            raise DataError(where, f"expected {_describe(self.kind)}") from None
        if self.choices and out not in self.choices:
            raise DataError(where, f"expected one of {', '.join(self.choices)}")
        if self.minimum is not None and out is not None and out < self.minimum:
            raise DataError(where, f"must be >= {self.minimum:g}")
        return out


def _convert(kind: str, value: Any) -> Any:
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(value)
    if kind == "int":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        return int(value)
    if kind == "float":
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if kind == "ints":
        items = value if isinstance(value, list) else [v for v in str(value).replace("[", "").replace("]", "").split(",") if v.strip()]
        if not items:
            raise ValueError(value)
        return [_convert("int", v) for v in items]
    if kind == "path":
        return None if value is None else str(value)
    if isinstance(value, (dict, list)):
        raise TypeError(value)
    return "" if value is None else str(value)


def _describe(kind: str) -> str:
    return {"bool": "true or false", "int": "an integer", "float": "a number", "ints": "a list of integers like [2,3,4]",
            "str": "a string", "path": "a path or hub id"}[kind]


def validate_options(recipe: str, declared: Sequence[Option], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared option's typed value (``raw``'s, else the default); :class:`DataError` for an
    unknown key (with the closest valid one) or a bad value."""
    known = {o.name: o for o in declared}
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            valid = ", ".join(sorted(known)) or "none"
            raise DataError(f"--set {key}", f"recipe {recipe} has no such option{hint}; its options: {valid}")
    return {name: (o.parse(raw[name], recipe) if name in raw else o.default) for name, o in known.items()}


def options_help(declared: Sequence[Option]) -> list[str]:
    """One line per option: ``name (kind, default X): help``."""
    return [f"{o.name} ({o.kind}, default {o.default!r}): {o.help}" for o in declared]

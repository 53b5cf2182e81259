"""A model's card: what its ``config.json`` ``meta`` says about it, typed (no torch).

``scripts/ship_model.py`` builds a :class:`ModelCard` from the run's
:class:`~emomon.training.results.RunResults` and writes :meth:`ModelCard.to_dict` into ``meta``
(beside what the recipe recorded there: its head, temperature, training curve...); ``emomon
models`` (:func:`~emomon.models.shipped.meta_summary`) and ``emomon report`` read it back with
:func:`parse_card`. The keys are ``meta``'s own, flat, as they always were::

    name, description, recipe, protocol, folds, speaker_independent, mode, corpora, n_utterances,
    trained_on, data, ua/wa/f1/ece/streamed_ua/file_ua: {mean, std}, file_unanswered,
    online_adaptive_ua: {heard: {mean, std}}, license, command,
    onnx: {graph, quantize, opset, exported_by, torch, source}  (written by ``emomon export``)

Older configs read leniently: every key may be missing (``None``; ``corpora`` empty), ``ua``/``wa``
fall back to the bare ``cv_ua``/``cv_wa`` that ``emomon train`` writes into its final model, a
score may be a bare number, and a ``protocol`` written as ``"emobox (6 folds,
speaker-independent=True, strict)"`` (how ``ship_model.py`` wrote it before the card) gives the
name, folds, speaker independence and mode it spells out. A key of the wrong type is a
:class:`~emomon.errors.ModelError` naming it (``meta.ua: ...``).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from ..errors import ModelError
from .jsonvalues import Invalid, finite, show

CARD_TEXT = ("name", "description", "recipe", "protocol", "mode", "trained_on", "data", "license", "command")
CARD_SCORES = ("ua", "wa", "f1", "ece", "streamed_ua", "file_ua")
_OLD_PROTOCOL = re.compile(r"\s*([\w-]+)\s*\((.*)\)\s*$")  # "emobox (6 folds, speaker-independent=True, strict)"


@dataclass(frozen=True)
class Figure:
    """A figure measured over folds: its mean and population std (``None``: not given)."""

    mean: float
    std: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {"mean": self.mean, "std": self.std}


@dataclass(frozen=True)
class OnnxExport:
    """What ``emomon export`` records of the graph it wrote beside the head (``meta.onnx``):
    the graph's file name, its quantization (``"none"``, ``"int8"``...), the ONNX opset, who
    exported it (``"emomon 0.x"``), with which torch, and from which model."""

    graph: str
    quantize: str = "none"
    opset: int | None = None
    exported_by: str | None = None
    torch: str | None = None
    source: str | None = None

    @property
    def quantization(self) -> str | None:
        """``quantize``, ``None`` for fp32."""
        return None if self.quantize == "none" else self.quantize

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def parse(cls, v: Any) -> "OnnxExport | None":
        """``meta.onnx`` (``None``: no graph was exported); an :class:`Invalid` for a wrong type."""
        if v is None:
            return None
        if not isinstance(v, Mapping):
            raise Invalid("onnx", f"must be an object (got {show(v)})")
        try:
            graph = _text(v, "graph")
            if graph is None:
                raise Invalid("graph", "missing: the graph's file name")
            text = {k: _text(v, k) for k in ("quantize", "exported_by", "torch", "source")}
            opset = _int(v, "opset")
        except Invalid as bad:
            raise Invalid(f"onnx.{bad.key}", bad.why) from None
        return cls(graph=graph, quantize=text["quantize"] or "none", opset=opset, exported_by=text["exported_by"],
                   torch=text["torch"], source=text["source"])


@dataclass(frozen=True)
class ModelCard:
    """See the module docstring. ``protocol`` is the protocol's name (``emobox``), ``folds`` its
    number of folds, ``mode`` the evaluation mode (``strict``); fractions are in ``[0, 1]``."""

    name: str | None = None
    description: str | None = None
    recipe: str | None = None
    protocol: str | None = None
    folds: int | None = None
    speaker_independent: bool | None = None
    mode: str | None = None
    corpora: tuple[str, ...] = ()
    n_utterances: int | None = None
    trained_on: str | None = None
    data: str | None = None
    ua: Figure | None = None
    wa: Figure | None = None
    f1: Figure | None = None
    ece: Figure | None = None
    streamed_ua: Figure | None = None
    file_ua: Figure | None = None
    file_unanswered: int | None = None
    online_adaptive_ua: dict[str, Figure] = field(default_factory=dict)
    licence: str | None = None
    command: str | None = None
    onnx: OnnxExport | None = None
    protocol_text: str | None = field(default=None, compare=False)  # an older card's protocol string, as written

    @property
    def protocol_detail(self) -> str | None:
        """The protocol spelled out, ``"emobox (6 folds, speaker-independent=True, strict)"``
        (an older card's own string; ``None`` without a protocol and its folds)."""
        if self.protocol_text is not None:
            return self.protocol_text
        if self.protocol is None or self.folds is None:
            return None
        extra = "" if self.speaker_independent is None else f", speaker-independent={self.speaker_independent}"
        return f"{self.protocol} ({self.folds} folds{extra}{f', {self.mode}' if self.mode else ''})"

    def to_dict(self) -> dict[str, Any]:
        """``meta``'s keys for the fields that are set (``licence`` is written ``license``)."""
        d: dict[str, Any] = {}
        for key in ("name", "description", "recipe", "protocol", "folds", "speaker_independent", "mode"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.corpora:
            d["corpora"] = list(self.corpora)
        for key in ("n_utterances", "trained_on", "data"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        for key in CARD_SCORES:
            if getattr(self, key) is not None:
                d[key] = getattr(self, key).to_dict()
        if self.file_unanswered is not None:
            d["file_unanswered"] = self.file_unanswered
        if self.online_adaptive_ua:
            d["online_adaptive_ua"] = {k: v.to_dict() for k, v in self.online_adaptive_ua.items()}
        if self.command is not None:
            d["command"] = self.command
        if self.licence is not None:
            d["license"] = self.licence
        if self.onnx is not None:
            d["onnx"] = self.onnx.to_dict()
        return d

    @classmethod
    def from_dict(cls, meta: Any, where: str = "config.json") -> "ModelCard":
        """The card in ``meta`` (see the module docstring); a :class:`ModelError` ``(where,
        "meta.<key>: ...")`` for a key of the wrong type."""
        if meta is None:
            return cls()
        if not isinstance(meta, Mapping):
            raise ModelError(where, f"meta: must be an object (got {show(meta)})")
        try:
            return cls._parse(meta)
        except Invalid as bad:
            raise ModelError(where, f"meta.{bad.key}: {bad.why}") from None

    @classmethod
    def _parse(cls, m: Mapping[str, Any]) -> "ModelCard":
        text = {k: _text(m, k) for k in CARD_TEXT}
        protocol, folds, independent, mode = text["protocol"], _int(m, "folds"), _bool(m, "speaker_independent"), text["mode"]
        old, protocol_text = _OLD_PROTOCOL.match(protocol or ""), None
        if old and folds is None:  # the string ship_model.py wrote before the card
            protocol, protocol_text, inside = old.group(1), protocol, old.group(2)
            n = re.search(r"(\d+)\s+folds?\b", inside)
            folds = int(n.group(1)) if n else None
            said = re.search(r"speaker-independent\s*=\s*(True|False)", inside)
            independent = (said.group(1) == "True") if said and independent is None else independent
        if independent is None and protocol is not None:
            independent = protocol != "random"
        if mode is None and protocol is not None:
            mode = "strict"  # final models are trained in strict mode only
        corpora = m.get("corpora")
        if corpora is not None and not (isinstance(corpora, list) and all(isinstance(c, str) for c in corpora)):
            raise Invalid("corpora", f"must be a list of corpus names (got {show(corpora)})")
        online = m.get("online_adaptive_ua")
        if online is not None and not isinstance(online, Mapping):
            raise Invalid("online_adaptive_ua", f"must be an object of scores (got {show(online)})")
        scores = {k: _score(m, k) for k in CARD_SCORES}
        scores["ua"] = scores["ua"] or _score(m, "cv_ua")
        scores["wa"] = scores["wa"] or _score(m, "cv_wa")
        return cls(
            name=text["name"], description=text["description"], recipe=text["recipe"], protocol=protocol, folds=folds,
            speaker_independent=independent, mode=mode, corpora=tuple(corpora or ()), n_utterances=_int(m, "n_utterances"),
            trained_on=text["trained_on"], data=text["data"], **scores, file_unanswered=_int(m, "file_unanswered"),
            online_adaptive_ua={str(k): f for k, v in (online or {}).items() if (f := _figure(f"online_adaptive_ua.{k}", v)) is not None},
            licence=text["license"], command=text["command"], onnx=OnnxExport.parse(m.get("onnx")), protocol_text=protocol_text,
        )


def parse_card(meta: Any, where: str = "config.json") -> ModelCard:
    """:meth:`ModelCard.from_dict`."""
    return ModelCard.from_dict(meta, where)


def _text(m: Mapping[str, Any], key: str) -> str | None:
    v = m.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise Invalid(key, f"must be a string (got {show(v)})")
    return v


def _int(m: Mapping[str, Any], key: str) -> int | None:
    v = m.get(key)
    if v is None:
        return None
    if not (finite(v) and float(v) == int(v)):
        raise Invalid(key, f"must be a whole number (got {show(v)})")
    return int(v)


def _bool(m: Mapping[str, Any], key: str) -> bool | None:
    v = m.get(key)
    if v is not None and not isinstance(v, bool):
        raise Invalid(key, f"must be true or false (got {show(v)})")
    return v


def _figure(key: str, v: Any) -> Figure | None:
    """``{"mean", "std"}`` or a bare number; ``None`` for ``None`` or a ``{"mean": null}`` (not measured)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if finite(v):
        return Figure(float(v))
    if isinstance(v, Mapping):
        mean, std = v.get("mean"), v.get("std")
        if mean is None or (isinstance(mean, float) and math.isnan(mean)):
            return None
        std = None if isinstance(std, float) and math.isnan(std) else std
        if finite(mean) and (std is None or finite(std)):
            return Figure(float(mean), None if std is None else float(std))
    raise Invalid(key, f'must be {{"mean": number, "std": number}} or a number (got {show(v)})')


def _score(m: Mapping[str, Any], key: str) -> Figure | None:
    return _figure(key, m.get(key))

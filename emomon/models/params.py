"""Each architecture's hyper-parameters (``config.json``'s ``params``) as one frozen dataclass (no torch).

:meth:`~emomon.models.config.ModelConfig.from_dict` parses ``params`` once with :func:`parse_params`
into :attr:`~emomon.models.config.ModelConfig.hparams`; the models read that typed object, not the
dict (which stays what is written back, unchanged). Each class's ``from_dict`` rejects an unknown or
mistyped key with :class:`ParamsInvalid` naming it (``layers: item 2 must be a whole number (got
"x")``), which the config turns into one :class:`~emomon.errors.ModelError` line
(``params.layers: ...``); ``to_dict`` gives the JSON form. What needs the built model (the backbone's
number of layers, whether a backbone name is registered) is still checked when it is built.

The defaults here are the architectures' defaults: the recipes' option tables read them
(:func:`default_of`), and a config that leaves a key out gets them.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Mapping, TypeVar, Union

from .. import defaults
from .jsonvalues import Invalid, finite, show

P = TypeVar("P", bound="Params")


class ParamsInvalid(Invalid):
    """One key's problem: ``key`` (dotted below ``params``) and ``why``."""


def _is_int(v: Any) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and math.isfinite(v) and v == int(v))


def _ints(key: str, v: Any) -> tuple[int, ...]:
    if not isinstance(v, (list, tuple)):
        raise ParamsInvalid(key, f"must be a list of whole numbers (got {show(v)})")
    for i, x in enumerate(v):
        if not _is_int(x):
            raise ParamsInvalid(key, f"item {i + 1} must be a whole number (got {show(x)})")
    return tuple(int(x) for x in v)


def _convert(key: str, kind: Any, v: Any) -> Any:
    """``v`` as ``kind``: ``str``, ``int``, ``float``, ``bool``, ``"ints"``, ``dict``, a :class:`Params`
    class, or ``(kind, None)`` for an optional one."""
    if isinstance(kind, tuple):
        return None if v is None else _convert(key, kind[0], v)
    if kind is str:
        if not isinstance(v, str):
            raise ParamsInvalid(key, f"must be a string (got {show(v)})")
        return v
    if kind is bool:
        if not isinstance(v, bool):
            raise ParamsInvalid(key, f"must be true or false (got {show(v)})")
        return v
    if kind is int:
        if not _is_int(v):
            raise ParamsInvalid(key, f"must be a whole number (got {show(v)})")
        return int(v)
    if kind is float:
        if not finite(v):
            raise ParamsInvalid(key, f"must be a number (got {show(v)})")
        return float(v)
    if kind == "ints":
        return _ints(key, v)
    if kind is dict:
        if not isinstance(v, Mapping):
            raise ParamsInvalid(key, f"must be an object (got {show(v)})")
        return dict(v)
    if isinstance(kind, type) and issubclass(kind, Params):
        return kind.from_dict(v, prefix=f"{key}.")
    raise TypeError(f"unknown kind {kind!r}")  # pragma: no cover - a programming error


def _param(default: Any = MISSING, kind: Any = str, doc: str = "") -> Any:
    """A dataclass field with its JSON ``kind`` (see :func:`_convert`) and a one-line ``doc``."""
    meta = {"kind": kind, "doc": doc}
    return field(metadata=meta) if default is MISSING else field(default=default, metadata=meta)


@dataclass(frozen=True)
class Params:
    """Base of the params dataclasses: :meth:`from_dict` (checked), :meth:`to_dict`, :meth:`check`."""

    architecture: ClassVar[str] = ""

    @classmethod
    def from_dict(cls: type[P], d: Any, prefix: str = "") -> P:
        """``d`` (parsed JSON) checked and converted; :class:`ParamsInvalid` for an unknown,
        missing or mistyped key (``prefix``: the dotted path of a nested object)."""
        if not isinstance(d, Mapping):
            raise ParamsInvalid(prefix.rstrip(".") or "params", f"must be an object (got {show(d)})")
        own = {f.name: f for f in fields(cls)}
        for key in d:
            if key not in own:
                raise ParamsInvalid(f"{prefix}{key}", f"unknown for {cls.describe()} (known: {', '.join(own)})")
        values = {}
        for name, f in own.items():
            if name in d:
                values[name] = _convert(f"{prefix}{name}", f.metadata["kind"], d[name])
            elif f.default is MISSING and f.default_factory is MISSING:  # type: ignore[misc]
                raise ParamsInvalid(f"{prefix}{name}", "missing")
        out = cls(**values)
        out.check(prefix)
        return out

    def check(self, prefix: str = "") -> None:
        """Checks of the values beyond their types (:class:`ParamsInvalid`); none by default."""

    @classmethod
    def describe(cls) -> str:
        return f"{cls.architecture} params" if cls.architecture else cls.__name__

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (tuples as lists, nested params as objects)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.to_dict() if isinstance(v, Params) else list(v) if isinstance(v, tuple) else v
        return out


# -- layer-head ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpeakerNormParams(Params):
    """``params.speaker_norm``: the head was trained on speaker-standardised features."""

    prior_weight: float = _param(kind=float, doc="windows the training prior is worth when adapting")
    unadapted_head: bool = _param(False, bool, "a head without speaker standardisation is mixed in while little has been heard")

    def check(self, prefix: str = "") -> None:
        if not self.prior_weight >= 0:
            raise ParamsInvalid(f"{prefix}prior_weight", f"must be >= 0 (got {self.prior_weight:g})")


@dataclass(frozen=True)
class ShiftParams(Params):
    """``params.shift``: the temperature grows as ``max(1, d / d0) ** b`` with an input's distance ``d``."""

    d0: float = _param(kind=float, doc="the distance of inputs like the training data")
    b: float = _param(kind=float, doc="the exponent")

    def check(self, prefix: str = "") -> None:
        if not self.d0 > 0:
            raise ParamsInvalid(f"{prefix}d0", f"must be a number > 0 (got {self.d0:g})")
        if not self.b >= 0:
            raise ParamsInvalid(f"{prefix}b", f"must be a number >= 0 (got {self.b:g})")


@dataclass(frozen=True)
class LayerHeadParams(Params):
    """``layer-head`` (:class:`~emomon.models.layer_head.LayerHeadModel`)."""

    architecture: ClassVar[str] = "layer-head"

    layers: tuple[int, ...] = _param(kind="ints", doc="hidden-state indices pooled (0 = input embedding)")
    backbone: str = _param(defaults.BACKBONE, str, "backbone registry name")
    backbone_source: str | None = _param(None, (str, None), "local directory or hub id of the backbone (default: the offline packages)")
    pooling: str = _param("meanstd", str, "how each layer is pooled over time (mean and std)")
    speaker_norm: SpeakerNormParams | None = _param(None, (SpeakerNormParams, None), "speaker standardisation (adaptive models)")
    shift: ShiftParams | None = _param(None, (ShiftParams, None), "a shift-aware temperature")
    hidden_size: int | None = _param(None, (int, None), "the backbone's width (informative)")

    @classmethod
    def from_dict(cls, d: Any, prefix: str = "") -> "LayerHeadParams":
        if isinstance(d, Mapping) and not d.get("speaker_norm") and "speaker_norm" in d:  # {} or null: not adaptive
            d = {k: v for k, v in d.items() if k != "speaker_norm"}
        return super().from_dict(d, prefix)

    @property
    def adaptive(self) -> bool:
        return self.speaker_norm is not None

    @property
    def unadapted_head(self) -> bool:
        return self.speaker_norm is not None and self.speaker_norm.unadapted_head


# -- whisper-finetune ----------------------------------------------------------------------------
FINETUNE_POOLINGS = ("layers", "weighted")


@dataclass(frozen=True)
class FinetuneParams(Params):
    """``whisper-finetune`` (:class:`~emomon.models.finetuned_whisper.FinetunedWhisperModel`).

    ``pooling`` defaults to ``weighted`` for a config without it (the only pooling before there
    were two); the recipe and :meth:`~emomon.models.finetuned_whisper.FinetunedWhisperModel.make_config` write ``layers``."""

    architecture: ClassVar[str] = "whisper-finetune"

    backbone: str = _param(defaults.BACKBONE, str, "a whisper-* backbone registry name")
    backbone_source: str | None = _param(None, (str, None), "local directory or hub id of the backbone (default: the offline packages)")
    tuned_layers: int = _param(2, int, "top encoder blocks fine-tuned (the rest frozen, their output cached)")
    pooling: str = _param("weighted", str, "layers or weighted")
    layers: tuple[int, ...] | None = _param(None, ("ints", None), "pooling=layers: the states pooled")
    attention: int = _param(128, int, "pooling=weighted: units of the attentive pooling's scorer (0: plain mean and std)")
    dropout: float = _param(0.1, float, "dropout before the head")

    def check(self, prefix: str = "") -> None:
        if self.pooling not in FINETUNE_POOLINGS:
            raise ParamsInvalid(f"{prefix}pooling", f"{self.pooling!r} is not one of {', '.join(FINETUNE_POOLINGS)}")
        if self.attention < 0:
            raise ParamsInvalid(f"{prefix}attention", f"must be >= 0 (got {self.attention})")
        if not 0 <= self.dropout < 1:
            raise ParamsInvalid(f"{prefix}dropout", f"must be in [0, 1) (got {self.dropout:g})")


# -- the seed models -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TransformerParams(Params):
    """``transformer`` (:class:`~emomon.models.transformer.SeedTransformer`): the study's sizes."""

    architecture: ClassVar[str] = "transformer"

    num_frames: int = _param(495, int, "time steps every input is padded or cut to")
    embed_dim: int = _param(50, int, "embedding width")
    num_heads: int = _param(10, int, "attention heads")
    head_dim: int = _param(50, int, "width of each head")
    num_layers: int = _param(3, int, "encoder layers")
    ff_dim: int = _param(192, int, "feed-forward width")
    dropout: float = _param(0.2, float, "dropout")
    noise_std: float = _param(0.1, float, "Gaussian noise added in training")
    top_db: float | None = _param(80.0, (float, None), "the dB front end's dynamic range")


@dataclass(frozen=True)
class BaselineParams(Params):
    """``baseline`` (:class:`~emomon.models.baseline.BaselineModel`): duration and level."""

    architecture: ClassVar[str] = "baseline"

    n_features: int = _param(2, int, "feature width")


@dataclass(frozen=True)
class EgemapsParams(Params):
    """``egemaps`` (:class:`~emomon.models.egemaps.EgemapsModel`): openSMILE functionals."""

    architecture: ClassVar[str] = "egemaps"

    n_features: int | None = _param(None, (int, None), "feature width (88 for eGeMAPSv02)")
    feature_set: str = _param("eGeMAPSv02", str, "the openSMILE feature set")


@dataclass(frozen=True)
class Wav2Vec2Params(Params):
    """``wav2vec2`` (:class:`~emomon.models.wav2vec2.Wav2Vec2Model`): a transformers model's config."""

    architecture: ClassVar[str] = "wav2vec2"

    hf_config: dict[str, Any] | None = _param(None, (dict, None), "the transformers config the network is built from")
    do_normalize: bool = _param(True, bool, "standardise each input")
    return_attention_mask: bool = _param(False, bool, "pass the attention mask")
    backbone: str = _param("", str, "the backbone it was fine-tuned from")


ArchParams = Union[LayerHeadParams, FinetuneParams, TransformerParams, BaselineParams, EgemapsParams, Wav2Vec2Params]

# architecture name -> its params class (every architecture of the model registry has one)
PARAMS: dict[str, type[Params]] = {c.architecture: c for c in (
    BaselineParams, TransformerParams, Wav2Vec2Params, EgemapsParams, LayerHeadParams, FinetuneParams)}


def parse_params(architecture: str, params: Mapping[str, Any]) -> Params | None:
    """``params`` of ``architecture`` as its dataclass (:class:`ParamsInvalid` when they do not
    fit it); ``None`` for an architecture without one (a test's or a plug-in's)."""
    cls = PARAMS.get(architecture)
    return None if cls is None else cls.from_dict(params)


def default_of(cls: type[Params], name: str) -> Any:
    """The default of ``cls``'s field ``name`` (what a recipe's option table offers)."""
    f = next(f for f in fields(cls) if f.name == name)
    v = f.default
    return list(v) if isinstance(v, tuple) else v


def doc_of(cls: type[Params], name: str) -> str:
    """The one-line help of ``cls``'s field ``name``."""
    return str(next(f for f in fields(cls) if f.name == name).metadata["doc"])

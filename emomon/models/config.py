"""A model's ``config.json``: what rebuilds it before its weights are loaded, checked field by field (no torch needed).

:func:`read_config` refuses a config that cannot describe a working model, with a
:class:`~emomon.errors.ModelError` whose ``what`` is the file and whose ``why`` starts with the
field (``labels: 'happy' appears twice``). What needs the architecture (the sample rates its
front end or backbone runs at, the shortest input it takes) is checked by :func:`check_fits`
once the model is built, and the number of labels against the weights when they are loaded
(:meth:`~emomon.models.base.EmotionModel.load_weights`).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, NamedTuple, TypeVar

from .. import defaults
from ..errors import ModelError
from ..labels import EMOTIONS
from .card import ModelCard, parse_card
from .jsonvalues import Invalid, finite, show
from .params import Params, ParamsInvalid, parse_params

P = TypeVar("P", bound=Params)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

# The values :class:`~emomon.features.mel.FrontEnd` knows (its Literal types; mel.py imports torch).
FRONTEND_INTS = ("sample_rate", "n_fft", "hop_length", "n_mels")
FRONTEND_CHOICES: dict[str, tuple[Any, ...]] = {
    "log": ("whisper", "db", "ln", "none"),
    "mel_scale": ("slaney", "htk"),
    "norm": ("slaney", None),
}


@dataclass
class ModelConfig:
    """What ``config.json`` holds: enough to rebuild the model before loading its weights.

    ``architecture`` is the registry name of the class; ``params`` its hyper-parameters as
    written (:attr:`hparams`: the same, typed, as :mod:`.params` parses them);
    ``frontend`` the :class:`~emomon.features.FrontEnd` as a dict (``None`` when the model reads
    raw samples); ``window``/``hop`` the stream windowing it was made for (seconds);
    ``class_prior`` the share of each label in the training rows the head was fitted on (what its
    posteriors carry; ``None`` when unknown), the target of a session's answer balance
    (:mod:`.priors`); ``meta`` provenance (training data, protocol, metrics, license; :attr:`card`:
    what of it describes the model, typed, :class:`~.card.ModelCard`).
    """

    architecture: str
    labels: list[str] = field(default_factory=lambda: list(EMOTIONS))
    sample_rate: int = defaults.SAMPLE_RATE
    frontend: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    window: float = defaults.WINDOW_S
    hop: float = defaults.HOP_S
    class_prior: list[float] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._hparams: Params | None = None
        self._hparams_of: Any = None  # the params dict _hparams was parsed from (None: not parsed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def hparams(self) -> Params | None:
        """``params`` as the architecture's dataclass (:mod:`.params`; ``None`` for an architecture
        without one), parsed when the config is read and again only when ``params`` has changed.
        Params that do not fit it are a :class:`ModelError` ``(architecture, "params.<key>: ...")``."""
        if self._hparams_of is None or self._hparams_of != self.params:
            self._parse_params(self.architecture)
        return self._hparams

    def typed_params(self, cls: type[P]) -> P:
        """:attr:`hparams`, which must be a ``cls`` (a :class:`ModelError` otherwise)."""
        hp = self.hparams
        if not isinstance(hp, cls):
            raise ModelError(self.architecture, f"params: not {cls.describe()} (architecture {self.architecture!r})")
        return hp

    @property
    def card(self) -> ModelCard:
        """What ``meta`` says of the model (:class:`~.card.ModelCard`: protocol, folds, scores, licence...)."""
        return parse_card(self.meta, self.architecture)

    def _parse_params(self, where: str) -> None:
        try:
            hp = parse_params(self.architecture, self.params)
        except ParamsInvalid as bad:
            raise ModelError(where, f"params.{bad.key}: {bad.why}") from None
        self._hparams, self._hparams_of = hp, copy.deepcopy(dict(self.params))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = CONFIG_NAME) -> "ModelConfig":
        """The config in ``d`` (parsed JSON), checked; ``source`` names it in errors (its path).

        Raises :class:`~emomon.errors.ModelError` ``(source, "<field>: <why>")`` for the first
        field that cannot describe a working model. Unknown keys are ignored, but not unknown keys
        of ``params`` (:mod:`.params`). ``meta``'s card fields are checked too (:mod:`.card`).
        """
        check_config_dict(d, source)
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        for name in ("window", "hop"):
            if name in known:
                known[name] = float(known[name])
        if known.get("class_prior") is not None:
            total = math.fsum(known["class_prior"])
            known["class_prior"] = [float(p) / total for p in known["class_prior"]]
        config = cls(**known)
        config._parse_params(source)
        parse_card(config.meta, source)
        return config


def check_config_dict(d: Any, where: str) -> None:
    """Check a parsed ``config.json`` (see the module docstring); ``where`` names it in errors."""
    if not isinstance(d, Mapping):
        raise ModelError(where, f"not a JSON object (got {type(d).__name__})")
    try:
        _check_fields(d)
    except Invalid as bad:
        raise ModelError(where, f"{bad.key}: {bad.why}") from None


def _check_fields(d: Mapping[str, Any]) -> None:
    """Every field of ``d`` in turn; raises :class:`Invalid` at the first bad one."""
    if "architecture" not in d:
        raise Invalid("architecture", "missing")
    arch = d["architecture"]
    if not isinstance(arch, str) or not arch.strip():
        raise Invalid("architecture", f"must be the name of an architecture (got {show(arch)})")
    if "labels" in d:
        _check_labels(d["labels"])
    if d.get("class_prior") is not None:
        _check_prior(d["class_prior"], len(d.get("labels", EMOTIONS)))
    rate = d.get("sample_rate", ModelConfig.sample_rate)
    if not _positive_int(rate):
        raise Invalid("sample_rate", f"must be a positive whole number of Hz (got {show(rate)})")
    frontend = d.get("frontend")
    if frontend is not None:
        _check_frontend(frontend, rate)
    for name in ("params", "meta"):
        if name in d and not isinstance(d[name], Mapping):
            raise Invalid(name, f"must be an object (got {show(d[name])})")
    min_samples = frontend_min_samples(frontend) if frontend is not None else 1
    _check_windowing(d.get("window", ModelConfig.window), d.get("hop", ModelConfig.hop), rate, min_samples, "the front end")


def _check_labels(labels: Any) -> None:
    """``labels``: a non-empty list of unique, non-empty strings (raises :class:`Invalid`)."""
    if not isinstance(labels, list):
        raise Invalid("labels", f"must be a list of names (got {show(labels)})")
    if not labels:
        raise Invalid("labels", "is empty")
    for i, lab in enumerate(labels):
        if not isinstance(lab, str) or not lab.strip():
            raise Invalid("labels", f"item {i + 1} must be a non-empty name (got {show(lab)})")
    for lab in labels:
        n = labels.count(lab)
        if n > 1:
            raise Invalid("labels", f"{lab!r} appears {'twice' if n == 2 else f'{n} times'}")


def _check_prior(prior: Any, n_labels: int) -> None:
    """``class_prior``: one positive finite share per label (normalised when read)."""
    if not isinstance(prior, list) or len(prior) != n_labels:
        raise Invalid("class_prior", f"must be a list of {n_labels} shares, one per label (got {show(prior)})")
    if not all(finite(p) and p > 0 for p in prior):
        raise Invalid("class_prior", f"every share must be a positive number (got {show(prior)})")


def _check_frontend(frontend: Any, rate: int) -> None:
    """``frontend``: a mel front end's settings, at the model's ``rate``."""
    if not isinstance(frontend, Mapping):
        raise Invalid("frontend", f"must be an object or null (got {show(frontend)})")
    for name in FRONTEND_INTS:
        if name not in frontend:
            raise Invalid(f"frontend.{name}", "missing")
        if not _positive_int(frontend[name]):
            raise Invalid(f"frontend.{name}", f"must be a positive whole number (got {show(frontend[name])})")
    if frontend["sample_rate"] != rate:
        raise Invalid("frontend.sample_rate", f"{frontend['sample_rate']} does not match sample_rate {rate}")
    for name, choices in FRONTEND_CHOICES.items():
        if name in frontend and frontend[name] not in choices:
            raise Invalid(f"frontend.{name}", f"must be one of {', '.join(map(show, choices))} (got {show(frontend[name])})")
    f_min, f_max = frontend.get("f_min", 0.0), frontend.get("f_max")
    if not (finite(f_min) and 0 <= f_min < rate / 2):
        raise Invalid("frontend.f_min", f"must be a frequency from 0 to below {rate / 2:g} Hz (got {show(f_min)})")
    if f_max is not None and not (finite(f_max) and f_min < f_max <= rate / 2):
        raise Invalid("frontend.f_max", f"must be null or a frequency above f_min up to {rate / 2:g} Hz (got {show(f_max)})")


def frontend_min_samples(frontend: Mapping[str, Any]) -> int:
    """Fewest samples a mel front end takes: its centred STFT reflect-pads ``n_fft // 2`` samples
    on each side, which needs more samples than that."""
    return int(frontend["n_fft"]) // 2 + 1


def _check_windowing(window: Any, hop: Any, rate: int, min_samples: int, needs: str) -> None:
    """``window``/``hop``: finite seconds, ``0 < hop <= window``, the window at least ``min_samples`` at ``rate``."""
    for name, value in (("window", window), ("hop", hop)):
        if not (finite(value) and value > 0):
            raise Invalid(name, f"must be a positive number of seconds (got {show(value)})")
    if round(window * rate) < min_samples:  # as the windower counts a window's samples
        raise Invalid("window", f"{window:g} s is shorter than {needs} takes "
                                 f"({min_samples} samples at {rate} Hz: at least {min_samples / rate:.4g} s)")
    if hop > window:
        raise Invalid("hop", f"{hop:g} s exceeds the window ({window:g} s)")


class InputNeeds(NamedTuple):
    """What a built model's inputs must be: ``sample_rates`` it runs at (``None``: any), the
    fewest samples one input may have, and what sets them (``"the whisper-base backbone"``)."""

    sample_rates: tuple[int, ...] | None
    min_samples: int
    source: str


def check_fits(config: ModelConfig, where: str, needs: InputNeeds) -> None:
    """What a built model adds to :func:`read_config`'s checks: ``config.sample_rate`` is one of
    ``needs.sample_rates`` and ``config.window`` holds ``needs.min_samples``.
    Raises :class:`ModelError` ``(where, "<field>: ...")``."""
    if needs.sample_rates is not None and config.sample_rate not in needs.sample_rates:
        rates = " or ".join(str(r) for r in needs.sample_rates)
        raise ModelError(where, f"sample_rate: {needs.source} runs at {rates} Hz (got {config.sample_rate})")
    try:
        _check_windowing(config.window, config.hop, config.sample_rate, needs.min_samples, needs.source)
    except Invalid as bad:
        raise ModelError(where, f"{bad.key}: {bad.why}") from None


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def read_config(directory: str | Path) -> ModelConfig:
    """Read and check ``directory/config.json`` as a :class:`ModelConfig`."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise ModelError(str(directory), f"no {CONFIG_NAME} (not an emomon model directory)")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(str(path), f"unreadable ({exc})") from None
    return ModelConfig.from_dict(data, source=str(path))

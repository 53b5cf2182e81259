"""Speaker profiles: what an adaptive model has heard of one speaker, kept between sessions.

A profile is a small JSON file, ``<data dir>/profiles/NAME.json``::

    {"name": "anna", "model": {fingerprint}, "updated": "2026-11-25T14:03:07.512+01:00",
     "stats": {"count": ..., "seconds": ..., "sum": [...], "sumsq": [...]}}

``stats`` is a :class:`~emomon.models.adapt.FeatureStats` (sums of the pooled features of the
speaker's voiced windows, no labels); ``model`` is the *fingerprint* of the feature space those
statistics live in (architecture, backbone, layers, pooling, dimensions), so a profile is
refused by a model whose features it does not fit, and kept by a retrained head on the same
features. The data directory is :func:`data_dir`. Files are replaced atomically (a temporary
file, then ``os.replace``); a profile that does not fit is never touched.

Nothing here imports numpy or torch at module level (``emomon profiles`` only reads JSON).
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .errors import ProfileError
from .models.params import LayerHeadParams
from .records import iso_time

if TYPE_CHECKING:
    from .models.adapt import FeatureStats
    from .models.base import EmotionModel

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SUFFIX = ".json"


def data_dir() -> Path:
    """emomon's data directory: ``$EMOMON_DATA``, else ``$XDG_DATA_HOME/emomon``, else
    ``~/.local/share/emomon`` (the one place that decides it)."""
    if os.environ.get("EMOMON_DATA"):
        return Path(os.environ["EMOMON_DATA"]).expanduser()
    if os.environ.get("XDG_DATA_HOME"):
        return Path(os.environ["XDG_DATA_HOME"]).expanduser() / "emomon"
    return Path.home() / ".local" / "share" / "emomon"


def profiles_dir() -> Path:
    """Where profiles live: ``data_dir() / "profiles"``."""
    return data_dir() / "profiles"


def check_name(name: str) -> str:
    """``name`` when it is a valid profile name (letters, digits, ``-_.``, starting with a letter
    or digit, at most 64 characters: never a path); :class:`ProfileError` otherwise."""
    if not NAME_RE.fullmatch(name or ""):
        raise ProfileError(f"profile name {name!r}", "use letters, digits, '-', '_' and '.' only (at most 64 characters, starting with a letter or digit; no path)")
    return name


def profile_path(name: str) -> Path:
    """The file of profile ``name`` (checked)."""
    return profiles_dir() / f"{check_name(name)}{SUFFIX}"


def model_fingerprint(model: "EmotionModel") -> dict[str, Any]:
    """What identifies the feature space of an adaptive model's speaker statistics; a
    :class:`ProfileError` when the model cannot adapt."""
    adapter = model.new_adapter() if model.adaptive else None
    if adapter is None:
        raise ProfileError("profile", "this model cannot adapt to the speaker (it was not trained with speaker standardisation)")
    hp = model.config.typed_params(LayerHeadParams)
    return {
        "architecture": model.config.architecture,
        "backbone": hp.backbone,
        "layers": [int(i) for i in hp.layers],
        "pooling": hp.pooling,
        "sample_rate": int(model.config.sample_rate),
        "dims": int(adapter.dims),
    }


def describe_model(fp: Mapping[str, Any]) -> str:
    """A fingerprint for people, e.g. ``whisper-base layers [2, 3], 2048 features``."""
    if not isinstance(fp, Mapping):
        return "an unknown model"
    return f"{fp.get('backbone') or fp.get('architecture')} layers {fp.get('layers')}, {fp.get('dims')} features"


@dataclass
class Profile:
    """A loaded (or new) profile: ``stats`` is what it holds, ``updated`` ``None`` when new."""

    name: str
    model: dict[str, Any]
    stats: "FeatureStats"
    path: Path
    updated: str | None = None

    @property
    def seconds(self) -> float:
        return float(self.stats.seconds)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProfileError(str(path), f"not a readable profile ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("stats"), dict):
        raise ProfileError(str(path), "not a profile (no statistics in it)")
    return data


def load_profile(name: str, model: "EmotionModel") -> Profile:
    """Profile ``name`` for ``model``: a new, empty one when there is no file; a
    :class:`ProfileError` when the file is unreadable or was made with another feature space
    (the file is left as it is)."""
    from .models.adapt import FeatureStats

    fp = model_fingerprint(model)
    path = profile_path(name)
    if not path.exists():
        log.debug("profile %s is new (%s)", name, path)
        return Profile(name, fp, FeatureStats.empty(fp["dims"]), path)
    data = _read(path)
    if data.get("model") != fp:
        raise ProfileError(f"profile {name}", f"was made with another model ({describe_model(data.get('model'))}; this one: "
                           f"{describe_model(fp)}): choose another name or delete it (emomon profiles --delete {name})")
    try:
        stats = FeatureStats.from_dict(data["stats"], fp["dims"])
    except ValueError as exc:
        raise ProfileError(str(path), f"not a usable profile ({exc})") from None
    return Profile(name, fp, stats, path, updated=data.get("updated"))


def open_profile(profile: "str | Profile | None", model: "EmotionModel") -> "Profile | None":
    """A loaded :class:`Profile` for ``model`` (a name is loaded, or new when there is none; a
    loaded profile and ``None`` pass as they are); :class:`ProfileError` when it does not fit the model."""
    if profile is None or isinstance(profile, Profile):
        return profile
    return load_profile(check_name(profile), model)


def check_profile_options(adapt: bool | None, profile: str | None) -> None:
    """Refuse, before a model loads, a bad ``profile`` name or a profile with ``adapt=False``
    (a profile is what adaptation starts from)."""
    if profile is None:
        return
    check_name(profile)
    if adapt is False:
        raise ProfileError("profile", "needs adaptation (drop --no-adapt)")


def save_profile(profile: Profile, stats: "FeatureStats") -> Path:
    """Write ``stats`` as ``profile``'s statistics, atomically (temp file + ``os.replace``)."""
    updated = iso_time(datetime.now())
    record = {"name": profile.name, "model": profile.model, "updated": updated, "stats": stats.to_dict()}
    text = json.dumps(record, allow_nan=False) + "\n"
    profile.path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{profile.name}.", suffix=".tmp", dir=profile.path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, profile.path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    profile.stats, profile.updated = stats, updated
    return profile.path


def added_since(now: "FeatureStats", start: "FeatureStats") -> "FeatureStats":
    """What was added to ``start`` to make ``now`` (an adapter's statistics minus where it started)."""
    from .models.adapt import FeatureStats

    return FeatureStats(now.count - start.count, now.sum - start.sum, now.sumsq - start.sumsq, now.seconds - start.seconds)


@dataclass(frozen=True)
class ProfileInfo:
    """One line of ``emomon profiles``: ``error`` set when the file cannot be read."""

    name: str
    path: Path
    seconds: float | None = None
    updated: str | None = None
    model: str | None = None
    error: str | None = None


def list_profiles() -> list[ProfileInfo]:
    """Every profile in :func:`profiles_dir`, by name."""
    folder = profiles_dir()
    out: list[ProfileInfo] = []
    for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
        name = path.name[: -len(SUFFIX)]
        try:
            data = _read(path)
            seconds = float(data["stats"].get("seconds", 0.0))
        except (ProfileError, TypeError, ValueError) as exc:
            out.append(ProfileInfo(name, path, error=getattr(exc, "why", str(exc))))
            continue
        out.append(ProfileInfo(name, path, seconds, data.get("updated"), describe_model(data.get("model"))))
    return out


def delete_profile(name: str) -> Path:
    """Remove profile ``name``; :class:`ProfileError` when there is none."""
    path = profile_path(name)
    if not path.is_file():
        raise ProfileError(f"profile {name}", f"does not exist (no {path})")
    path.unlink()
    return path

"""``emomon file PATHS --adapt``: several files as one session of one speaker (or recording setup).

An adaptive model (:mod:`emomon.models.adapt`) standardises its features with its speaker's
statistics. Offline, the whole session is at hand, so the statistics come from every voiced
segment of every file (no labels: the user's own audio) before any segment is classified:

1. each file's two passes (:func:`~.analyze.file_rows`) keep the pooled features ``(F,)`` of
   each segment's window, not its probabilities (the encoder runs once per segment);
2. a :class:`~emomon.models.adapt.SpeakerAdapter` learns every file's features (a profile's
   statistics first, when one is named), each segment counting its speech seconds;
3. every segment is classified from its kept features with the adapted ``(mean, std)``.

With a profile, what the session heard is added to it and saved. Files that fail are results
with ``error`` set, as in :func:`~.analyze.analyze_files`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from ..audio import AudioSource
from ..errors import ModelError
from ..features.segments import Span
from ..records import FileResult
from .analyze import file_rows
from .passes import FileOptions, error_result, file_result, source_name

if TYPE_CHECKING:
    from ..models.adapt import FeatureStats, SpeakerAdapter, SpeakerState
    from ..models.interface import Classifier  # an EmotionModel (torch) or an OnnxModel
    from ..profiles import Profile

log = logging.getLogger(__name__)


def _onnx(model: "Classifier") -> bool:
    """Whether ``model`` runs on onnxruntime (:class:`~emomon.models.onnx_model.OnnxModel`: numpy in and out, no torch)."""
    return getattr(model, "backend", "torch") == "onnx"


def can_adapt_offline(model: "Classifier") -> bool:
    """Whether ``model`` adapts and exposes its pooled features and a head over them."""
    if _onnx(model):
        return bool(model.adaptive)
    from ..models.layer_head import LayerHeadModel

    return isinstance(model, LayerHeadModel) and model.adaptive


def segment_features(model: "Classifier", windows: np.ndarray) -> np.ndarray:
    """Pooled features ``(batch, F)`` float32 of equal-length windows ``(batch, samples)``."""
    if _onnx(model):
        return model.features(windows)  # type: ignore[operator]
    import torch

    with torch.inference_mode():
        x = torch.as_tensor(windows, dtype=torch.float32, device=model.device)
        return model.features(x).float().cpu().numpy()  # type: ignore[operator]


def classify_features(model: "Classifier", feats: np.ndarray, speaker: "SpeakerState") -> np.ndarray:
    """Probabilities ``(n, labels)`` of features ``(n, F)`` standardised with ``speaker``."""
    if _onnx(model):
        return model.head.proba(feats, speaker)  # type: ignore[attr-defined]
    import torch

    with torch.inference_mode():
        f = torch.as_tensor(feats, dtype=torch.float32, device=model.device)
        logits = model.classify_features(f, speaker)  # type: ignore[operator]
        return torch.softmax(logits.float(), dim=-1).cpu().numpy()


@dataclass
class _Heard:
    """One file's first stage: its speech spans and their features ``(spans, F)``, or its error."""

    path: str
    duration: float = 0.0
    spans: list[Span] | None = None
    feats: np.ndarray | None = None
    error: FileResult | None = None


@dataclass
class SessionResult:
    """The files' results, in order, and the adapter that classified them: ``adapter.heard`` is
    everything it learnt (the profile's statistics included)."""

    results: list[FileResult]
    adapter: "SpeakerAdapter"

    @property
    def heard(self) -> "FeatureStats":
        return self.adapter.heard


def _hear(source: AudioSource, model: "Classifier", options: FileOptions, progress: Callable[[float], None] | None) -> _Heard:
    try:
        duration, spans, feats = file_rows(source, model, lambda x: segment_features(model, x), options, progress=progress)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
        log.debug("analysing %s failed", source_name(source), exc_info=True)
        return _Heard(source_name(source), error=error_result(source_name(source), exc))
    return _Heard(source_name(source), duration, spans, feats)


def _result(h: _Heard, model: "Classifier", speaker: "SpeakerState", options: FileOptions) -> FileResult:
    """A file's result once the session's statistics are known."""
    if h.error is not None:
        return h.error
    probs = classify_features(model, h.feats, speaker) if h.spans else np.zeros((0, len(model.labels)))
    return file_result(h.path, h.duration, h.spans or [], probs, model.labels, options.min_confidence)


def analyze_session(
    sources: Iterable[AudioSource],
    model: "str | Path | Classifier" = "default",
    *,
    options: FileOptions | None = None,
    profile: "str | Profile | None" = None,
    compute: str = "auto",
    progress: Callable[[int, float], None] | None = None,
) -> SessionResult:
    """Every file of one speaker's session, classified with the statistics of all their speech
    (see the module doc); ``profile`` (a name or a loaded profile) is where the statistics
    start, and it is saved with the session's added. ``progress(i, fraction)`` reports file
    ``i``'s work. A model that cannot adapt is a :class:`~emomon.errors.ModelError`."""
    from ..models.open import open_model
    from ..profiles import open_profile, save_profile

    m = open_model(model, compute)
    adapter = m.new_adapter() if can_adapt_offline(m) else None
    if adapter is None:
        raise ModelError("adapt", "this model cannot adapt to the speaker (it was not trained with speaker standardisation)")
    prof = open_profile(profile, m)
    if prof is not None:
        adapter.heard = prof.stats + adapter.heard  # a copy: the profile keeps what it loaded
    opts = options or FileOptions()
    heard = []
    for i, source in enumerate(sources):
        report = (lambda f, i=i: progress(i, f)) if progress is not None else None
        h = _hear(source, m, opts, report)
        if h.spans:
            adapter.update(h.feats, seconds=float(sum(s.duration for s in h.spans)))
        heard.append(h)
    speaker = adapter.state()
    results = [_result(h, m, speaker, opts) for h in heard]
    if prof is not None:
        save_profile(prof, adapter.heard)
    return SessionResult(results, adapter)

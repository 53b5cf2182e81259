"""Recipe ``default``: frozen backbone layers (Whisper-base by default) + a linear head.

Per clip, every hidden layer of the backbone is pooled to mean and std over time and cached
(``(layers, 2 * hidden)`` per clip); folds reuse the cache. The head is a standardised
multinomial logistic regression on the chosen layers, its temperature fitted on out-of-fold
logits of a speaker-grouped inner split of the training speakers (never the test speakers).

Options (``--set``): ``backbone`` (registry name, default ``whisper-base``),
``backbone_source`` (path or hub id), ``layers`` (e.g. ``[2,3,4,5,6]``), ``C`` (inverse
regularisation, 1.0), ``calibrate`` (true), ``calib_split`` (``speaker``: the temperature is fitted
on held-out groups of training speakers, ``calib_folds`` of them, 2; ``corpus``: on each training
corpus held out in turn), ``calib_shift`` (false; true: the temperature also grows with each
input's distance from the training features, by an exponent fitted on each training corpus held
out in turn), ``calib_heard`` (adaptive models: the held-out speakers' rows standardised
with their own statistics, ``all``, as after a long session; with the prior, ``none``, as a session
that has heard nothing; ``both`` pooled; or with the statistics of 10 of their clips, ``partial``),
``train_windows`` (true: also
train on each clip's stream windows that have speech), ``augment`` (noisy copies of the training
clips, default ``white:20,white:10,pink:10,pink:0,babble:10,babble:0``, babble drawn from the
training speakers only; empty to switch off), ``vad`` (``silero``; ``energy`` with
``silence_db``, or ``off``) and ``min_speech``: which stream windows have speech, decided by the
very voice activity detector the stream uses (:mod:`emomon.features.vad`).

Besides whole clips, the recipe reports two more decisions for each test clip: the *streamed*
one (mean of its speech windows, what ``file --stream`` shows) and the *file* one (its speech
segments classified as ``emomon file`` does, time-weighted; a clip in which no speech is found
gets no answer, which counts as wrong).
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import torch

from ... import defaults
from ...errors import DataError, EmomonError
from ...features.segments import context_slices, signal_segments
from ...features.vad import VadOptions, window_speech
from ...features.windows import clip_windows
from ...models.params import LayerHeadParams, default_of, doc_of
from ...models.backbones import load_backbone
from ...models.base import EmotionModel
from ...models.adapt import FeatureStats, SpeakerState
from ...models.layer_head import LayerHeadModel, all_layer_features
from ...records import Utterance
from ..cache import ExtractorKey
from ..calibration import fit_shift_exponent, fit_temperature, mean_square_z
from . import register_recipe
from .options import Option
from ..balance import BALANCE_CHOICES, balanced_weights, corpus_of
from ..adaptation import OnlinePoint, SpeakerNorm, fit_speaker_norm, online_points, partial_speaker_norm
from ..noise import noisy_copies, parse_augmentations
from ..perturb import PERTURB_KINDS, perturbed_copies
from ..perturb import transform as perturbation
from ..normalize import normalize_by_speaker
from .base import Recipe, TrainContext, cached_features, fit_standardised_logreg, head_logits, speaker_normalised, speaker_statistics

log = logging.getLogger(__name__)

DEFAULT_LAYERS = [2, 3, 4, 5, 6]
STREAM_WINDOW = defaults.WINDOW_S
STREAM_HOP = defaults.HOP_S
DEFAULT_AUGMENT = "white:20,white:10,pink:10,pink:0,babble:10,babble:0"
DEFAULT_PRIOR_WEIGHT = 20.0  # windows (10 s of speech at the 0.5 s hop)
DEFAULT_BALANCE = "none"
PERTURBATIONS = "speed:0.9,speed:1.1,pitch:2,pitch:-2"
SHIPPED_OPTIONS: dict[str, object] = {
    "adapt": True, "calib_split": "both", "balance": "corpus-class", "augment": f"{DEFAULT_AUGMENT},{PERTURBATIONS}",
}
"""The options the shipped ``default`` model was trained with (its card's command; a test checks
they agree): what benchmarks mean by "the shipped recipe", on top of the recipe's own defaults."""
AUGMENT_KINDS = ("white", "pink", "babble", *PERTURB_KINDS)
CALIB_PARTIAL_CLIPS = 10  # calib_heard=partial: the clips of each held-out speaker their statistics come from


def window_batch(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The stream's windows of a clip played from its start, ``(windows, window_samples)``
    (:func:`~emomon.features.windows.clip_windows`, front padding included)."""
    return np.stack([w.samples for w in clip_windows(samples, sample_rate, STREAM_WINDOW, STREAM_HOP)])


def _layer_pool_key(ctx: TrainContext) -> ExtractorKey:
    name, source = ctx.option("backbone", defaults.BACKBONE), ctx.options.get("backbone_source")
    return ExtractorKey("layer-pool", {"backbone": name, "source": source, "pooling": "meanstd"}, version="1")


def _layer_pool_extractor(ctx: TrainContext):
    """(the backbone of ``ctx``'s ``backbone`` / ``backbone_source`` options, samples → ``(layers_total, 2 * hidden)``)."""
    backbone = load_backbone(ctx.option("backbone", defaults.BACKBONE), ctx.options.get("backbone_source"))

    def extract(samples: np.ndarray) -> np.ndarray:
        return all_layer_features(backbone, torch.from_numpy(samples)).numpy().astype(np.float32)

    return backbone, extract


def layer_pool(utts: Sequence[Utterance], ctx: TrainContext) -> np.ndarray:
    """``(n, layers_total, 2 * hidden)``: every layer of the backbone (``ctx``'s ``backbone`` options)
    pooled to mean and std over each whole clip; cached, the features this recipe trains on."""
    backbone, extract = _layer_pool_extractor(ctx)
    return np.stack(cached_features(utts, _layer_pool_key(ctx), extract, backbone.sample_rate, ctx))


@register_recipe("default")
class LayerHeadRecipe(Recipe):
    """Whisper-encoder layers + a trained, calibrated linear head (emomon's default model)."""

    options = (
        Option("backbone", "str", default_of(LayerHeadParams, "backbone"), doc_of(LayerHeadParams, "backbone")),
        Option("backbone_source", "path", None, doc_of(LayerHeadParams, "backbone_source")),
        Option("layers", "ints", DEFAULT_LAYERS, doc_of(LayerHeadParams, "layers")),
        Option("C", "float", 1.0, "inverse regularisation of the logistic head", minimum=1e-9),
        Option("calibrate", "bool", True, "fit a temperature on out-of-fold logits of training speakers"),
        Option("calib_folds", "int", 2, "speaker groups of the calibration split", minimum=2),
        Option("calib_split", "str", "speaker", "hold out groups of training speakers, each training corpus in turn, "
               "or both (every row held out once in each) for the temperature", choices=("speaker", "corpus", "both")),
        Option("calib_shift", "bool", False, "a temperature that grows with an input's distance from the training features, "
               "fitted on each training corpus held out in turn (needs two corpora or more)"),
        Option("calib_heard", "str", "all", "adaptive models: calibrate held-out speakers as fully adapted (all), as a session "
               "that has heard nothing (none), both pooled, or after 10 of their clips (partial)", choices=("all", "none", "both", "partial")),
        Option("train_windows", "bool", True, "also train on each clip's stream windows with speech"),
        Option("augment", "str", DEFAULT_AUGMENT, "noisy copies KIND:SNR,... (white, pink, babble) and perturbed ones "
               "(speed:FACTOR, pitch:SEMITONES); empty for none"),
        Option("vad", "str", defaults.VAD_METHOD, "which stream windows have speech", choices=("silero", "energy", "off")),
        Option("min_speech", "float", defaults.MIN_SPEECH, "speech fraction a window needs", minimum=0.0),
        Option("silence_db", "float", defaults.SILENCE_DB, "energy VAD threshold (dBFS)"),
        Option("adapt", "bool", False, "standardise each training speaker with their own statistics; the model adapts online"),
        Option("prior_weight", "float", DEFAULT_PRIOR_WEIGHT, "windows the training prior is worth when adapting", minimum=0.0),
        Option("balance", "str", DEFAULT_BALANCE, "weigh the training rows so that each corpus, each class, or each corpus "
               "and within it each of its classes counts alike", choices=BALANCE_CHOICES),
        Option("unadapted_head", "bool", True, "an adaptive model also keeps a head without speaker standardisation and mixes "
               "the two by how much it has heard (the unadapted one alone for a new voice)"),
    )

    supports_speaker_norm = True

    def __init__(self) -> None:
        self._temperatures: dict[str, list[float]] = {}
        self._shifts: list[dict[str, float] | None] = []

    # -- features ----------------------------------------------------------------------------
    def _backbone_spec(self, ctx: TrainContext) -> tuple[str, str | None]:
        return ctx.option("backbone", defaults.BACKBONE), ctx.options.get("backbone_source")

    def _key(self, ctx: TrainContext) -> ExtractorKey:
        return _layer_pool_key(ctx)

    def _extract(self, ctx: TrainContext):
        return _layer_pool_extractor(ctx)

    def features(self, utts: Sequence[Utterance], ctx: TrainContext) -> np.ndarray:
        """``(n, layers_total, 2 * hidden)`` pooled features (speaker-normalised in that mode)."""
        backbone, extract = self._extract(ctx)
        key = self._key(ctx)
        feats = cached_features(utts, key, extract, backbone.sample_rate, ctx)
        return np.stack(speaker_normalised(feats, utts, key, extract, backbone.sample_rate, ctx))

    def _window_key(self, ctx: TrainContext) -> ExtractorKey:
        name, source = self._backbone_spec(ctx)
        return ExtractorKey(
            "layer-pool-windows",
            {"backbone": name, "source": source, "pooling": "meanstd", "window": STREAM_WINDOW, "hop": STREAM_HOP, "pad": "front"},
            version="1",
        )

    def window_features(self, utts: Sequence[Utterance], ctx: TrainContext) -> list[np.ndarray]:
        """Per clip ``(windows, layers_total, 2 * hidden)``: the stream's windows of the clip
        (:func:`clip_windows`), pooled like whole clips. Speaker-normalised in that mode."""
        backbone, extract_clip = self._extract(ctx)

        def extract(samples: np.ndarray) -> np.ndarray:
            wins = torch.from_numpy(window_batch(samples, backbone.sample_rate))
            return all_layer_features(backbone, wins).numpy().astype(np.float16)

        key = self._window_key(ctx)
        feats = [f.astype(np.float32) for f in cached_features(utts, key, extract, backbone.sample_rate, ctx)]
        if ctx.mode == "speaker-norm":
            # each speaker's whole-clip statistics, applied window by window
            stats = speaker_statistics(utts, self._key(ctx), extract_clip, backbone.sample_rate, ctx)
            feats = [np.stack(normalize_by_speaker(list(f), [u.speaker] * len(f), stats)) for f, u in zip(feats, utts)]
        return feats

    def _vad(self, ctx: TrainContext) -> VadOptions:
        """The ``vad``/``min_speech``/``silence_db`` options as the stream's :class:`VadOptions`."""
        try:
            return VadOptions(method=str(ctx.option("vad", defaults.VAD_METHOD)),
                              min_speech=float(ctx.option("min_speech", defaults.MIN_SPEECH)),
                              silence_db=float(ctx.option("silence_db", defaults.SILENCE_DB)))
        except (TypeError, ValueError, EmomonError) as exc:
            raise DataError("--set vad/min_speech/silence_db", getattr(exc, "why", str(exc))) from None

    def window_speech(self, utts: Sequence[Utterance], ctx: TrainContext) -> list[np.ndarray]:
        """Per clip ``(windows,)``: each stream window's speech fraction (what the stream's VAD reads)."""
        vad = self._vad(ctx)
        key = ExtractorKey("window-speech", {"window": STREAM_WINDOW, "hop": STREAM_HOP, "pad": "front", "vad": vad.cache_key()}, version="1")

        def extract(samples: np.ndarray) -> np.ndarray:
            return window_speech(samples, defaults.SAMPLE_RATE, STREAM_WINDOW, STREAM_HOP, vad)

        return cached_features(utts, key, extract, defaults.SAMPLE_RATE, ctx)

    def _voiced(self, utts: Sequence[Utterance], ctx: TrainContext) -> list[np.ndarray]:
        """Per clip, the boolean mask of its stream windows that the stream would classify."""
        vad = self._vad(ctx)
        return [vad.classifies(sp) for sp in self.window_speech(utts, ctx)]

    def file_segments(self, utts: Sequence[Utterance], ctx: TrainContext) -> list[np.ndarray]:
        """Per clip ``(segments, 2)``: start and end (seconds) of the speech segments ``emomon file`` finds."""
        vad = self._vad(ctx)
        key = ExtractorKey("file-segments", {"window": STREAM_WINDOW, "vad": vad.cache_key()}, version="1")

        def extract(samples: np.ndarray) -> np.ndarray:
            spans = signal_segments(samples, defaults.SAMPLE_RATE, vad, STREAM_WINDOW)
            return np.array([[s.start, s.end] for s in spans], dtype=np.float32).reshape(-1, 2)

        return cached_features(utts, key, extract, defaults.SAMPLE_RATE, ctx)

    def file_features(self, utts: Sequence[Utterance], ctx: TrainContext) -> list[np.ndarray]:
        """Per clip ``(segments, layers_total, 2 * hidden)``: each segment's audio as ``emomon file``
        classifies it (one window centred on it, :func:`~emomon.features.segments.context_slices`), pooled."""
        backbone, _ = self._extract(ctx)
        vad = self._vad(ctx)
        name, source = self._backbone_spec(ctx)
        key = ExtractorKey("layer-pool-file-segments", {"backbone": name, "source": source, "pooling": "meanstd",
                                                        "window": STREAM_WINDOW, "vad": vad.cache_key()}, version="1")

        def extract(samples: np.ndarray) -> np.ndarray:

            spans = signal_segments(samples, backbone.sample_rate, vad, STREAM_WINDOW)
            if not spans:
                return np.zeros((0, backbone.num_layers, 2 * backbone.hidden_size), dtype=np.float16)
            slices = context_slices(spans, STREAM_WINDOW, len(samples), backbone.sample_rate)
            wins = torch.from_numpy(np.stack([samples[a:b] for a, b in slices]))
            return all_layer_features(backbone, wins).numpy().astype(np.float16)

        return [f.astype(np.float32) for f in cached_features(utts, key, extract, backbone.sample_rate, ctx)]

    def _select(self, feats: np.ndarray, layers: Sequence[int]) -> np.ndarray:
        return feats[:, list(layers), :].reshape(len(feats), len(layers) * feats.shape[-1])

    # -- training ----------------------------------------------------------------------------
    def check_options(self, ctx: TrainContext) -> None:
        self._augmentations(ctx)
        self._vad(ctx)
        if self._adapts(ctx) and ctx.mode != "strict":
            raise DataError("--set adapt=true", "online adaptation replaces --normalize speaker; use one of them")
        if ctx.option("calib_shift", False) and self._adapts(ctx) and not ctx.option("unadapted_head", True):
            raise DataError("--set calib_shift=true", "needs the plain head of an adaptive model (drop unadapted_head=false)")
        if not self._prior_weight(ctx) >= 0:
            raise DataError("--set prior_weight", "must be a number >= 0 (windows the training prior is worth)")

    def training_rows(self, utts: Sequence[Utterance], layers: Sequence[int], ctx: TrainContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x (rows, F), y (rows,), speaker (rows,))``: whole clips, plus (``train_windows``,
        default on) every stream window with speech of each clip, labelled with its clip's emotion."""
        x = [self._select(self.features(utts, ctx), layers)]
        y = [ctx.label_indices(utts)]
        spk = [np.array([u.speaker for u in utts])]
        if ctx.option("train_windows", True):
            for u, f, voiced, label in zip(utts, self.window_features(utts, ctx), self._voiced(utts, ctx), y[0]):
                if voiced.any():
                    x.append(self._select(f[voiced], layers))
                    y.append(np.full(int(voiced.sum()), label))
                    spk.append(np.full(int(voiced.sum()), u.speaker))
        for kind, snr in self._augmentations(ctx):
            noisy, src = self._noisy(utts, kind, snr, ctx)
            if noisy:
                x.append(self._select(self.features(noisy, ctx), layers))
                y.append(y[0][src])
                spk.append(spk[0][src])
        return np.concatenate(x), np.concatenate(y), np.concatenate(spk)

    def _augmentations(self, ctx: TrainContext) -> list[tuple[str, float]]:
        """``augment`` option: noisy copies of the training clips, e.g. ``"white:10,pink:0,babble:0"``
        (KIND:SNR), and perturbed ones (:mod:`~emomon.training.perturb`: ``speed:0.9`` a factor,
        ``pitch:2`` semitones).

        Babble mixes four clips of other speakers drawn from the training utterances themselves
        (never the whole corpus, which would put test speakers' voices into training), so its
        files differ per fold.
        """
        try:
            out = parse_augmentations(str(ctx.option("augment", DEFAULT_AUGMENT) or ""), AUGMENT_KINDS)
            for kind, value in out:
                if kind in PERTURB_KINDS:
                    perturbation(kind, value)  # a factor or shift out of range fails here, before any work
            return out
        except ValueError as exc:
            what, _, why = str(exc).partition(": ")
            raise DataError(what, why) from None

    def _noisy(self, utts: Sequence[Utterance], kind: str, snr: float, ctx: TrainContext) -> tuple[list[Utterance], np.ndarray]:
        """Noisy copies of ``utts`` and the index of each copy's source clip.

        Babble is mixed from clips of the *same corpus* spoken by the training speakers (taken
        from ``ctx.all_utterances``, labels unused): never a test speaker's voice, and the same
        pool, hence the same files and cache entries, whichever fold a corpus trains in whole.
        """
        if kind in PERTURB_KINDS:
            return perturbed_copies(utts, kind, snr, self._noise_dir(ctx)), np.arange(len(utts))
        if kind != "babble":
            return noisy_copies(utts, kind, snr, self._noise_dir(ctx), seed=ctx.seed), np.arange(len(utts))
        speakers = {u.speaker for u in utts}
        everyone = list(ctx.all_utterances) or list(utts)
        out: list[Utterance] = []
        src: list[int] = []
        for corpus in sorted({u.corpus for u in utts}):
            idx = [i for i, u in enumerate(utts) if u.corpus == corpus]
            pool = [u for u in everyone if u.corpus == corpus and u.speaker in speakers]
            if len({u.speaker for u in pool}) < 2:
                log.warning("%s: babble augmentation skipped: it needs training clips of at least two of its speakers", corpus)
                continue
            out += noisy_copies([utts[i] for i in idx], kind, snr, self._noise_dir(ctx), pool=pool, seed=ctx.seed)
            src += idx
        return out, np.array(src, dtype=np.int64)

    def _noise_dir(self, ctx: TrainContext):
        return ctx.noise_dir

    def _calibration_partitions(self, speakers: np.ndarray, ctx: TrainContext) -> list[list[np.ndarray]]:
        """The calibration splits, each a list of held-out parts (boolean masks over the training
        rows) that together cover every row once: ``calib_split=speaker``: ``calib_folds`` groups
        of speakers; ``corpus``: each training corpus in turn (speaker groups when there is only
        one); ``both``: the two splits, every row held out once in each."""
        split = ctx.option("calib_split", "speaker")
        corpora = np.array([s.split(":", 1)[0] for s in speakers])
        by_corpus = [corpora == c for c in sorted(set(corpora))] if len(set(corpora)) >= 2 else []
        groups = np.unique(speakers)
        k = min(int(ctx.option("calib_folds", 2)), len(groups))
        order = np.random.default_rng(ctx.seed).permutation(groups)
        by_speaker = [np.isin(speakers, part) for part in np.array_split(order, k)] if k >= 2 else []
        if split == "corpus" and by_corpus:
            return [by_corpus]
        if split == "both" and by_corpus:
            return [p for p in (by_speaker, by_corpus) if p]
        return [by_speaker] if by_speaker else []

    def _calibration_temperature(self, x: np.ndarray, y: np.ndarray, speakers: np.ndarray, ctx: TrainContext, c: float,
                                 unadapted: np.ndarray | None = None) -> float:
        """Temperature fitted on out-of-fold logits of the training rows ``x (rows, F)``, split by
        speaker, corpus or both (:meth:`_calibration_partitions`: with both, each row's logits
        count once per split); 1.0 when the rows cannot be split.

        ``unadapted``: for an adaptive model, the same rows standardised with the prior instead of
        their speaker's statistics (a session that has heard nothing yet); with ``calib_heard=both``
        the held-out rows' logits in both forms are pooled, with ``none`` only this form counts.
        """
        partitions = self._calibration_partitions(speakers, ctx)
        if not partitions:
            return 1.0
        heard = ctx.option("calib_heard", "all") if unadapted is not None else "all"
        forms = {"all": [x], "none": [unadapted], "both": [x, unadapted], "partial": [unadapted]}[heard]
        logits = [np.zeros((len(y), len(ctx.labels))) for _ in forms for _ in partitions]
        for i, parts in enumerate(partitions):
            for held in parts:
                head = self._logreg(x[~held], y[~held], speakers[~held], ctx, c, rows=~held)
                for j, rows in enumerate(forms):
                    logits[j * len(partitions) + i][held] = head_logits(head, rows[held])
        return fit_temperature(np.concatenate(logits), np.tile(y, len(logits)))

    def _shift(self, x: np.ndarray, y: np.ndarray, speakers: np.ndarray, ctx: TrainContext, temperature: float) -> dict[str, float] | None:
        """``calib_shift``: the shift-aware temperature ``{"d0", "b"}`` of a plain head on ``x (rows, F)``
        with ``temperature``: ``b`` fitted on the logits of each training corpus held out in turn
        (a head trained on the others, the distances measured from the others' statistics), ``d0``
        the median distance of the training rows from their own statistics. ``None`` when not
        asked for, or with a single training corpus (nothing to learn the shift from)."""
        if not ctx.option("calib_shift", False):
            return None
        corpora = np.array([s.split(":", 1)[0] for s in speakers])
        if len(set(corpora)) < 2:
            log.warning("calib_shift: one training corpus, no shift to learn from; plain temperature")
            return None
        logits, dist = [], []
        for corpus in sorted(set(corpora)):
            held = corpora == corpus
            head = self._logreg(x[~held], y[~held], speakers[~held], ctx, float(ctx.option("C", 1.0)), rows=~held)
            logits.append(head_logits(head, x[held]))
            dist.append(mean_square_z(x[held], head["mean"], head["std"]))
        d0 = float(np.median(mean_square_z(x, x.mean(axis=0), np.maximum(x.std(axis=0), 1e-8))))
        b = fit_shift_exponent(np.concatenate(logits), np.concatenate([y[corpora == c] for c in sorted(set(corpora))]),
                               np.concatenate(dist), d0, temperature)
        log.info("calib_shift: d0 %.3f, b %.3f", d0, b)
        return {"d0": round(d0, 6), "b": round(b, 6)}

    def _weights(self, y: np.ndarray, speakers: np.ndarray, ctx: TrainContext) -> np.ndarray | None:
        """``balance``: each training row's weight (:func:`~emomon.training.balance.balanced_weights`
        over the rows' corpora and classes); ``None`` (every row alike) for ``none``."""
        how = str(ctx.option("balance", DEFAULT_BALANCE))
        return None if how == "none" else balanced_weights(y, corpus_of(speakers), how)

    def _logreg(self, x: np.ndarray, y: np.ndarray, speakers: np.ndarray, ctx: TrainContext, c: float,
                rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """One standardised logistic head on training rows ``x (rows, F)``, weighted by ``balance``.
        ``rows``: which of the fitted model's training rows these are (a boolean mask; ``None``:
        all of them), for subclasses whose targets are per row (:mod:`.distill`)."""
        return fit_standardised_logreg(x, y, len(ctx.labels), c=c, seed=ctx.seed, max_iter=500,
                                       sample_weight=self._weights(y, speakers, ctx))

    def head_meta(self, ctx: TrainContext) -> dict[str, Any]:
        """What the saved config's ``meta.head`` records of how the head was trained."""
        return {"type": "logistic-regression", "C": float(ctx.option("C", 1.0)), "train_windows": bool(ctx.option("train_windows", True)),
                "augment": str(ctx.option("augment", DEFAULT_AUGMENT) or "")}

    def _fit_head(self, x: np.ndarray, y: np.ndarray, speakers: np.ndarray, ctx: TrainContext,
                  unadapted: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], float]:
        """A standardised logistic head on ``x (rows, F)`` and its temperature (1.0 without ``calibrate``)."""
        c = float(ctx.option("C", 1.0))
        head = self._logreg(x, y, speakers, ctx, c)
        temperature = self._calibration_temperature(x, y, speakers, ctx, c, unadapted) if ctx.option("calibrate", True) else 1.0
        return head, temperature

    def fit(self, train: Sequence[Utterance], ctx: TrainContext) -> EmotionModel:
        layers = [int(i) for i in ctx.option("layers", DEFAULT_LAYERS)]
        name, source = self._backbone_spec(ctx)
        backbone = load_backbone(name, source)
        x, y, speakers = self.training_rows(train, layers, ctx)
        norm = self._speaker_norm(train, layers, ctx) if self._adapts(ctx) else None
        base = shift = None
        if norm is not None:
            if ctx.option("unadapted_head", True):
                base = self._fit_head(x, y, speakers, ctx)  # the same rows, no speaker standardisation
                self._temperatures.setdefault("unadapted", []).append(base[1])
                shift = self._shift(x, y, speakers, ctx, base[1])
            other = self._calibration_form(norm, x, speakers, train, layers, ctx)
            x = norm.apply(x, speakers)
            head, temperature = self._fit_head(x, y, speakers, ctx, other)
        else:
            head, temperature = self._fit_head(x, y, speakers, ctx)
            shift = self._shift(x, y, speakers, ctx, temperature)
        self._temperatures.setdefault("head", []).append(temperature)
        self._shifts.append(shift)
        weights = self._weights(y, speakers, ctx)
        counts = np.bincount(y, weights=weights, minlength=len(ctx.labels)).astype(np.float64)
        config = LayerHeadModel.make_config(
            ctx.labels, layers, backbone=name, backbone_source=source,
            head=self.head_meta(ctx),
            temperature=temperature, mode=ctx.mode, prior_weight=None if norm is None else norm.prior_weight,
            unadapted_head=base is not None, shift=shift,
        )
        config.class_prior = [float(c) for c in np.maximum(counts, 1e-6) / np.maximum(counts, 1e-6).sum()]
        model = LayerHeadModel(config, backbone=backbone)
        model.set_head(head["mean"], head["std"], head["coef"], head["intercept"], temperature)
        if norm is not None:
            model.set_prior(norm.prior_mean, norm.prior_var)
        if base is not None:
            model.set_unadapted_head(base[0]["mean"], base[0]["std"], base[0]["coef"], base[0]["intercept"], base[1])
        return model.eval()

    def _calibration_form(self, norm: SpeakerNorm, x: np.ndarray, speakers: np.ndarray, train: Sequence[Utterance],
                          layers: Sequence[int], ctx: TrainContext) -> np.ndarray | None:
        """The training rows ``x (rows, F)`` as ``calib_heard`` wants them besides fully adapted:
        standardised with the prior (``none``, ``both``), or with the statistics of
        :data:`CALIB_PARTIAL_CLIPS` of the speaker's clips (``partial``); ``None`` for ``all``."""
        heard = ctx.option("calib_heard", "all")
        if heard in ("none", "both"):
            return norm.apply_prior(x)
        if heard == "partial":
            whole = self._select(self.features(train, ctx), layers)
            part = partial_speaker_norm(norm, self._heard_rows(train, layers, ctx), whole, [u.speaker for u in train],
                                        CALIB_PARTIAL_CLIPS, seed=ctx.seed)
            return part.apply(x, speakers)
        return None

    # -- speaker adaptation ------------------------------------------------------------------
    def _adapts(self, ctx: TrainContext) -> bool:
        return bool(ctx.option("adapt", False))

    def _prior_weight(self, ctx: TrainContext) -> float:
        return float(ctx.option("prior_weight", DEFAULT_PRIOR_WEIGHT))

    def _heard_rows(self, utts: Sequence[Utterance], layers: Sequence[int], ctx: TrainContext) -> list[np.ndarray]:
        """Per clip ``(voiced windows, F)``: the chosen layers of the windows a stream classifies."""
        return [self._select(f[v], layers) for f, v in zip(self.window_features(utts, ctx), self._voiced(utts, ctx))]

    def _speaker_norm(self, utts: Sequence[Utterance], layers: Sequence[int], ctx: TrainContext) -> SpeakerNorm:
        """Each training speaker's statistics (of their clean voiced windows) and the prior."""
        whole = self._select(self.features(utts, ctx), layers)
        return fit_speaker_norm(self._heard_rows(utts, layers, ctx), whole, [u.speaker for u in utts], self._prior_weight(ctx))

    def online_proba(self, model: EmotionModel, utts: Sequence[Utterance], ctx: TrainContext) -> list[OnlinePoint]:
        """The online-adaptive curve of an adaptive model (:func:`~emomon.training.adaptation.online_points`):
        whole-clip decisions, each with the statistics of the speaker's earlier clips' voiced windows."""
        assert isinstance(model, LayerHeadModel)
        if not model.adaptive:
            return []
        x = self._select(self.features(utts, ctx), model.layers)
        stats = [FeatureStats.of(r, len(r) * STREAM_HOP) if len(r) else FeatureStats.empty(x.shape[1])
                 for r in self._heard_rows(utts, model.layers, ctx)]
        adapter = model.new_adapter()
        assert adapter is not None
        return online_points(x, stats, [u.speaker for u in utts], adapter.state, lambda rows, st: self._head_proba(model, rows, st), seed=ctx.seed)

    def _head_proba(self, model: LayerHeadModel, x: np.ndarray, speaker: SpeakerState | None = None) -> np.ndarray:
        """``x (n, F)`` → probabilities ``(n, labels)``; an adaptive model standardises with
        ``speaker`` (default: its prior, nothing heard)."""
        with torch.inference_mode():
            return torch.softmax(model.classify_features(torch.from_numpy(x.astype(np.float32)), speaker), dim=-1).numpy()

    def predict_proba(self, model: EmotionModel, utts: Sequence[Utterance], ctx: TrainContext) -> np.ndarray:
        """Whole-clip probabilities ``(n, labels)``."""
        assert isinstance(model, LayerHeadModel)
        return self._head_proba(model, self._select(self.features(utts, ctx), model.layers))

    def stream_proba(self, model: EmotionModel, utts: Sequence[Utterance], ctx: TrainContext) -> np.ndarray:
        """The streamed decision ``(n, labels)``: the mean of each clip's speech windows'
        probabilities (all its windows when none has speech), as ``file --stream`` would see them."""
        assert isinstance(model, LayerHeadModel)
        rows = []
        for f, voiced in zip(self.window_features(utts, ctx), self._voiced(utts, ctx)):
            keep = voiced if voiced.any() else np.ones_like(voiced)
            rows.append(self._head_proba(model, self._select(f[keep], model.layers)).mean(axis=0))
        return np.stack(rows)

    def file_proba(self, model: EmotionModel, utts: Sequence[Utterance], ctx: TrainContext) -> np.ndarray:
        """The decision of ``emomon file`` ``(n, labels)``: the time-weighted mean of each clip's
        speech segments' probabilities; a row of NaN (no answer) for a clip without speech."""
        assert isinstance(model, LayerHeadModel)
        rows = []
        for f, spans in zip(self.file_features(utts, ctx), self.file_segments(utts, ctx)):
            if len(spans) == 0:
                rows.append(np.full(len(model.labels), np.nan))
                continue
            weights = (spans[:, 1] - spans[:, 0]).astype(np.float64)
            rows.append(weights @ self._head_proba(model, self._select(f, model.layers)) / weights.sum())
        return np.stack(rows)

    def extra(self, ctx: TrainContext) -> dict[str, Any]:
        name, source = self._backbone_spec(ctx)
        return {
            "backbone": name,
            "backbone_source": source,
            "layers": [int(i) for i in ctx.option("layers", DEFAULT_LAYERS)],
            "C": float(ctx.option("C", 1.0)),
            "train_windows": bool(ctx.option("train_windows", True)),
            "augment": str(ctx.option("augment", DEFAULT_AUGMENT) or ""),
            "stream_window_s": STREAM_WINDOW,
            "stream_hop_s": STREAM_HOP,
            "vad": self._vad(ctx).to_dict(),
            "temperatures": [round(t, 4) for t in self._temperatures.get("head", [])],
            "unadapted_temperatures": [round(t, 4) for t in self._temperatures.get("unadapted", [])] or None,
            "shifts": self._shifts if any(self._shifts) else None,
            "balance": str(ctx.option("balance", DEFAULT_BALANCE)),
            "adapt": self._adapts(ctx),
            "prior_weight": self._prior_weight(ctx) if self._adapts(ctx) else None,
        }

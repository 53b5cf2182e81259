"""``emomon train``: cross-validate a recipe on a corpus and save the final model.

The command line (:mod:`emomon.cli.root`) calls :func:`register` on its Typer app. :func:`train` is the
plain-Python entry point the command wraps.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

import typer

from ..cli.options import Compute  # the --compute choices every command shares
from ..errors import DataError, DeviceError, EmomonError
from ..records import Utterance

if TYPE_CHECKING:
    import torch

    from .protocols import Fold
    from .results import Figures, RunResults

log = logging.getLogger(__name__)


COMPUTE_CHOICES: tuple[str, ...] = tuple(c.value for c in Compute)


def load_utterances(corpus: str, data: str | Path) -> list[Utterance]:
    """Utterances of ``corpus`` under ``data`` (``load_corpus`` when the package has it)."""
    try:
        from .corpora import load_corpus  # type: ignore[attr-defined]
    except ImportError:
        load_corpus = None
    if load_corpus is not None:
        return list(load_corpus(corpus, data))
    if corpus != "ravdess":
        raise DataError(corpus, "unknown corpus (known: ravdess)")
    from .corpora import read_ravdess

    return read_ravdess(data)


def parse_data_spec(spec: str | Path, default_corpus: str) -> tuple[str, Path]:
    """``"emodb=DIR"`` → ``("emodb", DIR)``; a bare ``DIR`` (or one whose ``NAME=`` is not a
    corpus name) → ``(default_corpus, DIR)``."""
    text = str(spec)
    name, sep, rest = text.partition("=")
    if sep and name and "/" not in name:
        from .corpora.registry import resolve_corpus_name

        return resolve_corpus_name(name), Path(rest).expanduser()
    return default_corpus, Path(text).expanduser()


def load_corpora(specs: Sequence[str | Path], default_corpus: str = "ravdess") -> list[Utterance]:
    """Utterances of every ``--data`` spec (:func:`parse_data_spec`), each keeping its corpus and
    speaker; a corpus given twice, or two specs naming the same clips, is an error. Clips whose
    files cannot be trained on (not audio, broken, empty, NaN/Inf, too short) are skipped with a
    logged count per reason (:func:`~emomon.training.corpora.base.readable_clips`)."""
    from .corpora.base import readable_clips

    if not specs:
        raise DataError("--data", "no corpus given")
    utts: list[Utterance] = []
    seen: dict[str, str] = {}
    for spec in specs:
        name, root = parse_data_spec(spec, default_corpus)
        found = load_utterances(name, root)
        part = readable_clips(found, ", ".join(sorted({u.corpus for u in found})) or str(root))
        for corpus in sorted({u.corpus for u in part}):
            if corpus in seen:
                raise DataError(str(root), f"corpus {corpus} is already given by --data {seen[corpus]}")
            seen[corpus] = str(spec)
        counts = {c: sum(u.corpus == c for u in part) for c in sorted({u.corpus for u in part})}
        log.info("--data %s: %s", spec, ", ".join(f"{n} {c} clips" for c, n in counts.items()))
        utts += part
    return utts


def data_description(specs: Sequence[str | Path], default_corpus: str = "ravdess") -> str:
    """What metrics.json records as ``data``: the DIR of one bare spec, else ``name=DIR`` joined by ``, ``."""
    if len(specs) == 1 and "=" not in str(specs[0]):
        return str(specs[0])
    return ", ".join(f"{n}={d}" for n, d in (parse_data_spec(s, default_corpus) for s in specs))


def parse_fold_subset(spec: str | None) -> list[str] | None:
    """``"1,2"`` → ``["1", "2"]``; ``None``/empty → all folds."""
    if not spec:
        return None
    return [s.strip() for s in spec.split(",") if s.strip()]


def _compute_value(value: str | Compute | None) -> str | None:
    """``Compute.cpu`` → ``"cpu"``; strings and ``None`` unchanged."""
    return value.value if isinstance(value, Compute) else value


def resolve_compute(compute: str | Compute | None, device: str | Compute | None = None) -> str:
    """The compute device asked for: ``compute``, or the deprecated ``device`` alias; ``"auto"`` when neither.

    Accepts the :data:`COMPUTE_CHOICES` and ``cuda:N``; raises :class:`DeviceError` otherwise, and
    :class:`EmomonError` when both keywords are given with different values.
    """
    compute, device = _compute_value(compute), _compute_value(device)
    if device is not None:
        log.warning("train(device=...) is deprecated: use train(compute=...) (--compute on the command line)")
        if compute is not None and compute != device:
            raise EmomonError("train", f"compute={compute!r} and its deprecated alias device={device!r} disagree; give compute= only")
    value = compute or device or Compute.auto.value
    if value not in COMPUTE_CHOICES and not (value.startswith("cuda:") and value[5:].isdigit()):
        raise DeviceError(f"compute {value!r}", f"unknown compute device (use {', '.join(COMPUTE_CHOICES)} or cuda:N)")
    return value


def train(
    model: str,
    data: str | Path | Sequence[str | Path],
    out: str | Path,
    *,
    protocol: str = "emobox",
    corpus: str = "ravdess",
    folds: str | Path | None = None,
    normalize: str = "strict",
    k: int = 5,
    seed: int = 0,
    epochs: int | None = None,
    compute: str | Compute | None = None,
    cache: str | Path | None = None,
    no_cache: bool = False,
    final: bool = True,
    force: bool = False,
    options: Sequence[str] = (),
    fold_subset: Sequence[str] | None = None,
    progress: bool = True,
    noise: str | None = None,
    snr: str = "20,10,0",
    device: str | Compute | None = None,
):
    """Run ``emomon train`` from Python; returns the :class:`~emomon.training.runner.RunResult`.

    ``data``: a corpus directory (read with ``corpus``), or several specs ``NAME=DIR`` (one per
    corpus, e.g. ``["ravdess=/d/ravdess", "emodb=/d/emodb"]``); each clip keeps its corpus.

    ``compute`` is where the model runs: ``auto`` (the default: CUDA when available), ``cpu``,
    ``cuda`` or ``cuda:N``. ``device`` is its deprecated alias (logs a warning).
    """
    from .cache import FeatureCache
    from .protocols import PROTOCOLS, make_folds
    from .recipes.base import TrainContext
    from .runner import check_out_dir, run_protocol

    if protocol not in PROTOCOLS:
        raise DataError(protocol, f"unknown protocol (known: {', '.join(PROTOCOLS)})")
    from . import distributed

    torch_device, progress = _joined(resolve_compute(compute, device), progress)  # fail before any work
    recipe, mode, opts, conditions = _checked_options(model, normalize, options, noise, snr)  # fail before any work
    out = Path(out)
    check_out_dir(out, force)  # fail before any work
    distributed.barrier()  # every rank has looked at OUT before rank 0 writes to it
    specs = [data] if isinstance(data, (str, Path)) else list(data)
    everyone, utts, labels = _protocol_clips(specs, corpus, protocol)
    all_folds = select_folds(make_folds(protocol, utts, k=k, seed=seed, folds_path=folds), fold_subset)
    final = _wants_final(protocol, final)
    ctx = TrainContext(cache=FeatureCache(cache, enabled=not no_cache), seed=seed, device=torch_device, mode=mode, all_utterances=everyone,
                       epochs=epochs, labels=labels, progress=progress, options=opts)
    noise_dir = ctx.noise_dir if ctx.cache.enabled else None
    try:
        return run_protocol(recipe, utts, all_folds, out, ctx, protocol=protocol, data=data_description(specs, corpus), final=final,
                            force=force, noise=conditions, noise_dir=noise_dir)
    finally:
        distributed.teardown()


def _joined(compute: str, progress: bool) -> tuple["torch.device", bool]:
    """Join torchrun's process group, if any: ``(the torch device this process trains on, whether
    it shows progress: only the main rank does)``; an unusable device is an error before any work."""
    from ..models.registry import select_device
    from . import distributed

    ranks, where = distributed.setup(compute)
    return select_device(where), progress and ranks.main


def _checked_options(model: str, normalize: str, options: Sequence[str], noise: str | None, snr: str) -> tuple[Any, Any, dict[str, Any], list[Any]]:
    """``(recipe, mode, options, noise conditions)`` of :func:`train`'s arguments; an unknown
    recipe, mode, ``--set`` or noise condition is an error before any work."""
    from .noise import parse_conditions
    from .normalize import mode_from_option
    from .recipes import get_recipe, parse_options

    try:
        mode = mode_from_option(normalize)
        opts: dict[str, Any] = parse_options(options)
        conditions = parse_conditions(noise, snr) if noise else []
    except ValueError as exc:
        raise DataError("options", str(exc)) from None
    recipe = get_recipe(model)
    from .recipes.options import validate_options

    validate_options(recipe.name, recipe.options, opts)  # an unknown or mistyped --set fails before any work
    return recipe, mode, opts, conditions


def _protocol_clips(specs: Sequence[str | Path], corpus: str, protocol: str) -> tuple[list[Utterance], list[Utterance], list[str]]:
    """``(every clip of the --data specs, those of the protocol's classes, its labels)``."""
    from ..labels import EMOTIONS
    from .protocols import protocol_labels

    everyone = load_corpora(specs, corpus)
    labels = protocol_labels(protocol, EMOTIONS)
    utts = [u for u in everyone if u.emotion in labels]
    if len(utts) < len(everyone):
        log.info("protocol %s: %d clips of other classes than %s left out", protocol, len(everyone) - len(utts), "/".join(labels))
    return everyone, utts, labels


def _wants_final(protocol: str, final: bool) -> bool:
    """Whether :func:`train` trains a final model (not for ``pairs``); warns of the speaker-dependent ``random``."""
    if protocol == "pairs" and final:
        log.info("protocol pairs: no final model (each fold trains on one corpus)")
        final = False
    if protocol == "random":
        log.warning("protocol random is speaker-dependent: its figures are not comparable to speaker-independent ones")
    return final


def select_folds(folds: Sequence["Fold"], subset: Sequence[str] | None) -> list["Fold"]:
    """The folds named by ``--fold`` (all of them without it); :class:`DataError` naming any unknown one."""
    if not subset:
        return list(folds)
    known = {f.id for f in folds}
    unknown = [s for s in subset if s not in known]
    if unknown:
        raise DataError(f"--fold {','.join(unknown)}", f"no such fold (folds: {', '.join(sorted(known))})")
    return [f for f in folds if f.id in set(subset)]


def refuse_device_option(value: Optional[str]) -> None:
    """``train --device``: a usage error pointing at ``--compute`` (``--device`` is the audio input elsewhere)."""
    if value is not None:
        raise typer.BadParameter(
            f"train takes --compute {'|'.join(COMPUTE_CHOICES)} for where the model runs "
            "(--device names the audio input in the other commands)"
        )


def _figs(f: "Figures") -> str:
    return f"UA {f.ua.mean:.3f} ± {f.ua.std or 0:.3f}  WA {f.wa.mean:.3f} ± {f.wa.std or 0:.3f}  F1 {f.f1.mean:.3f} ± {f.f1.std or 0:.3f}"


def summary_lines(r: "RunResults") -> list[str]:
    """What ``emomon train`` prints: the strict figures, per test corpus (several corpora), per
    fold for ``pairs``, and the labelled online-adaptive curve."""
    from .results import Figures

    tag = "" if r.speaker_independent else " [speaker-dependent]"
    ece = f"  ECE {r.ece_pooled:.3f} (floor {r.ece_floor or 0:.3f})" if r.ece_pooled is not None else ""
    lines = [f"{r.model} {r.protocol}{tag} {r.mode}: " + _figs(Figures(r.ua, r.wa, r.f1)) + ece]
    if r.protocol == "pairs":
        lines += [f"  {f.fold}: UA {f.ua:.3f}  WA {f.wa:.3f}  F1 {f.f1:.3f}" for f in r.folds]
    elif len(r.corpora) > 1:
        lines += [f"  test corpus {c}: " + _figs(f) for c, f in r.corpora.items()]
    if r.online_adaptive is not None:
        curve = ", ".join(f"{p.heard}: {p.figures.ua.mean:.3f}" for p in r.online_adaptive.points)
        lines.append(f"  [{r.online_adaptive.mode}] UA by clips of the speaker heard before: {curve}")
    return lines


def register(app: typer.Typer) -> None:
    """Add the ``train`` command to ``app``."""
    from .recipes import recipe_names

    names = ", ".join(recipe_names())

    @app.command("train")
    def train_command(
        model: str = typer.Option(..., "--model", help=f"Recipe: {names}."),
        data: list[str] = typer.Option(..., "--data", help="Corpus directory (read with --corpus), or CORPUS=DIR; repeat for several corpora (--data ravdess=D1 --data emodb=D2)."),
        out: Path = typer.Option(..., "--out", help="Output directory (metrics.json, predictions.jsonl, confusion.png, model/)."),
        protocol: str = typer.Option("emobox", "--protocol", help="emobox (RAVDESS folds; other corpora always train) | loso | kfold-speaker | loco (leave one corpus out) | pairs "
                                                                  "(train on one corpus, test on another; 4 classes) | random (speaker-dependent)."),
        corpus: str = typer.Option("ravdess", "--corpus", help="Corpus reader."),
        folds: Optional[Path] = typer.Option(None, "--folds", help="EmoBox folds JSON (default: the shipped RAVDESS table)."),
        normalize: str = typer.Option("strict", "--normalize", help="strict | speaker (per-speaker feature statistics; labelled speaker-norm)."),
        k: int = typer.Option(5, "--k", help="Folds for kfold-speaker and random."),
        seed: int = typer.Option(0, "--seed"),
        epochs: Optional[int] = typer.Option(None, "--epochs", help="Override the recipe's epochs."),
        compute: Compute = typer.Option(Compute.auto, "--compute", help="Where the model runs: auto (CUDA when available), cpu, cuda."),
        _device: Optional[str] = typer.Option(None, "--device", hidden=True, callback=refuse_device_option),
        cache: Optional[Path] = typer.Option(None, "--cache", help="Feature cache dir (default $EMOMON_CACHE or ~/.cache/emomon/features)."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the feature cache."),
        no_final: bool = typer.Option(False, "--no-final", help="Skip the final model trained on all data."),
        force: bool = typer.Option(False, "--force", help="Start again: remove what an earlier run wrote in OUT (metrics.json, predictions.jsonl, confusion.png, model/, folds/) "
                                                          "instead of refusing; without it an unfinished run with the same settings resumes."),
        set_: Optional[list[str]] = typer.Option(None, "--set", help="Recipe option key=value (repeatable)."),
        fold: Optional[str] = typer.Option(None, "--fold", help="Only these folds, e.g. 1,2 (quick runs)."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
        noise: Optional[str] = typer.Option(None, "--noise", help="Also test each fold on noisy copies: white,pink,babble (babble = other speakers' clips)."),
        snr: str = typer.Option("20,10,0", "--snr", help="SNRs in dB for --noise."),
    ) -> None:
        """Cross-validate a model recipe speaker-independently and save the final model."""
        result = train(
            model,
            data,
            out,
            protocol=protocol,
            corpus=corpus,
            folds=folds,
            normalize=normalize,
            k=k,
            seed=seed,
            epochs=epochs,
            compute=compute.value,
            cache=cache,
            no_cache=no_cache,
            final=not no_final,
            force=force,
            options=set_ or [],
            fold_subset=parse_fold_subset(fold),
            progress=not quiet,
            noise=noise,
            snr=snr,
        )
        for line in summary_lines(result.results):
            typer.echo(line)
        typer.echo(f"-> {result.out_dir}")

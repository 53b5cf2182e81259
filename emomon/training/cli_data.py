"""``emomon data ...`` (download, corpora, inspect) and ``emomon report``.

The lead's ``emomon/cli.py`` calls :func:`register` on its Typer app. Expected errors are raised
as :class:`~emomon.errors.EmomonError` (the CLI prints them as one line).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, List, Mapping, Optional, Sequence

import typer

from ..labels import EMOTIONS
from ..records import Utterance

DEFAULT_DEST = Path("data") / "ravdess-speech"


@dataclass(frozen=True)
class SpeakerCounts:
    """One speaker of a corpus: gender and clips (in all, and per emotion)."""

    speaker: str
    gender: str
    clips: int
    emotions: Mapping[str, int] = field(default_factory=dict)


def _natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``spk2`` before ``spk10``."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", text) if t)


def _speaker_gender(utts: Sequence[Utterance]) -> str:
    """The gender of a speaker's clips: the one given, ``unknown`` when none is, ``a/b`` when they disagree."""
    genders = sorted({u.gender for u in utts if u.gender})
    return "/".join(genders) if genders else "unknown"


def speaker_counts(utts: Iterable[Utterance]) -> list[SpeakerCounts]:
    """Clips per speaker and emotion, speakers in natural order (``ravdess:02`` before ``ravdess:10``)."""
    by_speaker: dict[str, list[Utterance]] = {}
    for u in utts:
        by_speaker.setdefault(u.speaker, []).append(u)
    return [
        SpeakerCounts(speaker=spk, gender=_speaker_gender(us), clips=len(us), emotions=dict(Counter(u.emotion for u in us)))
        for spk, us in sorted(by_speaker.items(), key=lambda kv: _natural_key(kv[0]))
    ]


def emotion_columns(rows: Sequence[SpeakerCounts]) -> list[str]:
    """The emotions present in ``rows``: canonical order first, then any others alphabetically."""
    present = {e for r in rows for e in r.emotions}
    return [e for e in EMOTIONS if e in present] + sorted(present - set(EMOTIONS))


def format_speaker_table(rows: Sequence[SpeakerCounts]) -> list[str]:
    """``rows`` as aligned text lines: a header, then one line per speaker (names left, counts right).

    Plain text rather than a rich table so that it neither wraps nor truncates in a pipe.
    """
    emotions = emotion_columns(rows)
    headers = ["speaker", "gender", "clips", *emotions]
    cells = [[r.speaker, r.gender, str(r.clips), *(str(r.emotions.get(e, 0)) for e in emotions)] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths))]
        return "  " + "  ".join(parts).rstrip()

    return [line(headers), *(line(c) for c in cells)]


def download_cmd(
    name: str = typer.Argument(..., metavar="NAME", help="What to download: ravdess (RAVDESS speech, Zenodo record 1188976)."),
    dest: Path = typer.Option(DEFAULT_DEST, "--dest", help="Folder to unpack into (created; the download resumes here)."),
    url: Optional[str] = typer.Option(None, "--url", help="A mirror's URL instead of the official one."),
    md5: Optional[str] = typer.Option(None, "--md5", help="Expected MD5 (default: the published one; empty string: no check)."),
    size: Optional[int] = typer.Option(None, "--size", help="Expected size in bytes (default: the published one; 0: no check)."),
    restart: bool = typer.Option(False, "--restart", help="Discard a partial download and start again."),
    keep_archive: bool = typer.Option(False, "--keep-archive", help="Keep the .zip after unpacking."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Download, check (size, MD5) and unpack a corpus; resumes an interrupted download."""
    from .download import archive_spec, download_archive

    spec = archive_spec(name, url=url, md5=md5, size=size)
    if not quiet:
        typer.echo(f"{spec.name}: {spec.url}" + (f"\n  source: {spec.source}, license {spec.license}" if spec.source else ""), err=True)
    res = download_archive(spec, dest, restart=restart, keep_archive=keep_archive, progress=not quiet)
    if res.skipped:
        typer.echo(f"{res.dest}: already unpacked ({res.files} files)")
    else:
        typer.echo(f"{res.dest}: {res.files} files unpacked" + (" (download resumed)" if res.resumed else ""))
    typer.echo(f"train with: emomon train --model baseline --data {res.dest} --out runs/baseline")


def corpora_cmd() -> None:
    """List the corpus readers (names for --corpus)."""
    from .corpora import CORPORA

    for c in CORPORA.values():
        typer.echo(f"{c.name:13s} {c.description}")
    typer.echo(f"{'auto':13s} guess from the file names")


def inspect_cmd(
    root: Path = typer.Argument(..., metavar="DIR", help="Corpus folder (or manifest file)."),
    corpus: str = typer.Option("auto", "--corpus", help="Corpus reader (see `emomon data corpora`)."),
) -> None:
    """Count the clips of a corpus per emotion, speaker and gender."""
    from .corpora import detect_corpus, load_corpus, resolve_corpus_name

    name = resolve_corpus_name(corpus)
    if name == "auto":
        name = detect_corpus(root)
    utts = load_corpus(name, root)
    emo = Counter(u.emotion for u in utts)
    speakers = {u.speaker for u in utts}
    genders = Counter(u.gender or "unknown" for u in utts)
    typer.echo(f"{root}: {name}, {len(utts)} clips, {len(speakers)} speakers")
    typer.echo("  emotions: " + ", ".join(f"{e} {emo[e]}" for e in EMOTIONS if emo[e]) + (f" (none: {', '.join(e for e in EMOTIONS if not emo[e])})" if len(emo) < len(EMOTIONS) else ""))
    typer.echo("  clips by gender: " + ", ".join(f"{g} {n}" for g, n in sorted(genders.items())))
    typer.echo("  clips by speaker:")
    for text in format_speaker_table(speaker_counts(utts)):
        typer.echo(text)


def _data_app() -> typer.Typer:
    """``emomon data``: the :func:`download_cmd`, :func:`corpora_cmd` and :func:`inspect_cmd` sub-commands."""
    data_app = typer.Typer(
        name="data",
        help="Corpora: download RAVDESS, list the corpus readers, inspect a corpus folder.",
        no_args_is_help=True,
        add_completion=False,
    )
    data_app.command("download")(download_cmd)
    data_app.command("corpora")(corpora_cmd)
    data_app.command("inspect")(inspect_cmd)
    return data_app


def register(app: typer.Typer) -> None:
    """Add the ``data`` sub-commands and the ``report`` command to ``app``."""
    app.add_typer(_data_app(), name="data")

    @app.command("report")
    def report_cmd(
        runs: List[str] = typer.Argument(..., metavar="RUNS...", help="`emomon train` output folders (or their metrics.json), "
                                         "shipped model names (default) or model directories (config.json + model.safetensors)."),
        out: Path = typer.Option(..., "--out", help="Folder for report.md, report.html and figures/."),
        data: Optional[Path] = typer.Option(None, "--data", help="Also draw the seed's exploratory figures for this corpus folder."),
        corpus: str = typer.Option("auto", "--corpus", help="Corpus reader for --data."),
        eda_max: Optional[int] = typer.Option(None, "--eda-max", min=1, help="Explore at most this many clips of --data (a fixed random sample)."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing report in --out."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    ) -> None:
        """Compare training runs and trained models: UA/WA/F1 tables, per-class recall, confusion matrices, the seed's figures.

        A shipped model or a model directory shows what its config.json records (UA/WA/F1, streamed UA, ECE, protocol, provenance); the rest is marked n/a.
        """
        from .report import make_report

        res = make_report(runs, out, data=data, corpus=corpus, force=force, progress=not quiet, eda_max=eda_max)
        typer.echo(f"{res.markdown}\n{res.html}")

"""``modelreg push`` and ``modelreg pull``: move model files, showing what deduplication saved."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from modelreg.cli.inputs import parse_lineage, parse_metrics, parse_pairs, read_json_object
from modelreg.cli.output import count_files, emit_json, format_mb, say
from modelreg.cli.params import JsonFlag, RefArgument
from modelreg.cli.progress import TransferMeter
from modelreg.cli.session import Session

__all__ = ["pull", "push"]

Pairs = list[str] | None


def push(
    ctx: typer.Context,
    *,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Model name; the model is created on its first push.")
    ],
    path: Annotated[Path, typer.Argument(metavar="PATH", help="A file or a directory of model files.")],
    metric: Annotated[Pairs, typer.Option(metavar="KEY=NUMBER", help="A metric (repeatable).")] = None,
    param: Annotated[Pairs, typer.Option(metavar="KEY=VALUE", help="A parameter (repeatable).")] = None,
    tag: Annotated[Pairs, typer.Option(metavar="KEY=VALUE", help="A version tag (repeatable).")] = None,
    alias: Annotated[
        list[str] | None,
        typer.Option(metavar="ALIAS", help="Point this alias at the new version (repeatable)."),
    ] = None,
    description: Annotated[str, typer.Option(help="The version's description.")] = "",
    lineage: Annotated[
        Path | None,
        typer.Option(metavar="FILE.json", help="Lineage: run_id, code, datasets, parents, environment."),
    ] = None,
    signature: Annotated[
        Path | None, typer.Option(metavar="FILE.json", help="Input/output schema, a JSON object.")
    ] = None,
    number: Annotated[
        int | None,
        typer.Option(
            "--version",
            metavar="N",
            help="Register as version N (imports; admins): above every number the model has had.",
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Register the files at PATH as the next version of model NAME (or as version N, with --version).

    Files are chunked and hashed locally; only chunks the registry lacks are stored.
    """
    session = Session.of(ctx, json=json_output)
    # Parse everything before connecting: bad input stores nothing and creates no registry.
    metrics, params, tags = (
        parse_metrics(metric),
        parse_pairs(param, option="--param"),
        parse_pairs(tag, option="--tag"),
    )
    lineage_value = None if lineage is None else parse_lineage(read_json_object(lineage, what="lineage"))
    signature_value = None if signature is None else read_json_object(signature, what="signature")
    with session.connect() as registry, TransferMeter.for_push(visible=session.interactive) as meter:
        version = registry.push(
            name,
            path,
            metrics=metrics,
            params=params,
            tags=tags,
            description=description,
            lineage=lineage_value,
            signature=signature_value,
            aliases=alias or None,
            version=number,
            progress=meter,
        )
    stats = registry.last_push
    if session.json:
        figures = (
            {}
            if stats is None
            else {"bytes_new": stats.bytes_new, "bytes_deduplicated": stats.bytes_deduplicated}
        )
        emit_json({**version.to_dict(), **figures})
        return
    deduplicated = f", {format_mb(stats.bytes_deduplicated)} deduplicated" if stats is not None else ""
    new = stats.bytes_new if stats is not None else meter.counts["stored"]
    sizes = f"{format_mb(version.size_bytes)}, {format_mb(new)} new{deduplicated}"
    say(f"pushed {version.ref} {version.digest} ({count_files(version.files)}, {sizes})")


def pull(
    ctx: typer.Context,
    *,
    ref: RefArgument,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="DIR", show_default="./NAME-vN", help="Destination directory."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a destination that is not empty.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Download a version's files, verified against their sha256.

    REF is resolved once and the pinned version is pulled, so a concurrent alias move cannot mix versions.
    Chunks already in the local cache are not fetched again.
    """
    from modelreg.types import PullResult  # modelreg.types costs --help ~10 ms

    session = Session.of(ctx, json=json_output)
    started = time.perf_counter()
    with session.connect() as registry:
        version = registry.get_version(ref)
        with TransferMeter.for_pull(visible=session.interactive) as meter:
            dest = None if output is None else str(output)
            path = registry.pull(version.ref, dest=dest, overwrite=force, progress=meter)
    fetched = meter.counts["fetched"]
    if session.json:
        seconds = time.perf_counter() - started
        emit_json(PullResult(path, version, version.size_bytes, fetched, seconds).to_dict())
        return
    sizes = f"{format_mb(version.size_bytes)}, {format_mb(fetched)} fetched"
    say(f"pulled {version.ref} {version.digest} to {path} ({count_files(version.files)}, {sizes})")

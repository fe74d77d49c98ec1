"""``modelreg cache info|prune|clear``: the local pull cache, which works without any registry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelreg.cli.inputs import parse_duration, parse_size
from modelreg.cli.output import emit_json, format_bytes, say
from modelreg.cli.params import JsonFlag
from modelreg.cli.session import Session
from modelreg.errors import InvalidInput

if TYPE_CHECKING:
    from modelreg.transfer.cache import CacheUsage, ChunkCache

__all__ = ["app"]

app = typer.Typer(
    help="The local pull cache (pulled files, their chunks indexed by sha256): what it holds, pruning it.",
    no_args_is_help=True,
)

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        metavar="PATH",
        help="The cache directory. Default: $MODELREG_CACHE_DIR, else ~/.cache/modelreg.",
    ),
]


@app.command()
def info(ctx: typer.Context, *, directory: DirOption = None, json_output: JsonFlag = False) -> None:
    """Where the cache is, what it holds, and its bound (MODELREG_CACHE_MAX_BYTES).

    Its files are hard links to the files pulled where the cache and the destination share a file system:
    those bytes ("shared with pulled files") take no disk beyond the pulled files until they are deleted.
    """
    session = Session.of(ctx, json=json_output)
    cache = _cache(directory)
    usage = cache.usage()
    if session.json:
        emit_json({"dir": str(cache.root), "max_bytes": cache.max_bytes, **usage.to_dict()})
        return
    bound = "unbounded" if cache.max_bytes is None else f"bound {format_bytes(cache.max_bytes)}"
    say(
        f"{cache.root}: {usage.entries} files, {usage.chunks} chunks, {format_bytes(usage.bytes)}, "
        f"{format_bytes(usage.linked_bytes)} of it shared with pulled files ({bound})"
    )


@app.command()
def prune(
    ctx: typer.Context,
    *,
    max_size: Annotated[
        str | None,
        typer.Option(
            "--max-size",
            metavar="SIZE",
            help="Remove the least recently used files until at most SIZE is left: 20GiB, 500MB, or bytes. "
            "Default: MODELREG_CACHE_MAX_BYTES.",
        ),
    ] = None,
    unused_for: Annotated[
        str | None,
        typer.Option(
            "--unused-for",
            metavar="DURATION",
            help="Remove files no pull has used for this long: 30d, 12h, 90m or 2w.",
        ),
    ] = None,
    directory: DirOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Remove cached files: those unused for a while, then the least recently used beyond a size.

    Safe while pulls run: a pull that finds a chunk gone fetches it from the registry again. Pulled files
    stay where they were pulled: only the cache's link to them goes.
    """
    session = Session.of(ctx, json=json_output)
    cache = _cache(directory)
    limit = parse_size(max_size) if max_size is not None else cache.max_bytes
    age = parse_duration(unused_for).total_seconds() if unused_for is not None else None
    if limit is None and age is None:
        raise InvalidInput("give --max-size or --unused-for (or set MODELREG_CACHE_MAX_BYTES)")
    _report(session, cache, cache.prune(max_bytes=limit, unused_for=age))


@app.command()
def clear(ctx: typer.Context, *, directory: DirOption = None, json_output: JsonFlag = False) -> None:
    """Remove every cached file (the next pull of each version fetches all of it again)."""
    session = Session.of(ctx, json=json_output)
    cache = _cache(directory)
    _report(session, cache, cache.clear())


def _cache(directory: Path | None) -> ChunkCache:
    from modelreg.settings import Settings
    from modelreg.transfer.cache import ChunkCache, default_cache_dir

    settings = Settings.load()
    root = directory or settings.cache_dir or default_cache_dir()
    return ChunkCache(root, max_bytes=settings.cache_max_bytes)


def _report(session: Session, cache: ChunkCache, usage: CacheUsage) -> None:
    if session.json:
        emit_json({"dir": str(cache.root), **usage.to_dict()})
        return
    say(
        f"removed {usage.removed_entries} files ({format_bytes(usage.removed_bytes)}); "
        f"{usage.entries} left ({format_bytes(usage.bytes)}) in {cache.root}"
    )

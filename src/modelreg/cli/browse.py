"""Read-only commands: ``models``, ``versions``, ``show``, ``search``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from modelreg.cli.output import emit_json, print_models, print_version, print_versions
from modelreg.cli.params import JsonFlag, NameArgument, RefArgument
from modelreg.cli.session import Session

if TYPE_CHECKING:
    from modelreg.types import Model, ModelVersion, Page

__all__ = ["collect", "models", "search", "show", "versions"]

T = TypeVar("T")
R = TypeVar("R", "Model", "ModelVersion")  # a search result: anything with to_dict()

PAGE_SIZE = 100  # what one SDK call returns; the CLI follows page tokens to show a whole listing


def collect(fetch: Callable[[str | None, int], Page[T]], *, limit: int | None = None) -> tuple[list[T], bool]:
    """Follow page tokens until ``limit`` items (or the end). Returns the items and whether more exist."""
    items: list[T] = []
    token: str | None = None
    while True:
        want = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(items))
        page = fetch(token, want)
        items.extend(page.items)
        token = page.next_page_token
        if token is None:
            return items, False
        if limit is not None and len(items) >= limit:
            return items[:limit], True


def models(ctx: typer.Context, *, json_output: JsonFlag = False) -> None:
    """List registered models with their latest version, aliases and tags."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        found, _ = collect(lambda token, limit: registry.list_models(limit=limit, page_token=token))
    if session.json:
        emit_json([model.to_dict() for model in found])
    else:
        print_models(found)


def versions(
    ctx: typer.Context,
    *,
    name: NameArgument,
    include_deleted: Annotated[bool, typer.Option("--all", help="Include deleted versions.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """List the versions of model NAME, newest first."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        found, _ = collect(
            lambda token, limit: registry.list_versions(
                name, include_deleted=include_deleted, limit=limit, page_token=token
            )
        )
    if session.json:
        emit_json([version.to_dict() for version in found])
    else:
        print_versions(found)


def show(
    ctx: typer.Context,
    *,
    ref: RefArgument,
    at: Annotated[
        str | None,
        typer.Option(
            metavar="TIME",
            help="Show what REF named at this instant (ISO 8601 with a timezone, e.g. 2026-03-01T12:00:00Z), "
            "from the alias and stage history; after '@' a stage name stands for the stage.",
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Show one version: digest, stage, aliases, metadata, lineage and files."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        version = registry.get_version(ref) if at is None else registry.resolve(ref, at=at)
    if session.json:
        emit_json(version.to_dict())
    else:
        print_version(version)


def search(
    ctx: typer.Context,
    *,
    filter_text: Annotated[
        str | None,
        typer.Argument(
            metavar="FILTER",
            help="e.g. \"metrics.auc > 0.9 AND tags.team = 'ml'\" (MLflow's filter grammar); none = all.",
        ),
    ] = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(metavar="FIELD [ASC|DESC]", help="Sort key, e.g. 'metrics.auc DESC' (repeatable)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many results.")] = 100,
    search_models: Annotated[
        bool, typer.Option("--models", help="Search models instead of versions.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Search versions (or models, with --models) across the registry."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        if search_models:
            _search(
                session,
                lambda token, size: registry.search_models(
                    filter_text, order_by=order_by, limit=size, page_token=token
                ),
                print_models,
                limit=limit,
            )
        else:
            _search(
                session,
                lambda token, size: registry.search_versions(
                    filter_text, order_by=order_by, limit=size, page_token=token
                ),
                print_versions,
                limit=limit,
            )


def _search(
    session: Session,
    fetch: Callable[[str | None, int], Page[R]],
    render: Callable[[list[R]], None],
    *,
    limit: int,
) -> None:
    found, more = collect(fetch, limit=limit)
    if session.json:
        emit_json([item.to_dict() for item in found])
        return
    render(found)
    if more:
        print(f"showing the first {limit} results; raise --limit to see more", file=sys.stderr)

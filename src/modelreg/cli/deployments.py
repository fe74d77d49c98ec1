"""``modelreg deployments`` and ``modelreg deployment record | end``: which version serves where.

CI/CD and serving systems record a rollout (``deployment record churn@champion --environment prod-eu``);
anyone who may read the registry asks what served where, now or at any past instant, with the version's
digest and lineage (run, datasets): ``modelreg deployments --at 2026-03-01T12:00:00Z``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from modelreg.cli.output import emit_json, print_deployments
from modelreg.cli.params import JsonFlag, NameArgument, RefArgument
from modelreg.cli.session import Session

if TYPE_CHECKING:
    from modelreg.types import Deployment

__all__ = ["app", "deployments"]

app = typer.Typer(
    help="Record which version serves where (for CI/CD and serving systems).", no_args_is_help=True
)

Environment = Annotated[
    str, typer.Option("--environment", "-e", metavar="ENV", help="Where it serves, e.g. prod-eu.")
]
Endpoint = Annotated[
    str | None,
    typer.Option(metavar="ENDPOINT", help="The endpoint within the environment (a URL or service name)."),
]


@app.command("record")
def record(
    ctx: typer.Context,
    *,
    ref: RefArgument,
    environment: Environment,
    endpoint: Endpoint = None,
    json_output: JsonFlag = False,
) -> None:
    """Record that REF's version now serves ENV; the model's previous version there stops at that instant."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        _show(session, [registry.record_deployment(ref, environment=environment, endpoint=endpoint)])


@app.command("end")
def end(
    ctx: typer.Context,
    *,
    name: NameArgument,
    environment: Environment,
    endpoint: Endpoint = None,
    json_output: JsonFlag = False,
) -> None:
    """Record that model NAME no longer serves ENV (and ENDPOINT)."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        _show(session, [registry.record_deployment_ended(name, environment=environment, endpoint=endpoint)])


def deployments(
    ctx: typer.Context,
    *,
    environment: Annotated[
        str | None, typer.Option("--environment", "-e", metavar="ENV", help="Only this environment.")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", metavar="NAME", help="Only this model.")] = None,
    at: Annotated[
        str | None,
        typer.Option(
            metavar="TIME", help="What served at this instant (ISO 8601, with a timezone); default: now."
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Which model, version, digest and data (run, datasets) serve each environment, now or at TIME."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        _show(session, registry.deployments(environment=environment, model=model, at=at))


def _show(session: Session, found: list[Deployment]) -> None:
    if session.json:
        emit_json([item.to_dict() for item in found])
    else:
        print_deployments(found)

"""Mutable, audited metadata: ``modelreg tag set | rm`` and ``modelreg describe``.

A bare model name targets the model; any version reference (NAME/3, NAME@alias, …) targets that version.
With --json these commands print the target after the change (a model or a version).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelreg.cli.output import emit_json, say
from modelreg.cli.params import JsonFlag
from modelreg.cli.session import Session

if TYPE_CHECKING:
    from modelreg.client.client import Client

__all__ = ["describe", "tag_app"]

tag_app = typer.Typer(help="Set and remove tags on a model or on a version.", no_args_is_help=True)

TargetArgument = Annotated[
    str,
    typer.Argument(
        metavar="REF",
        help="NAME targets the model; a version reference (NAME/3, NAME@ALIAS, …) targets that version.",
    ),
]
KeyArgument = Annotated[str, typer.Argument(metavar="KEY", help="Tag key.")]


@tag_app.command("set")
def set_tag(
    ctx: typer.Context,
    *,
    ref: TargetArgument,
    key: KeyArgument,
    value: Annotated[str, typer.Argument(metavar="VALUE", help="Tag value.")],
    json_output: JsonFlag = False,
) -> None:
    """Set tag KEY=VALUE on REF (replacing an existing value)."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        registry.set_tag(ref, key, value)
        _report(session, registry, ref, f"tagged {ref} {key}={value}")


@tag_app.command("rm")
def remove_tag(
    ctx: typer.Context, *, ref: TargetArgument, key: KeyArgument, json_output: JsonFlag = False
) -> None:
    """Remove tag KEY from REF."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        registry.delete_tag(ref, key)
        _report(session, registry, ref, f"removed tag {key} from {ref}")


def describe(
    ctx: typer.Context,
    *,
    ref: TargetArgument,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The new description ('' clears it).")],
    json_output: JsonFlag = False,
) -> None:
    """Replace the description of a model or a version."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        registry.update_description(ref, text)
        _report(session, registry, ref, f"described {ref}")


def _report(session: Session, registry: Client, ref: str, summary: str) -> None:
    if not session.json:
        say(summary)
        return
    target: Any = registry.get_model(ref) if _is_model(ref) else registry.get_version(ref)
    emit_json(target.to_dict())


def _is_model(ref: str) -> bool:
    """The SDK's targeting rule: only a bare name names the model; 'models:/NAME' is its latest version."""
    return "/" not in ref and "@" not in ref

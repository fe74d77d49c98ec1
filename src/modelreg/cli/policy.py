"""``modelreg policy set FILE | show | check FILE | rm``: the promotion policy, as code (TOML).

``check`` validates a file here, without a registry (for CI on the repository holding the policy);
``set`` stores it in the registry (policy:admin), refused when the server reads ``MODELREG_POLICY_FILE``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelreg.cli.output import emit_json, say
from modelreg.cli.params import JsonFlag
from modelreg.cli.session import Session
from modelreg.errors import InvalidInput
from modelreg.registry.policy import parse_policy
from modelreg.types import PolicyDocument

__all__ = ["app"]

app = typer.Typer(
    help="The promotion policy: approvals, required metadata, metric gates.", no_args_is_help=True
)

FileArgument = Annotated[Path, typer.Argument(metavar="FILE", help="A policy file (TOML).")]


@app.command("set")
def set_policy(ctx: typer.Context, *, path: FileArgument, json_output: JsonFlag = False) -> None:
    """Validate FILE and store it as the registry's promotion policy (admins)."""
    session = Session.of(ctx, json=json_output)
    text = _read(path)
    with session.connect() as registry:
        _show(session, registry.set_policy(text))


@app.command("show")
def show(ctx: typer.Context, *, json_output: JsonFlag = False) -> None:
    """The policy in force and where it comes from (file, database or default)."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        document = registry.get_policy()
    if session.json:
        emit_json(document.to_dict())
        return
    _show(session, document)
    if document.text:
        print(document.text.rstrip("\n"))


@app.command("check")
def check(ctx: typer.Context, *, path: FileArgument, json_output: JsonFlag = False) -> None:
    """Validate FILE locally; exit status 2 with the field and line of the first problem."""
    session = Session.of(ctx, json=json_output)
    policy = parse_policy(_read(path))
    if session.json:
        emit_json(
            {"ok": True, "rules": len(policy.rules), "protected_aliases": list(policy.protected_aliases)}
        )
    else:
        say(f"{path}: valid: {_summary(policy.protected_aliases, len(policy.rules))}")


@app.command("rm")
def remove(ctx: typer.Context) -> None:
    """Remove the stored policy: the defaults apply again (admins)."""
    session = Session.of(ctx, json=False)
    with session.connect() as registry:
        registry.delete_policy()
    say("removed the stored promotion policy: the defaults apply")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"policy file {str(path)!r} not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"policy file {str(path)!r} cannot be read: {error}") from None


def _show(session: Session, document: PolicyDocument) -> None:
    if session.json:
        emit_json(document.to_dict())
    else:
        say(
            f"promotion policy from {document.source}: {_summary(document.protected_aliases, document.rules)}"
        )


def _summary(aliases: tuple[str, ...], rules: int) -> str:
    protected = ", ".join(f"@{alias}" for alias in aliases) or "none"
    return f"{rules} rule(s); protected aliases: {protected}"

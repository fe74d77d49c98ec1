"""``modelreg retention set | show | rm | apply``: which versions' files may be purged, and purging them.

``apply`` is a dry run unless ``--apply``: it prints each version a rule selects, the rule, and either
"purge" or what protects it (an alias, production, a legal hold). The rules themselves are described in
``modelreg.registry.retention`` and docs/architecture.md ("Retention and purge").
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from modelreg.cli.output import emit_json, format_bytes, say
from modelreg.cli.params import JsonFlag
from modelreg.cli.session import Session

if TYPE_CHECKING:
    from modelreg.types import RetentionPolicy, RetentionReport

__all__ = ["app"]

app = typer.Typer(
    help="Retention policies (global or per model): keep the last N versions, purge long-archived ones.",
    no_args_is_help=True,
)

ScopeArgument = Annotated[
    str | None, typer.Argument(metavar="[NAME]", help="A model's own policy; without it, the global one.")
]


@app.command("set")
def set_policy(
    ctx: typer.Context,
    *,
    name: ScopeArgument = None,
    keep_last: Annotated[
        int | None,
        typer.Option("--keep-last", metavar="N", help="Keep the N newest live versions; older ones go."),
    ] = None,
    archived_days: Annotated[
        int | None,
        typer.Option("--archived-days", metavar="D", help="Purge versions archived more than D days ago."),
    ] = None,
    deleted_days: Annotated[
        int | None,
        typer.Option(
            "--deleted-days",
            metavar="D",
            help="Purge versions deleted more than D days ago (and, globally, deleted models' versions).",
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Set the global policy, or NAME's own (which replaces the global one for NAME: a model policy with
    no rule exempts the model). Rules left out are off. Needs an admin."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        policy = registry.set_retention_policy(
            name, keep_last=keep_last, archived_days=archived_days, deleted_days=deleted_days
        )
    if session.json:
        emit_json(policy.to_dict())
    else:
        say(f"{_scope(policy.name)} retention: {_rules(policy)}")


@app.command("show")
def show_policies(ctx: typer.Context, *, name: ScopeArgument = None, json_output: JsonFlag = False) -> None:
    """Show every policy, or the one that applies to NAME (its own, else the global one)."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        if name is not None:
            registry.get_model(name)  # MODEL_NOT_FOUND rather than "no policy" for a typo
        policies = registry.list_retention_policies()
    if name is not None:
        own = [p for p in policies if p.name == name]
        policies = own or [p for p in policies if p.name is None]
    if session.json:
        emit_json([policy.to_dict() for policy in policies])
        return
    if not policies:
        print("no retention policy: nothing is purged", file=sys.stderr)
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("SCOPE", "KEEP LAST", "ARCHIVED DAYS", "DELETED DAYS", "UPDATED", "BY"):
        table.add_column(header, overflow="fold")
    for policy in policies:
        when = policy.updated_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
        rules = (policy.keep_last, policy.archived_days, policy.deleted_days)
        cells = (_scope(policy.name), *(_rule(rule) for rule in rules), when)
        table.add_row(*(Text(cell) for cell in (*cells, policy.updated_by)))
    Console(highlight=False).print(table)


@app.command("rm")
def remove_policy(ctx: typer.Context, *, name: ScopeArgument = None, json_output: JsonFlag = False) -> None:
    """Remove the global policy, or NAME's own (the global one then applies to NAME). Needs an admin."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        registry.delete_retention_policy(name)
    if session.json:
        emit_json({"name": name, "removed": True})
    else:
        say(f"removed the {_scope(name)} retention policy")


@app.command("apply")
def apply_policies(
    ctx: typer.Context,
    *,
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="Only this model.")] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Purge the selected versions. Without it, a dry run.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Show what the retention policies would purge and why, and what is protected and why; with --apply,
    purge it (audited). Then 'modelreg gc --apply' reclaims the chunks. Needs an admin."""
    session = Session.of(ctx, json=json_output)
    with session.connect() as registry:
        report = registry.apply_retention(name, apply=apply)
    if session.json:
        emit_json(report.to_dict())
    else:
        _print_report(report)


def _print_report(report: RetentionReport) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("VERSION", "SIZE", "RULE", "ACTION"):
        table.add_column(header, overflow="fold")
    verb = "purged" if report.applied else "purge"
    for candidate in sorted(report.purge + report.protected, key=lambda c: (c.name, c.version)):
        action = verb if not candidate.protected_by else "kept: " + ", ".join(candidate.protected_by)
        cells = (f"{candidate.name}/{candidate.version}", format_bytes(candidate.size_bytes))
        table.add_row(*(Text(cell) for cell in (*cells, ", ".join(candidate.rules), action)))
    if table.row_count:
        Console(highlight=False).print(table)
    count, size = len(report.purge), format_bytes(sum(c.size_bytes for c in report.purge))
    if report.applied:
        say(f"purged {count} version(s), {size}; run 'modelreg gc --apply' to reclaim their unshared chunks")
    else:
        say(f"dry run: would purge {count} version(s), {size}; run 'modelreg retention apply --apply'")


def _scope(name: str | None) -> str:
    return "global" if name is None else name


def _rule(value: int | None) -> str:
    return "-" if value is None else str(value)


def _rules(policy: RetentionPolicy) -> str:
    rules = []
    if policy.keep_last is not None:
        rules.append(f"keep the last {policy.keep_last} versions")
    if policy.archived_days is not None:
        rules.append(f"purge versions archived more than {policy.archived_days} days ago")
    if policy.deleted_days is not None:
        rules.append(f"purge versions deleted more than {policy.deleted_days} days ago")
    return "; ".join(rules) or "none (exempt)"

"""The ``modelreg`` command: global options, the command list, and ``main()``.

``main()`` is where every error ends: a ``ModelregError`` (from the SDK, or from the CLI's own input
checks) or a usage error becomes one line ``error: CODE: message`` on stderr and the documented exit status
(docs/cli.md). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, NoReturn

import typer
from typer._click.exceptions import NoArgsIsHelpError  # typer vendors click; this class is not re-exported

from modelreg import __version__
from modelreg.cli import (
    aliases,
    annotate,
    audit,
    browse,
    cache,
    catalog,
    deployments,
    holds,
    import_mlflow,
    lifecycle,
    migrate,
    policy,
    principals,
    promotion,
    retention,
    serve,
    storage,
    tokens,
    transfer,
)
from modelreg.cli.output import print_error
from modelreg.cli.params import JsonFlag
from modelreg.cli.session import DEFAULT_REGISTRY, Session
from modelreg.errors import InvalidInput, ModelregError

__all__ = ["app", "main"]

app = typer.Typer(
    name="modelreg",
    help="modelreg: a registry for AI models: versioned, deduplicated, auditable.",
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_TRANSFER, _BROWSE, _CHANGE = "Transfer", "Browse", "Change"
app.command(rich_help_panel=_TRANSFER)(transfer.push)
app.command(rich_help_panel=_TRANSFER)(transfer.pull)
app.command(rich_help_panel=_BROWSE)(browse.models)
app.command(rich_help_panel=_BROWSE)(browse.versions)
app.command(rich_help_panel=_BROWSE)(browse.show)
app.command(rich_help_panel=_BROWSE)(browse.search)
app.add_typer(aliases.app, name="alias", rich_help_panel=_CHANGE)
app.add_typer(annotate.tag_app, name="tag", rich_help_panel=_CHANGE)
app.command(rich_help_panel=_CHANGE)(annotate.describe)
app.command(rich_help_panel=_CHANGE)(lifecycle.stage)
app.command(rich_help_panel=_CHANGE)(lifecycle.delete)
app.add_typer(catalog.app, name="model", rich_help_panel=_CHANGE)
app.add_typer(audit.app, name="audit", rich_help_panel="Govern")
app.command(rich_help_panel="Govern")(deployments.deployments)
app.add_typer(deployments.app, name="deployment", rich_help_panel="Govern")
app.add_typer(holds.app, name="hold", rich_help_panel="Govern")
app.add_typer(retention.app, name="retention", rich_help_panel="Govern")
app.command(rich_help_panel="Govern")(promotion.promote)
app.command(rich_help_panel="Govern")(promotion.approve)
app.command(rich_help_panel="Govern")(promotion.reject)
app.command(rich_help_panel="Govern")(promotion.cancel)
app.command(rich_help_panel="Govern")(promotion.promotions)
app.command(rich_help_panel="Govern")(promotion.rollback)
app.add_typer(policy.app, name="policy", rich_help_panel="Govern")
app.command(rich_help_panel="Govern")(holds.purge)
_SERVER = "Server"
app.command(rich_help_panel=_SERVER)(serve.serve)
app.add_typer(tokens.app, name="token", rich_help_panel=_SERVER)
app.add_typer(principals.user_app, name="user", rich_help_panel=_SERVER)
app.add_typer(principals.group_app, name="group", rich_help_panel=_SERVER)
app.add_typer(principals.role_app, name="role", rich_help_panel=_SERVER)
app.command(rich_help_panel=_SERVER)(storage.gc)
app.add_typer(storage.app, name="storage", rich_help_panel=_SERVER)
app.add_typer(cache.app, name="cache", rich_help_panel=_TRANSFER)
app.command(rich_help_panel=_SERVER)(migrate.migrate)
app.command("import-mlflow", rich_help_panel=_SERVER)(import_mlflow.import_mlflow)


def _print_version(value: bool) -> None:
    if value:
        print(f"modelreg {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    ctx: typer.Context,
    *,
    registry: Annotated[
        str,
        typer.Option(
            envvar="MODELREG_REGISTRY",
            metavar="PATH|URL",
            help="A directory (embedded registry, created on first use), a sqlite:/postgresql: URL, "
            "or an http(s):// server.",
        ),
    ] = DEFAULT_REGISTRY,
    storage: Annotated[
        str | None,
        typer.Option(
            envvar="MODELREG_STORAGE",
            metavar="URL",
            help="Chunk store URL: file:///data/chunks or s3://bucket/prefix.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="MODELREG_TOKEN", metavar="TOKEN", help="API token for an http(s) registry."),
    ] = None,
    json_output: JsonFlag = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    ctx.obj = Session(target=registry, storage=storage, token=token, json=json_output)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the CLI and exit with its status (see the exit status table in docs/cli.md)."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    try:
        status = command.main(args=args, prog_name="modelreg", standalone_mode=False)
    except NoArgsIsHelpError as error:  # a group without its command: the help is the answer
        status = error.exit_code
    except ModelregError as error:
        print_error(error.code, error.message)
        status = error.exit_status
    except typer.TyperException as error:  # click's usage errors: unknown option, missing argument, …
        print_error(InvalidInput.code, _usage_message(error))
        status = InvalidInput.exit_status
    except typer.Abort:  # Ctrl-D at a prompt
        status = 1
    sys.exit(status if isinstance(status, int) else 0)


def _usage_message(error: typer.TyperException) -> str:
    context = getattr(error, "ctx", None)
    hint = f" (see '{context.command_path} --help')" if context is not None else ""
    return error.format_message() + hint


if __name__ == "__main__":
    main()

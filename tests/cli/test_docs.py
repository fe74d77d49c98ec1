"""docs/cli.md is generated from the Typer app; this fails when it is stale or something is undocumented.

Regenerate with ``python -m modelreg.cli.docs docs/cli.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
import typer

from modelreg.cli.app import app
from modelreg.cli.docs import EXIT_MEANINGS, Undocumented, render_reference
from modelreg.errors import ModelregError

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_is_up_to_date() -> None:
    assert PAGE.read_text(encoding="utf-8") == render_reference(), (
        "docs/cli.md is stale: run `python -m modelreg.cli.docs docs/cli.md`"
    )


def test_every_command_is_in_the_reference() -> None:
    page = render_reference()
    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="modelreg")
    for name in root.list_commands(ctx):
        assert f"### `modelreg {name}" in page
    for subcommand in ("alias set", "alias rm", "alias history", "tag set", "tag rm"):
        assert f"### `modelreg {subcommand}`" in page


def test_every_error_code_has_a_documented_exit_status() -> None:
    page = render_reference()
    for code, error_class in ModelregError.all_codes().items():
        assert error_class.exit_status in EXIT_MEANINGS
        assert f"`{code}`" in page


def test_an_undocumented_option_fails_generation() -> None:
    sloppy = typer.Typer()

    @sloppy.command()
    def fetch(ref: Annotated[str, typer.Argument(help="What to fetch.")], fast: bool = False) -> None:
        """Fetch something."""

    @sloppy.command()
    def other() -> None:
        """Keep Typer from collapsing a one-command app."""

    with pytest.raises(Undocumented, match="fast: no help text"):
        render_reference(sloppy)


def test_an_undocumented_command_fails_generation() -> None:
    sloppy = typer.Typer()

    @sloppy.command()
    def fetch() -> None:
        pass

    @sloppy.command()
    def other() -> None:
        """Documented."""

    with pytest.raises(Undocumented, match="fetch: no help text"):
        render_reference(sloppy)

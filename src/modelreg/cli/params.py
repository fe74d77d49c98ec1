"""Arguments and options shared by several commands, so each is spelled and documented once."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["JsonFlag", "NameArgument", "RefArgument"]

JsonFlag = Annotated[
    bool,
    typer.Option("--json", help="Print the result as one JSON document on stdout (no progress, no colour)."),
]

RefArgument = Annotated[
    str,
    typer.Argument(
        metavar="REF",
        help="NAME (latest), NAME/VERSION, NAME@ALIAS, NAME@sha256:<hex> or models:/NAME/VERSION.",
    ),
]

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="Model name.")]

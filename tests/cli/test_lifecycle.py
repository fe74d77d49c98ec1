"""The stage and delete commands' own pieces (their behaviour end to end is in test_cli.py)."""

from __future__ import annotations

from typing import get_args

from modelreg.cli.lifecycle import Stage
from modelreg.types import STAGES


def test_the_cli_offers_exactly_the_registry_stages() -> None:
    assert get_args(Stage) == STAGES

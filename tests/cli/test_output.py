"""Human formatting: sizes people can read, and errors that stay on one line."""

from __future__ import annotations

import pytest

from modelreg.cli.output import format_bytes, format_mb, print_error


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (3_145_851, "3.1 MB"), (5 * 10**12, "5.0 TB")],
)
def test_format_bytes(size: int, text: str) -> None:
    assert format_bytes(size) == text


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0.0 MB"), (14_000, "0.01 MB"), (3_145_851, "3.1 MB"), (2 * 10**9, "2000.0 MB")]
)
def test_format_mb(size: int, text: str) -> None:
    assert format_mb(size) == text


def test_an_error_is_one_line_even_when_its_message_is_not(capsys: pytest.CaptureFixture[str]) -> None:
    print_error("INVALID_FILTER", "invalid filter\nat position 3")
    assert capsys.readouterr().err == "error: INVALID_FILTER: invalid filter at position 3\n"

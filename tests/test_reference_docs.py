"""The generated reference pages match the code; regenerate with ``python -m modelreg.reference_docs``."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelreg.errors import ModelregError
from modelreg.reference_docs import PAGES, errors_page

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_is_up_to_date(name: str) -> None:
    assert (DOCS / name).read_text() == PAGES[name](), (
        f"docs/{name} is stale: run python -m modelreg.reference_docs"
    )


def test_every_error_code_is_listed_once() -> None:
    page = errors_page()
    for code in ModelregError.all_codes():
        assert page.count(f"| `{code}` |") == 1


def test_codes_are_unique_and_round_trip() -> None:
    for code, error_class in ModelregError.all_codes().items():
        rebuilt = ModelregError.from_code(code, "message", {"k": 1})
        assert type(rebuilt) is error_class and rebuilt.code == code and rebuilt.details == {"k": 1}
    assert type(ModelregError.from_code("NO_SUCH_CODE", "m")) is ModelregError

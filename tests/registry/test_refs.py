"""Reference parsing: every accepted form, and the forms refused with INVALID_REFERENCE."""

from __future__ import annotations

import pytest

from modelreg.errors import InvalidReference
from modelreg.registry.refs import Ref, parse_ref

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("churn", Ref("churn")),
        ("churn/3", Ref("churn", version=3)),
        ("churn/latest", Ref("churn")),
        ("churn@champion", Ref("churn", alias="champion")),
        (f"churn@{DIGEST}", Ref("churn", digest=DIGEST)),  # type: ignore[arg-type]
        ("models:/churn/3", Ref("churn", version=3)),
        ("models:/churn@champion", Ref("churn", alias="champion")),
        ("models:/churn", Ref("churn")),
        ("Customer.Churn_v2-x/12", Ref("Customer.Churn_v2-x", version=12)),
    ],
)
def test_accepted_forms(text: str, expected: Ref) -> None:
    assert parse_ref(text) == expected


@pytest.mark.parametrize("ref", [Ref("m"), Ref("m", version=3), Ref("m", alias="a"), Ref("m", digest=DIGEST)])  # type: ignore[arg-type]
def test_str_round_trips(ref: Ref) -> None:
    assert parse_ref(str(ref)) == ref


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/3",
        "m/",
        "m/0",
        "m/007",
        "m/99999999999",
        "m@",
        "m@1x",
        "m@latest",
        "m@sha256:zz",
        "models:/",
        "m/3@a",
        3,
    ],
)
def test_refused_forms(text: object) -> None:
    with pytest.raises(InvalidReference) as caught:
        parse_ref(text)
    assert caught.value.code == "INVALID_REFERENCE" and "expected NAME" in caught.value.message

"""KEY=VALUE options and JSON files: parsed and checked before the registry is touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelreg.cli.inputs import parse_lineage, parse_metrics, parse_pairs, read_json_object
from modelreg.errors import InvalidInput, InvalidMetadata
from modelreg.types import Dataset, Lineage


def test_pairs_split_at_the_first_equals_sign() -> None:
    assert parse_pairs(["team=ml", "query=a=b", "empty="], option="--tag") == {
        "team": "ml",
        "query": "a=b",
        "empty": "",
    }
    assert parse_pairs(None, option="--tag") == {}


@pytest.mark.parametrize("text", ["team", "=ml", " =ml"])
def test_pairs_need_a_key_and_an_equals_sign(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"--tag .*expected KEY=VALUE"):
        parse_pairs([text], option="--tag")


def test_a_key_given_twice_is_an_error_not_a_silent_overwrite() -> None:
    with pytest.raises(InvalidInput, match="'team' is given more than once"):
        parse_pairs(["team=a", "team=b"], option="--tag")


def test_metrics_are_floats() -> None:
    assert parse_metrics(["auc=0.91", "loss=1e-3", "epochs=3"]) == {"auc": 0.91, "loss": 0.001, "epochs": 3.0}


@pytest.mark.parametrize(("text", "message"), [("auc=high", "not a number"), ("auc=inf", "not a finite")])
def test_metrics_must_be_finite_numbers(text: str, message: str) -> None:
    with pytest.raises(InvalidMetadata, match=message) as caught:
        parse_metrics([text])
    assert caught.value.exit_status == 2


def test_json_object_files(tmp_path: Path) -> None:
    path = tmp_path / "signature.json"
    path.write_text('{"inputs": []}', encoding="utf-8")
    assert read_json_object(path, what="signature") == {"inputs": []}


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "not found"), ("{", "is not valid JSON: .*line 1"), ("[]", "must hold a JSON object, not list")],
)
def test_bad_json_files(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "lineage.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput, match=f"lineage file '.*lineage.json' {message}"):
        read_json_object(path, what="lineage")


def test_lineage_round_trips_its_own_json_shape() -> None:
    lineage = Lineage(
        run_id="run-1",
        code={"repo": "r", "commit": "c"},
        datasets=(Dataset(name="customers", uri="s3://d", role="train"),),
        parents=("base/3",),
        environment={"python": "3.11"},
    )
    assert parse_lineage(json.loads(json.dumps(lineage.to_dict()))) == lineage
    assert parse_lineage({}) == Lineage()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"runid": "x"}, "unknown field 'runid' in lineage"),
        ({"run_id": 3}, "lineage.run_id must be a string"),
        ({"code": ["x"]}, "lineage.code must be an object"),
        ({"datasets": {"name": "x"}}, "lineage.datasets must be a list"),
        ({"datasets": ["x"]}, r"lineage.datasets\[0\] must be an object"),
        ({"datasets": [{"uri": "s3://x"}]}, r"lineage.datasets\[0\] needs a 'name'"),
        ({"datasets": [{"name": "x", "size": 3}]}, r"unknown field 'size' in lineage.datasets\[0\]"),
        ({"parents": [3]}, "lineage.parents"),
    ],
)
def test_bad_lineage_names_the_offending_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidMetadata, match=message):
        parse_lineage(data)

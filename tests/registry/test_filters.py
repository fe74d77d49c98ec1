"""The filter and order_by parser: MLflow's filters unchanged, OR and parentheses, and precise errors."""

from __future__ import annotations

import re

import pytest

from modelreg.errors import InvalidFilter
from modelreg.registry.filters import (
    MAX_COMPARISONS,
    MAX_ORDER_KEYS,
    And,
    Comparison,
    Field,
    Or,
    OrderKey,
    Target,
    parse_filter,
    parse_order_by,
)


def attr(key: str) -> Field:
    return Field("attribute", key)


def tag(key: str) -> Field:
    return Field("tag", key)


def cmp(field: Field, op: str, value: object) -> Comparison:
    return Comparison(field, op, value)  # type: ignore[arg-type]  # tests build expected trees loosely


NAME_A = cmp(attr("name"), "=", "a")
NAME_B = cmp(attr("name"), "=", "b")
NAME_C = cmp(attr("name"), "=", "c")


# Every filter shape from MLflow's documentation and client (reference §2), accepted as written.
MLFLOW_VERSION_FILTERS = [
    ("name='my-model'", cmp(attr("name"), "=", "my-model")),
    ('name = "my-model"', cmp(attr("name"), "=", "my-model")),
    ("name != 'my-model'", cmp(attr("name"), "!=", "my-model")),
    ("name LIKE 'my%'", cmp(attr("name"), "LIKE", "my%")),
    ("name ILIKE '%MODEL%'", cmp(attr("name"), "ILIKE", "%MODEL%")),
    ("name IN ('a','b')", cmp(attr("name"), "IN", ("a", "b"))),
    ("name NOT IN ('a')", cmp(attr("name"), "NOT IN", ("a",))),
    ("run_id = '0a1b2c3d'", cmp(attr("run_id"), "=", "0a1b2c3d")),
    ("run_id IN ('r1', 'r2')", cmp(attr("run_id"), "IN", ("r1", "r2"))),
    ("version_number > 2", cmp(attr("version"), ">", 2)),
    ("version_number = '3'", cmp(attr("version"), "=", 3)),
    ("version_number <= 10", cmp(attr("version"), "<=", 10)),
    ("tags.`mlflow.prompt.is_prompt` != 'true'", cmp(tag("mlflow.prompt.is_prompt"), "!=", "true")),
    ("tags.mlflow.prompt.is_prompt != 'true'", cmp(tag("mlflow.prompt.is_prompt"), "!=", "true")),
    ("tag.env = 'prod'", cmp(tag("env"), "=", "prod")),
    ("tags.env LIKE 'pro%'", cmp(tag("env"), "LIKE", "pro%")),
    ("attribute.name = 'm'", cmp(attr("name"), "=", "m")),
    (
        "name = 'm' AND version_number >= 2 AND tags.env = 'prod'",
        And(
            (
                cmp(attr("name"), "=", "m"),
                cmp(attr("version"), ">=", 2),
                cmp(tag("env"), "=", "prod"),
            )
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), MLFLOW_VERSION_FILTERS)
def test_mlflow_version_filters_parse_unchanged(text: str, expected: object) -> None:
    assert parse_filter(text, target="versions") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name LIKE '%churn%'", cmp(attr("name"), "LIKE", "%churn%")),
        (
            "name ILIKE 'c%' and tags.team = 'growth'",
            And((cmp(attr("name"), "ILIKE", "c%"), cmp(tag("team"), "=", "growth"))),
        ),
        ("tags.`mlflow.prompt.is_prompt` != 'true'", cmp(tag("mlflow.prompt.is_prompt"), "!=", "true")),
        ("name IN ('a', 'b')", cmp(attr("name"), "IN", ("a", "b"))),
    ],
)
def test_mlflow_model_filters_parse_unchanged(text: str, expected: object) -> None:
    assert parse_filter(text, target="models") == expected


@pytest.mark.parametrize(
    ("alias", "canonical", "value", "expected"),
    [
        ("version_number", "version", "4", 4),
        ("current_stage", "stage", "'Production'", "production"),
        ("user_id", "created_by", "'alice'", "alice"),
        ("creation_timestamp", "created_at", "1700000000000", 1700000000000),
        ("last_updated_timestamp", "updated_at", "'2024-01-01T00:00:00Z'", "2024-01-01T00:00:00Z"),
        ("timestamp", "updated_at", "1", 1),
    ],
)
def test_mlflow_attribute_names_become_canonical(
    alias: str, canonical: str, value: str, expected: object
) -> None:
    assert parse_filter(f"{alias} = {value}", target="versions") == cmp(attr(canonical), "=", expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stage = 'staging'", cmp(attr("stage"), "=", "staging")),
        ("stage IN ('None', 'ARCHIVED')", cmp(attr("stage"), "IN", ("none", "archived"))),
        ("alias = 'champion'", cmp(attr("alias"), "=", "champion")),
        ("dataset LIKE 's3://data/%'", cmp(attr("dataset"), "LIKE", "s3://data/%")),
        ("digest = 'sha256:ab'", cmp(attr("digest"), "=", "sha256:ab")),
        ("description ILIKE '%retrained%'", cmp(attr("description"), "ILIKE", "%retrained%")),
        ("created_by = 'bob'", cmp(attr("created_by"), "=", "bob")),
        ("version IN (1, '2', 3)", cmp(attr("version"), "IN", (1, 2, 3))),
        ("version <> 1", cmp(attr("version"), "!=", 1)),
        ("created_at > '2024-01-01'", cmp(attr("created_at"), ">", "2024-01-01")),
        ("metrics.acc > 0.9", cmp(Field("metric", "acc"), ">", 0.9)),
        ("metric.acc = 1", cmp(Field("metric", "acc"), "=", 1.0)),
        ("metrics.loss < -1.5e-3", cmp(Field("metric", "loss"), "<", -0.0015)),
        ("metrics.acc >= .5", cmp(Field("metric", "acc"), ">=", 0.5)),
        ("params.lr = '0.01'", cmp(Field("param", "lr"), "=", "0.01")),
        ("param.optimizer IN ('adam')", cmp(Field("param", "optimizer"), "IN", ("adam",))),
        ("Name = 'x'", cmp(attr("name"), "=", "x")),
        ("TAGS.Env = 'x'", cmp(tag("Env"), "=", "x")),
    ],
)
def test_our_attributes_and_keyed_fields(text: str, expected: object) -> None:
    assert parse_filter(text, target="versions") == expected


def test_metric_values_are_floats() -> None:
    parsed = parse_filter("metrics.acc = 1", target="versions")
    assert isinstance(parsed, Comparison)
    assert type(parsed.value) is float


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("tags.`my.key` = 'v'", tag("my.key")),
        ("tags.\"a b\" = 'v'", tag("a b")),
        ("tags.`a``b` = 'v'", tag("a`b")),
        ("tags.`team:owner/x` = 'v'", tag("team:owner/x")),
        ("tags.a.`b c`.d = 'v'", tag("a.b c.d")),
        ("metrics.`val-acc` > 1", Field("metric", "val-acc")),
        ("metrics.f1 > 1", Field("metric", "f1")),
        ("tags.v1.2 = 'v'", tag("v1.2")),
        ("`name` = 'v'", attr("name")),
        ("\"name\" = 'v'", attr("name")),
    ],
)
def test_quoted_and_dotted_keys(text: str, field: Field) -> None:
    parsed = parse_filter(text, target="versions")
    assert isinstance(parsed, Comparison)
    assert parsed.field == field


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'it''s'", "it's"),
        (r"'it\'s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'back\\slash'", "back\\slash"),
        (r"'C:\data'", "C:\\data"),  # a backslash before an ordinary character stays
        ("'x'' OR 1=1 --'", "x' OR 1=1 --"),
        ("''", ""),
        ("'ünïcødé ✓'", "ünïcødé ✓"),
    ],
)
def test_string_escapes(literal: str, value: str) -> None:
    assert parse_filter(f"name = {literal}", target="versions") == cmp(attr("name"), "=", value)


def test_like_escapes_reach_the_pattern() -> None:
    parsed = parse_filter(r"name LIKE 'a\_b\%%'", target="versions")
    assert parsed == cmp(attr("name"), "LIKE", r"a\_b\%%")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name='a' OR name='b' AND name='c'", Or((NAME_A, And((NAME_B, NAME_C))))),
        ("name='a' AND name='b' OR name='c'", Or((And((NAME_A, NAME_B)), NAME_C))),
        ("(name='a' OR name='b') AND name='c'", And((Or((NAME_A, NAME_B)), NAME_C))),
        ("name='a' AND (name='b' OR name='c')", And((NAME_A, Or((NAME_B, NAME_C))))),
        ("(name='a' AND name='b') AND name='c'", And((NAME_A, NAME_B, NAME_C))),
        ("name='a' or (name='b' Or name='c')", Or((NAME_A, NAME_B, NAME_C))),
        ("((name='a'))", NAME_A),
        ("name='a' and name='b'", And((NAME_A, NAME_B))),
    ],
)
def test_and_binds_tighter_than_or(text: str, expected: object) -> None:
    assert parse_filter(text, target="versions") == expected


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_nothing_to_filter(text: str | None) -> None:
    assert parse_filter(text, target="versions") is None


def test_mlflow_prompt_false_means_not_a_prompt() -> None:
    # MLflow documents both forms for "plain models only"; a model without the tag must match either.
    expected = cmp(tag("mlflow.prompt.is_prompt"), "!=", "true")
    assert parse_filter("tags.`mlflow.prompt.is_prompt` = 'false'", target="models") == expected


def test_limits_are_inclusive() -> None:
    text = " AND ".join(["version = 1"] * MAX_COMPARISONS)
    parsed = parse_filter(text, target="versions")
    assert isinstance(parsed, And)
    assert len(parsed.terms) == MAX_COMPARISONS
    longest = "name = '" + "a" * (4096 - 9) + "'"
    assert len(longest) == 4096
    assert parse_filter(longest, target="versions") == cmp(attr("name"), "=", "a" * 4087)


ERRORS: list[tuple[str, Target, int, str]] = [
    # syntax
    ("metrics.acc >", "versions", 13, "expected a value (a quoted string or a number) after '>'"),
    ("name = 'x' AND", "versions", 14, "expected a comparison after 'AND'"),
    ("name = 'x' OR", "versions", 13, "expected a comparison after 'OR'"),
    ("name = 'x' AND AND name = 'y'", "versions", 15, "expected a comparison after 'AND', got 'AND'"),
    ("(name = 'x'", "versions", 11, "expected ')' after \"'x'\" to close the '(' at position 0"),
    ("name = 'x')", "versions", 10, "unbalanced ')'"),
    ("()", "versions", 1, "expected a comparison after '(', got ')'"),
    ("name = 'x' name = 'y'", "versions", 11, "expected AND, OR or the end of the filter"),
    ("name = 'x", "versions", 7, "no closing '"),
    ("tags.`x = 'y'", "versions", 5, "no closing `"),
    ("name", "versions", 4, "expected a comparison operator"),
    ("= 'a'", "versions", 0, "expected a field name"),
    ("'name' = 'a'", "versions", 0, "expected a field name, got \"'name'\""),
    ("name = bob", "versions", 7, "expected a value (a quoted string or a number) after '=', got 'bob'"),
    ("name == 'a'", "versions", 6, "expected a value"),
    ("name = 'a' && version = 1", "versions", 11, "unexpected character '&'"),
    ("NOT name = 'a'", "versions", 0, "NOT is only supported as NOT IN"),
    ("name NOT LIKE 'a'", "versions", 9, "expected IN after 'NOT'"),
    ("tags.env IS NULL", "versions", 9, "expected a comparison operator"),
    ("name IN ()", "versions", 9, "expected at least one value"),
    ("name IN ('a',)", "versions", 13, "expected a value"),
    ("name IN ('a' 'b')", "versions", 13, "expected ',' or ')'"),
    ("name IN 'a'", "versions", 8, "expected '(' and a list of values"),
    ("version = 3abc", "versions", 10, "invalid number"),
    ("version = 99999999999999999999", "versions", 10, "out of range"),
    ("name = 'a\x00'", "versions", 9, "is not allowed"),
    ("name = '\ud800'", "versions", 8, "is not allowed"),
    # fields
    ("foo = 'x'", "versions", 0, "unknown attribute 'foo' for versions: expected one of alias,"),
    ("source_path = 'x'", "versions", 0, "unknown attribute 'source_path'"),
    ("attribute.foo = 'x'", "versions", 10, "unknown attribute 'foo'"),
    ("x.y = 'a'", "versions", 0, "unknown prefix 'x'"),
    ("tags.`` = 'a'", "versions", 5, "empty tag key"),
    ("metrics.acc > 1", "models", 0, "models have no metrics"),
    ("params.lr = '1'", "models", 0, "models have no params"),
    ("version_number = 1", "models", 0, "unknown attribute 'version_number' for models"),
    ("run_id = 'r'", "models", 0, "unknown attribute 'run_id' for models"),
    # operators and values
    ("version = 1.5", "versions", 10, "version takes an integer, got 1.5"),
    ("version = 'abc'", "versions", 10, "version takes an integer"),
    ("version LIKE '1%'", "versions", 8, "version does not support LIKE; use one of: =, !=, <, <=, >, >="),
    ("metrics.acc = 'high'", "versions", 14, "metrics.acc takes a number"),
    ("metrics.acc LIKE '1%'", "versions", 12, "does not support LIKE"),
    ("metrics.acc IN (1, 2)", "versions", 12, "does not support IN"),
    ("metrics.acc > 1e999", "versions", 14, "finite number"),
    ("metrics.acc > -1e999", "versions", 14, "finite number"),
    ("tags.env = 5", "versions", 11, "tags.env takes a quoted string, got 5"),
    ("tags.env > 'a'", "versions", 9, "tags.env does not support >"),
    ("name LIKE 5", "versions", 10, "takes a quoted string"),
    ("name < 'b'", "versions", 5, "name does not support <"),
    ("name IN ('a', 2)", "versions", 14, "takes a quoted string, got 2"),
    ("stage = 'deployed'", "versions", 8, "unknown stage 'deployed': expected one of none, staging"),
    ("stage LIKE 'prod%'", "versions", 6, "does not support LIKE"),
    ("created_at > 'yesterday'", "versions", 13, "expected an ISO-8601 time"),
    ("created_at > 1.5", "versions", 13, "integer milliseconds"),
    ("created_at LIKE '2024%'", "versions", 11, "does not support LIKE"),
    ("creation_timestamp > 999999999999999999", "versions", 21, "expected an ISO-8601 time"),
    ("name LIKE 'abc\\\\'", "versions", 10, "ends with an unfinished escape"),
    ("name IN ('a', 'b') AND version IN ()", "versions", 35, "expected at least one value"),
]


@pytest.mark.parametrize(("text", "target", "position", "message"), ERRORS)
def test_errors_name_the_position_and_what_was_expected(
    text: str, target: Target, position: int, message: str
) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_filter(text, target=target)
    error = caught.value
    assert error.code == "INVALID_FILTER"
    assert error.message.startswith(f"invalid filter at position {position}: ")
    assert message in error.message
    assert error.details["position"] == position


def test_unknown_attribute_lists_every_accepted_name() -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_filter("colour = 'red'", target="models")
    assert caught.value.details["allowed"] == [
        "created_at",
        "created_by",
        "creation_timestamp",
        "description",
        "last_updated_timestamp",
        "name",
        "timestamp",
        "updated_at",
        "user_id",
    ]
    assert "tags.<key>" in caught.value.message


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("name = '" + "a" * 5000 + "'", 4096, "longer than 4096 characters"),
        (" AND ".join(["version = 1"] * (MAX_COMPARISONS + 1)), 50 * 16, "more than 50 comparisons"),
        ("(" * 40 + "version = 1" + ")" * 40, 32, "parentheses nested deeper than 32"),
    ],
)
def test_limits(text: str, position: int, message: str) -> None:
    with pytest.raises(InvalidFilter, match=re.escape(f"at position {position}: {message}")) as caught:
        parse_filter(text, target="versions")
    assert caught.value.code == "INVALID_FILTER"


@pytest.mark.parametrize("text", [3, b"name = 'a'", ["name = 'a'"]])
def test_non_text_filter_is_an_invalid_filter(text: object) -> None:
    with pytest.raises(InvalidFilter, match="at position 0: expected text"):
        parse_filter(text, target="versions")  # type: ignore[arg-type]  # what a careless caller may pass


# order_by


def test_mlflow_order_by_items() -> None:
    items = ["name ASC", "version_number DESC", "creation_timestamp", "last_updated_timestamp desc"]
    assert parse_order_by(items, target="versions") == [
        OrderKey(attr("name"), descending=False),
        OrderKey(attr("version"), descending=True),
        OrderKey(attr("created_at"), descending=False),
        OrderKey(attr("updated_at"), descending=True),
    ]
    assert parse_order_by(["name", "timestamp DESC"], target="models") == [
        OrderKey(attr("name"), descending=False),
        OrderKey(attr("updated_at"), descending=True),
    ]


def test_order_by_keyed_fields() -> None:
    items = ["metrics.acc DESC", "params.lr", "tags.`team owner` asc", "attributes.stage Desc"]
    assert parse_order_by(items, target="versions") == [
        OrderKey(Field("metric", "acc"), descending=True),
        OrderKey(Field("param", "lr"), descending=False),
        OrderKey(tag("team owner"), descending=False),
        OrderKey(attr("stage"), descending=True),
    ]


@pytest.mark.parametrize("items", [None, []])
def test_no_order_by(items: list[str] | None) -> None:
    assert parse_order_by(items, target="versions") == []


def test_a_lone_order_by_string_is_one_item() -> None:
    assert parse_order_by("name DESC", target="models") == [OrderKey(attr("name"), descending=True)]


@pytest.mark.parametrize(
    ("items", "target", "prefix", "message"),
    [
        (["foo"], "versions", "order_by[0] at position 0", "unknown attribute 'foo'"),
        (["name", ""], "versions", "order_by[1] at position 0", "expected a field name"),
        (["name SIDEWAYS"], "versions", "order_by[0] at position 5", "expected ASC, DESC or the end"),
        (["name ASC DESC"], "versions", "order_by[0] at position 9", "expected ASC, DESC or the end"),
        (["alias"], "versions", "order_by[0] at position 0", "cannot sort on alias"),
        (["dataset DESC"], "versions", "order_by[0] at position 0", "cannot sort on dataset"),
        (["metrics.acc"], "models", "order_by[0] at position 0", "models have no metrics"),
        (["version_number"], "models", "order_by[0] at position 0", "unknown attribute 'version_number'"),
        (["name = 'x'"], "versions", "order_by[0] at position 5", "expected ASC, DESC"),
        (["name"] * (MAX_ORDER_KEYS + 1), "versions", "order_by[16] at position 0", "more than 16 sort keys"),
    ],
)
def test_order_by_errors(items: list[str], target: Target, prefix: str, message: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_order_by(items, target=target)
    assert caught.value.code == "INVALID_FILTER"
    assert caught.value.message.startswith(f"invalid {prefix}: ")
    assert message in caught.value.message

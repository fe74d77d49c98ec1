"""``search_logged_models``: MLflow's filters parsed (``registry.logged_model_filter``) and compiled to SQL
with bound parameters (``metadata.logged_model_search``), ordering and offset pages, on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelreg import errors
from modelreg.access import Actor
from modelreg.connection import open_stores
from modelreg.registry.logged_model_filter import (
    ModelCondition,
    ModelSort,
    parse_model_filter,
    parse_model_order,
)
from modelreg.registry.service import Registry
from modelreg.types import Metric


@pytest.fixture
def registry(database: str, storage_url: str) -> Iterator[Registry]:
    metadata, chunks = open_stores(database, storage=storage_url)
    yield Registry(metadata, chunks, actor=Actor("alice", role="contributor"))
    metadata.close()


@pytest.fixture
def parsing(tmp_path: Path) -> Iterator[Registry]:
    """For input refused before any query: one database is enough."""
    metadata, chunks = open_stores(str(tmp_path / "registry"))
    yield Registry(metadata, chunks, actor=Actor("alice", role="contributor"))
    metadata.close()


@pytest.fixture
def models(registry: Registry) -> dict[str, str]:
    """Five logged models in experiment 1 (one more in 0): names, runs, types, statuses, tags, params and
    metrics to filter on."""
    experiment = registry.create_experiment("exp").experiment_id
    run, other = registry.create_run(experiment).run_id, registry.create_run(experiment).run_id
    ids: dict[str, str] = {}
    specs = [
        ("alpha", run, "sklearn", {"team": "risk"}, {"C": "1"}, 0.70),
        ("beta", run, "sklearn", {"team": "fraud"}, {"C": "2"}, 0.90),
        ("gamma", other, "torch", {}, {"C": "1"}, None),
        ("alpha", other, None, {"team": "risk", "mlflow.git.commit": "abc"}, {}, 0.80),
        ("delta", None, "torch", {"team": "risk"}, {"C": "3"}, 0.95),
    ]
    for index, (name, source, kind, tags, params, auc) in enumerate(specs):
        model = registry.create_logged_model(
            experiment, name=name, model_type=kind, source_run_id=source, tags=tags, params=params
        )
        if auc is not None:
            registry.log_model_metrics(model.model_id, [Metric("auc", auc, 1, 0)])
        ids[f"{name}{index}"] = model.model_id
    registry.finalize_logged_model(ids["beta1"], "READY")
    registry.finalize_logged_model(ids["delta4"], "FAILED")
    ids["run"], ids["other"] = run, other
    ids["elsewhere"] = registry.create_logged_model("0", name="alpha").model_id
    return ids


def found(registry: Registry, models: dict[str, str], filter: str | None, **options: object) -> list[str]:
    page = registry.search_logged_models(["1"], filter=filter, **options)  # type: ignore[arg-type]
    keys = {model_id: key for key, model_id in models.items()}
    return [keys[model.model_id] for model in page]


FILTERS = [
    (None, ["delta4", "alpha3", "gamma2", "beta1", "alpha0"]),  # newest first
    ("name = 'alpha'", ["alpha3", "alpha0"]),
    ("attributes.name != 'alpha'", ["delta4", "gamma2", "beta1"]),
    ("name LIKE 'al%'", ["alpha3", "alpha0"]),
    ("name ILIKE 'AL%'", ["alpha3", "alpha0"]),
    ("name LIKE 'AL%'", []),
    ("name IN ('beta', 'gamma')", ["gamma2", "beta1"]),
    ("status = 'READY'", ["beta1"]),
    ("status = 'LOGGED_MODEL_UPLOAD_FAILED'", ["delta4"]),
    ("status != 'PENDING'", ["delta4", "beta1"]),
    ("model_type = 'torch'", ["delta4", "gamma2"]),
    ("model_type != 'torch'", ["alpha3", "beta1", "alpha0"]),  # lacking a type: not 'torch'
    ("tags.team = 'risk'", ["delta4", "alpha3", "alpha0"]),
    ("tags.team != 'risk'", ["gamma2", "beta1"]),  # lacking the tag matches !=
    ("tags.`mlflow.git.commit` = 'abc' AND name = 'alpha'", ["alpha3"]),
    ("params.C = '1'", ["gamma2", "alpha0"]),
    ("params.C != '1'", ["delta4", "alpha3", "beta1"]),
    ("metrics.auc > 0.8", ["delta4", "beta1"]),
    ("metrics.auc >= 0.8", ["delta4", "alpha3", "beta1"]),
    ("metrics.auc < 0.8 AND tags.team = 'risk'", ["alpha0"]),
    ("metrics.auc != 0.9", ["delta4", "alpha3", "alpha0"]),  # no metric: no match
    ("metrics.auc = 0.95 and params.C = '3'", ["delta4"]),
    ("name = 'x'' OR 1=1 --'", []),  # text is a bound value, never SQL
]


def test_filters(registry: Registry, models: dict[str, str]) -> None:
    """One fixture for every filter: building it is most of the cost."""
    results = {filter: found(registry, models, filter) for filter, _ in FILTERS}
    assert results == dict(FILTERS)


def test_source_run_and_creation_time_filters(registry: Registry, models: dict[str, str]) -> None:
    run = models["run"]
    assert found(registry, models, f"source_run_id = '{run}'") == ["beta1", "alpha0"]
    assert found(registry, models, f"source_run_id != '{run}'") == ["delta4", "alpha3", "gamma2"]
    first = registry.get_logged_model(models["alpha0"]).creation_timestamp
    assert set(found(registry, models, f"creation_timestamp >= {first}")) == {
        "alpha0",
        "beta1",
        "gamma2",
        "alpha3",
        "delta4",
    }
    assert found(registry, models, f"creation_time < {first}") == []


def test_order_by_attributes_and_metrics(registry: Registry, models: dict[str, str]) -> None:
    assert found(registry, models, None, order_by=["name ASC"]) == [
        "alpha3",
        "alpha0",
        "beta1",
        "delta4",
        "gamma2",
    ]
    by_auc = found(registry, models, None, order_by=[{"field_name": "metrics.auc", "ascending": False}])
    assert by_auc == ["delta4", "beta1", "alpha3", "alpha0", "gamma2"]  # a missing metric sorts last
    ascending = found(registry, models, None, order_by=["metrics.auc"])
    assert ascending == ["alpha0", "alpha3", "beta1", "delta4", "gamma2"]
    assert found(registry, models, None, order_by=["model_type DESC", "name"])[:2] == ["delta4", "gamma2"]


def test_pages_follow_each_other_and_tokens_are_bound_to_their_query(
    registry: Registry, models: dict[str, str]
) -> None:
    first = registry.search_logged_models(["1"], max_results=2)
    assert first.next_page_token is not None and len(first) == 2
    second = registry.search_logged_models(["1"], max_results=2, page_token=first.next_page_token)
    third = registry.search_logged_models(["1"], max_results=2, page_token=second.next_page_token)
    seen = [m.model_id for page in (first, second, third) for m in page]
    assert third.next_page_token is None and len(seen) == len(set(seen)) == 5
    with pytest.raises(errors.InvalidPageToken):
        registry.search_logged_models(
            ["1"], filter="name = 'alpha'", max_results=2, page_token=first.next_page_token
        )
    both = registry.search_logged_models(["0", "1"])
    assert models["elsewhere"] in {m.model_id for m in both} and len(both) == 6


@pytest.mark.parametrize(
    ("filter", "position"),
    [
        ("name = ", 7),
        ("name == 'a'", 6),
        ("colour = 'red'", 0),
        ("metrics.auc > 'high'", 14),
        ("metrics.auc LIKE '0.%'", 12),
        ("tags.team < 'b'", 10),
        ("name = 'a' OR name = 'b'", 11),
        ("(name = 'a')", 0),
        ("status = 'DONE'", 9),
        ("name = 'a' AND", 14),
        ("name = 'unclosed", 7),
    ],
)
def test_bad_filters_name_their_position(parsing: Registry, filter: str, position: int) -> None:
    with pytest.raises(errors.InvalidFilter) as refused:
        parsing.search_logged_models(["0"], filter=filter)
    assert refused.value.code == "INVALID_FILTER"
    assert refused.value.details["position"] == position


@pytest.mark.parametrize(
    "order_by",
    [
        ["tags.team"],
        ["colour"],
        ["name SIDEWAYS"],
        [{"field_name": "params.C"}],
        [{"field_name": 3}],
        [{"field_name": "name", "ascending": "yes"}],
        ["name"] * 17,
    ],
)
def test_bad_sort_keys(parsing: Registry, order_by: list[object]) -> None:
    with pytest.raises(errors.InvalidFilter):
        parsing.search_logged_models(["0"], order_by=order_by)


@pytest.mark.parametrize("experiments", [[], ["abc"], ["01"], None, [str(i) for i in range(101)]])
def test_bad_experiment_lists(parsing: Registry, experiments: object) -> None:
    with pytest.raises(errors.InvalidInput):
        parsing.search_logged_models(experiments)  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [0, 1001, "10", True])
def test_bad_page_sizes(parsing: Registry, limit: object) -> None:
    with pytest.raises(errors.InvalidInput):
        parsing.search_logged_models(["0"], max_results=limit)  # type: ignore[arg-type]


def test_the_parsed_form() -> None:
    assert parse_model_filter("name = 'm' AND tags.`a.b` != \"x\" AND metrics.loss <= 1") == (
        ModelCondition("attribute", "name", "=", "m"),
        ModelCondition("tag", "a.b", "!=", "x"),
        ModelCondition("metric", "loss", "<=", 1.0),
    )
    assert parse_model_filter("status IN ('READY', 'LOGGED_MODEL_PENDING')") == (
        ModelCondition("attribute", "status", "IN", ("READY", "PENDING")),
    )
    assert parse_model_filter("  ") == ()
    assert parse_model_order(["creation_time DESC", {"field_name": "metrics.a.b", "ascending": True}]) == (
        ModelSort("attribute", "creation_timestamp", True),
        ModelSort("metric", "a.b", False),
    )

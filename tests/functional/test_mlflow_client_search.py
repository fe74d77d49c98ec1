"""MLflow's client searching a real ``modelreg serve``: filters, ``order_by`` and paging over 250 versions.

The grammar and defaults are MLflow's (``mlflow/utils/search_utils.py``): AND-joined comparisons, ``LIKE`` /
``ILIKE`` / ``IN``, ``tags.<key>``, ``version_number`` compared as an integer, opaque ``page_token`` paging,
ties broken by name then version. ``MLFLOW_COMPAT_REFERENCE=1`` runs the module against MLflow's own server.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.functional.mlflow_servers import (
    REQUIREMENTS,
    MlflowSession,
    mlflow_session,
    run_target_server,
    train_classifiers,
)

# One worker runs this module, so its module-scoped servers start once (addopts: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_mlflow_client_search")

with warnings.catch_warnings():
    # MLflow's own import-time notice about its type hints (mlflow/types/type_hints.py): not ours to fix.
    warnings.filterwarnings("ignore", ".*type hint is inferred as AnyType", UserWarning)
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.store.entities.paged_list import PagedList

PAGED, VERSIONS, BUCKETS = "paged", 250, 5
CATALOG = [f"catalog-{index:02d}" for index in range(12)]


@dataclass(frozen=True)
class Seeded:
    run_id: str
    source: str  # the LoggedModel URI every version of PAGED was created from


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowSession]:
    with (
        run_target_server(tmp_path_factory.mktemp("server")) as url,
        mlflow_session(url, experiment="search") as session,
    ):
        yield session


@pytest.fixture(scope="module")
def seeded(session: MlflowSession) -> Seeded:
    """CATALOG models (even ones tagged team=risk), and PAGED with VERSIONS versions tagged bucket=N % 5."""
    client = session.client
    for index, name in enumerate(CATALOG):
        team = "risk" if index % 2 == 0 else "growth"
        client.create_registered_model(
            name, tags={"team": team, "index": f"{index:02d}"}, description=name.upper()
        )
    with mlflow.start_run(experiment_id=session.experiment_id) as run:
        logged = mlflow.sklearn.log_model(
            train_classifiers().first, name="model", pip_requirements=REQUIREMENTS
        )
    client.create_registered_model(PAGED)
    for number in range(1, VERSIONS + 1):
        tags = {"bucket": str(number % BUCKETS)}
        client.create_model_version(
            PAGED, logged.model_uri, run_id=run.info.run_id, model_id=logged.model_id, tags=tags
        )
    return Seeded(run.info.run_id, logged.model_uri)


def all_pages(search: Callable[..., PagedList[Any]], *, max_results: int, **query: Any) -> list[list[Any]]:
    """Follow ``page_token`` until the server stops handing one out."""
    pages = [search(max_results=max_results, **query)]
    while pages[-1].token:
        pages.append(search(max_results=max_results, page_token=pages[-1].token, **query))
    return [list(page) for page in pages]


def numbers(versions: list[Any]) -> list[int]:
    return [int(version.version) for version in versions]


# -----------------------------------------------------------------------------------------------------------
def test_model_versions_page_through_250_in_the_default_order(session: MlflowSession, seeded: Seeded) -> None:
    pages = all_pages(
        session.client.search_model_versions, max_results=100, filter_string=f"name = '{PAGED}'"
    )
    assert [len(page) for page in pages] == [100, 100, 50]
    # Default order: last_updated_timestamp DESC, then name, then version_number DESC.
    assert [n for page in pages for n in numbers(page)] == list(range(VERSIONS, 0, -1))
    first = pages[0][0]
    assert (first.name, first.source, first.run_id, first.tags) == (
        PAGED,
        seeded.source,
        seeded.run_id,
        {"bucket": "0"},
    )

    everything = session.client.search_model_versions(f"name = '{PAGED}'")  # default max_results: 10,000
    assert (len(everything), everything.token) == (VERSIONS, "")  # no next_page_token: the proto default


def test_model_versions_order_by_with_paging(session: MlflowSession, seeded: Seeded) -> None:
    query = {"filter_string": f"name = '{PAGED}'", "order_by": ["version_number ASC"]}
    pages = all_pages(session.client.search_model_versions, max_results=120, **query)
    assert [numbers(page) for page in pages] == [
        list(range(1, 121)),
        list(range(121, 241)),
        list(range(241, 251)),
    ]

    by_time = list(
        session.client.search_model_versions(f"name = '{PAGED}'", order_by=["creation_timestamp ASC"])
    )
    keys = [(v.creation_timestamp, int(v.version)) for v in by_time]
    assert len(keys) == VERSIONS and keys == sorted(keys, key=lambda key: (key[0], -key[1]))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("tags.bucket = '3'", [n for n in range(VERSIONS, 0, -1) if n % BUCKETS == 3]),
        ("version_number > 240", list(range(250, 240, -1))),
        ("version_number <= 12 AND tags.bucket = '0'", [10, 5]),
        ("version_number = 7", [7]),
        ("tags.bucket LIKE '4%' AND version_number < 20", [19, 14, 9, 4]),
        ("tags.bucket != '0' AND version_number <= 6", [6, 4, 3, 2, 1]),
        ("version_number >= 248 AND run_id = '{run_id}'", [250, 249, 248]),
        ("version_number < 3 AND source_path = '{source}'", [2, 1]),
        ("version_number = 5 AND tags.bucket = '1'", []),
    ],
)
def test_model_versions_filters(
    session: MlflowSession, seeded: Seeded, condition: str, expected: list[int]
) -> None:
    condition = condition.format(run_id=seeded.run_id, source=seeded.source)
    found = session.client.search_model_versions(f"name = '{PAGED}' AND {condition}")
    assert numbers(list(found)) == expected


def test_model_versions_by_name_pattern_and_list(session: MlflowSession, seeded: Seeded) -> None:
    found = session.client.search_model_versions("name LIKE 'pag%' AND version_number > 249")
    assert [(v.name, v.version) for v in found] == [(PAGED, "250")]
    found = session.client.search_model_versions(f"name IN ('{PAGED}', 'nothing') AND version_number <= 2")
    assert numbers(list(found)) == [2, 1]
    assert list(session.client.search_model_versions("name = 'catalog-00'")) == []  # a model with no version


def test_registered_models_page_in_the_requested_order(session: MlflowSession, seeded: Seeded) -> None:
    pages = all_pages(
        session.client.search_registered_models,
        max_results=5,
        filter_string="name LIKE 'catalog-%'",
        order_by=["name DESC"],
    )
    assert [[m.name for m in page] for page in pages] == [CATALOG[11:6:-1], CATALOG[6:1:-1], CATALOG[1::-1]]
    everything = session.client.search_registered_models()  # default max_results: 100
    assert [m.name for m in everything] == [*CATALOG, PAGED] and everything.token == ""


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("tags.team = 'risk'", CATALOG[0::2]),
        ("tags.team != 'risk' AND name LIKE 'catalog-%'", CATALOG[1::2]),
        ("name IN ('catalog-01', 'catalog-03', 'nothing')", ["catalog-01", "catalog-03"]),
        ("name ILIKE 'CATALOG-1%'", ["catalog-10", "catalog-11"]),
        ("name != 'catalog-00' AND name LIKE 'catalog-0%'", CATALOG[1:10]),
        ("name NOT IN ('catalog-00', 'paged') AND tags.index LIKE '0%'", CATALOG[1:10]),
        (f"name = '{PAGED}'", [PAGED]),
        ("tags.team = 'risk' AND tags.index = '03'", []),
    ],
)
def test_registered_models_filters(
    session: MlflowSession, seeded: Seeded, condition: str, expected: list[str]
) -> None:
    assert [m.name for m in session.client.search_registered_models(condition)] == expected


def test_registered_models_order_by_timestamps_and_fields(session: MlflowSession, seeded: Seeded) -> None:
    # MLflow's SQL store orders registered models by name, "timestamp" or "last_updated_timestamp" (both the
    # last update); creation_timestamp is refused (see test_mlflow_client_errors).
    found = list(
        session.client.search_registered_models("name LIKE 'catalog-%'", order_by=["timestamp DESC"])
    )
    assert len(found) == len(CATALOG)
    assert found == sorted(found, key=lambda m: (-m.last_updated_timestamp, m.name))  # ties broken by name
    found = list(session.client.search_registered_models(order_by=["last_updated_timestamp ASC"]))
    assert found == sorted(found, key=lambda m: (m.last_updated_timestamp, m.name)) and len(found) == 13

    first = session.client.search_registered_models("name = 'catalog-04'")[0]
    assert (first.tags, first.description) == ({"team": "risk", "index": "04"}, "CATALOG-04")
    paged = session.client.search_registered_models(f"name = '{PAGED}'")[0]
    assert [(v.version, v.current_stage) for v in paged.latest_versions] == [(str(VERSIONS), "None")]

"""MLflow's searches through the real app: filters, order_by, paging with page_token, defaults and limits."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from modelreg.api.mlflow.search import collect, version_filter
from modelreg.client.client import Client
from modelreg.types import Page
from tests.api.mlflow.conftest import MODEL_FILES, Mlflow, mlflow_error


def _numbers(body: dict[str, Any]) -> list[int]:
    return [int(version["version"]) for version in body.get("model_versions", [])]


def _offset(token: str) -> int:
    offset: int = json.loads(base64.b64decode(token))["offset"]
    return offset


@pytest.fixture
def versions_250(mlflow: Mlflow) -> dict[str, str]:
    """churn/1…250 made through MLflow: odd numbers from run A, even from run B; every tenth tagged gold."""
    mlflow.create_model("churn")
    runs = {"a": mlflow.run(MODEL_FILES)["info"]["run_id"], "b": mlflow.run(MODEL_FILES)["info"]["run_id"]}
    for number in range(1, 251):
        run_id = runs["a"] if number % 2 else runs["b"]
        tags = [{"key": "tier", "value": "gold"}] if number % 10 == 0 else []
        created = mlflow.create_version("churn", f"runs:/{run_id}/model", run_id=run_id, tags=tags)
        assert created["version"] == str(number)
    return runs


def test_paging_over_250_versions(mlflow: Mlflow, versions_250: dict[str, str]) -> None:
    # The default page (10,000) holds them all, newest update first, and no token follows.
    everything = mlflow.ok(mlflow.get("model-versions/search", filter="name = 'churn'"))
    assert _numbers(everything) == list(range(250, 0, -1))
    assert "next_page_token" not in everything
    assert all("aliases" not in version for version in everything["model_versions"])
    # Pages of 100 in version order, as MLflow's client walks them.
    seen: list[int] = []
    token: str | None = None
    offsets = []
    while True:
        params: dict[str, Any] = {
            "filter": "name='churn'",
            "max_results": 100,
            "order_by": "version_number ASC",
        }
        if token is not None:
            params["page_token"] = token
        page = mlflow.ok(mlflow.get("model-versions/search", **params))
        seen += _numbers(page)
        token = page.get("next_page_token")
        if token is None:
            break
        offsets.append(_offset(token))
    assert seen == list(range(1, 251))
    assert offsets == [100, 200]  # MLflow's token: base64 of {"offset": N, …}
    exact = mlflow.ok(mlflow.get("model-versions/search", max_results=250, order_by="version_number DESC"))
    assert _numbers(exact)[:2] == [250, 249] and "next_page_token" not in exact


def test_version_filters_and_order(mlflow: Mlflow, versions_250: dict[str, str]) -> None:
    def numbers(filter: str, **params: Any) -> list[int]:
        body = mlflow.ok(mlflow.get("model-versions/search", filter=filter, **params))
        return sorted(_numbers(body))

    assert numbers("name = 'churn' AND version_number > 245") == [246, 247, 248, 249, 250]
    assert numbers("version_number <= '3'") == [1, 2, 3]  # a quoted integer, as MLflow takes it
    assert numbers(f"run_id = '{versions_250['b']}'") == list(range(2, 251, 2))
    assert numbers(f"run_id IN ('{versions_250['a']}') AND version_number < 6") == [1, 3, 5]
    assert numbers("tags.tier = 'gold'") == list(range(10, 251, 10))
    assert numbers(f"source_path = 'runs:/{versions_250['a']}/model' AND version_number < 6") == [1, 3, 5]
    source_like = f"attribute.source_path LIKE 'runs:/{versions_250['b']}%' AND version_number < 7"
    assert numbers(source_like) == [2, 4, 6]
    assert numbers("name = 'other'") == []
    assert mlflow.ok(mlflow.get("model-versions/search", filter="name = 'other'")) == {}
    ordered = mlflow.get(
        "model-versions/search", filter="tags.tier = 'gold'", order_by=["name ASC", "version_number DESC"]
    )
    assert _numbers(mlflow.ok(ordered))[:3] == [250, 240, 230]
    oldest = mlflow.get("model-versions/search", max_results=1, order_by="creation_timestamp ASC")
    assert _numbers(mlflow.ok(oldest)) == [1]


def test_search_errors(mlflow: Mlflow, embedded: Client) -> None:
    mlflow.create_model("churn")
    bad = [
        mlflow.get("model-versions/search", filter="bogus = 'x'"),
        mlflow.get("model-versions/search", filter="name = "),
        mlflow.get("model-versions/search", filter="version_number > 'x'"),
        mlflow.get("model-versions/search", order_by="bogus DESC"),
        mlflow.get("model-versions/search", max_results=0),
        mlflow.get("model-versions/search", max_results=200_001),
        mlflow.get("model-versions/search", max_results="abc"),
        mlflow.get("model-versions/search", page_token="garbage"),
        mlflow.get("model-versions/search", page_token=base64.b64encode(b'{"offset": 5}').decode()),
        mlflow.get("registered-models/search", max_results=1001),
        mlflow.get("registered-models/search", max_results=-1),
        mlflow.get("registered-models/search", filter="name = 'a' AND"),
        mlflow.get("registered-models/search", order_by="version_number ASC"),
        mlflow.get("registered-models/search", page_token="eyJvZmZzZXQiOiAxfQ=="),  # MLflow's, not ours
        # The registry takes more than MLflow does; MLflow's surface takes only what MLflow's server takes.
        mlflow.get("registered-models/search", filter="name = 'a' OR name = 'b'"),
        mlflow.get("registered-models/search", filter="(name = 'a')"),
        mlflow.get("registered-models/search", filter="tags.team > 'a'"),
        mlflow.get("registered-models/search", filter="description = 'x'"),
        mlflow.get("registered-models/search", order_by="creation_timestamp DESC"),
        mlflow.get("registered-models/search", order_by=["name", "name DESC"]),
        mlflow.get("model-versions/search", filter="current_stage = 'Production'"),
        mlflow.get("model-versions/search", filter="metrics.auc > 0.5"),
        mlflow.get("model-versions/search", filter="version_number IN (1, 2)"),
        mlflow.get("model-versions/search", filter="source_path IN ('a')"),
        mlflow.get("model-versions/search", filter="name = 'a' AND (run_id = 'r' OR run_id = 's')"),
        mlflow.get("model-versions/search", order_by="tags.team"),
        mlflow.get("model-versions/search", order_by="current_stage"),
    ]
    for response in bad:
        mlflow_error(response, 400, "INVALID_PARAMETER_VALUE")
    # A token of one query does not page another.
    embedded.create_model("fraud")
    first = mlflow.ok(mlflow.get("registered-models/search", max_results=1))
    other = mlflow.get(
        "registered-models/search", max_results=1, filter="name LIKE '%'", page_token=first["next_page_token"]
    )
    mlflow_error(other, 400, "INVALID_PARAMETER_VALUE")


def test_search_registered_models(mount: Mlflow, embedded: Client, model_dir: Any) -> None:
    for index in range(12):
        tags = [{"key": "team", "value": "risk" if index % 3 == 0 else "growth"}]
        mount.create_model(f"model-{index:02d}", tags=tags)
    embedded.push("model-03", model_dir)
    embedded.set_stage("model-03/1", "production")
    # MLflow's client hides prompts with this very filter.
    prompts_hidden = "tags.`mlflow.prompt.is_prompt` != 'true'"
    names: list[str] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"filter": prompts_hidden, "max_results": 5}
        if token:
            params["page_token"] = token
        page = mount.ok(mount.get("registered-models/search", **params))
        names += [model["name"] for model in page["registered_models"]]
        token = page.get("next_page_token")
        if token is None:
            break
    assert names == [f"model-{index:02d}" for index in range(12)]  # name order by default
    risk = mount.ok(
        mount.get("registered-models/search", filter="tags.team = 'risk' AND name LIKE 'model-0%'")
    )
    assert [m["name"] for m in risk["registered_models"]] == ["model-00", "model-03", "model-06", "model-09"]
    latest = risk["registered_models"][1]["latest_versions"]
    assert [(v["version"], v["current_stage"]) for v in latest] == [("1", "Production")]
    recent = mount.ok(
        mount.get("registered-models/search", order_by="last_updated_timestamp DESC", max_results=1)
    )
    assert recent["registered_models"][0]["name"] == "model-03"  # the push updated it last
    desc = mount.ok(mount.get("registered-models/search", order_by=["name DESC"], max_results=2))
    assert [m["name"] for m in desc["registered_models"]] == ["model-11", "model-10"]
    membership = mount.ok(
        mount.get("registered-models/search", filter="name IN ('model-01', 'model-02', 'x')")
    )
    assert [m["name"] for m in membership["registered_models"]] == ["model-01", "model-02"]
    assert mount.ok(mount.get("registered-models/search", filter="name = 'none'")) == {}


def test_collect_spans_the_registrys_pages() -> None:
    """More than the registry's page limit (1,000) per MLflow page: collected over several registry pages."""
    items = list(range(2500))
    calls: list[tuple[int, str | None]] = []

    def search(limit: int, token: str | None) -> Page[int]:
        calls.append((limit, token))
        start = int(token or 0)
        end = min(start + limit, len(items))
        return Page(items[start:end], str(end) if end < len(items) else None)

    first, token = collect(search, wanted=1500, page_token=None)
    assert first == items[:1500] and token is not None and _offset(token) == 1500
    assert calls == [(1000, None), (500, "1000")]
    rest, end = collect(search, wanted=10_000, page_token=token)
    assert rest == items[1500:] and end is None
    assert calls[2:] == [(1000, "1500")]


@pytest.mark.parametrize(
    ("mlflow_filter", "ours"),
    [
        ("source_path = 'x'", "tags.`modelreg.mlflow.source` = 'x'"),
        (
            "attribute.source_path LIKE 'runs:/%' AND name='a'",
            "tags.`modelreg.mlflow.source` LIKE 'runs:/%' AND name='a'",
        ),
        ("name = 'source_path'", "name = 'source_path'"),
        ("tags.source_path = 'x'", "tags.source_path = 'x'"),
        ("(SOURCE_PATH != 'y') OR run_id = 'r'", "(tags.`modelreg.mlflow.source` != 'y') OR run_id = 'r'"),
        (None, None),
    ],
)
def test_source_path_is_the_reserved_tag(mlflow_filter: str | None, ours: str | None) -> None:
    assert version_filter(mlflow_filter) == ours

"""The SDK behavioural suite: what every ``modelreg.connect(...)`` client must do, on every database.

Run against the embedded SDK on SQLite and PostgreSQL; the HTTP SDK joins through the ``reg`` fixture.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelreg import errors
from modelreg.client.client import Client
from tests.conftest import tree_bytes


def test_push_returns_a_complete_version(reg: Client, model_dir: Path) -> None:
    v = reg.push(
        "CustomerChurnPredictor",
        model_dir,
        metrics={"auc": 0.91, "f1": 0.84},
        params={"max_depth": "6"},
        tags={"team": "risk"},
        description="gradient boosting, Q3 data",
        lineage={
            "run_id": "r-123",
            "code": {"repo": "git@example.com:churn.git", "commit": "9f1c2e"},
            "datasets": [
                {"name": "churn-2026q3", "uri": "s3://b/q3.parquet", "digest": "sha256:ab", "role": "train"}
            ],
        },
        signature={"inputs": [{"name": "age", "type": "long"}], "outputs": [{"type": "double"}]},
        aliases=["candidate"],
    )
    assert (v.name, v.version, v.stage, v.aliases) == ("CustomerChurnPredictor", 1, "none", ("candidate",))
    assert v.digest.startswith("sha256:") and len(v.digest) == 71
    assert [f.path for f in v.files] == ["config.json", "sub/vocab.txt", "weights.bin"]
    assert v.size_bytes == sum(len(b) for b in tree_bytes(model_dir).values())
    assert v.metrics == {"auc": 0.91, "f1": 0.84}
    assert v.params == {"max_depth": "6"}
    assert v.tags == {"team": "risk"}
    assert v.description == "gradient boosting, Q3 data"
    assert v.lineage.run_id == "r-123"
    assert v.lineage.datasets[0].name == "churn-2026q3" and v.lineage.datasets[0].role == "train"
    assert v.signature == {"inputs": [{"name": "age", "type": "long"}], "outputs": [{"type": "double"}]}
    assert v.created_by == "alice" and v.created_at.tzinfo is not None
    assert reg.get_version("CustomerChurnPredictor/1") == v


def test_versions_count_up_and_every_reference_form_resolves(
    reg: Client, model_dir: Path, tmp_path: Path
) -> None:
    first = reg.push("m", model_dir, aliases=["champion"])
    (model_dir / "config.json").write_text('{"layers": 4}')
    second = reg.push("m", model_dir)
    assert (first.version, second.version) == (1, 2)
    assert first.digest != second.digest
    assert reg.get_version("m").version == 2
    assert reg.get_version("m/latest").version == 2
    assert reg.get_version("m/1").version == 1
    assert reg.get_version("m@champion").version == 1
    assert reg.get_version(f"m@{first.digest}").version == 1
    assert reg.get_version("models:/m/2").version == 2
    assert reg.get_version("models:/m@champion").version == 1
    single = tmp_path / "model.pkl"
    single.write_bytes(b"pickle bytes")
    one_file = reg.push("single", single)
    assert [f.path for f in one_file.files] == ["model.pkl"]


def test_pull_round_trips_bytes_atomically(reg: Client, model_dir: Path, tmp_path: Path) -> None:
    reg.push("m", model_dir, aliases=["candidate"])
    dest = reg.pull("m@candidate", dest=tmp_path / "deploy" / "model")
    assert dest == str(tmp_path / "deploy" / "model")
    assert tree_bytes(Path(dest)) == tree_bytes(model_dir)
    assert [p.name for p in (tmp_path / "deploy").iterdir()] == ["model"]  # no staging leftovers
    with pytest.raises(errors.DestinationExists) as caught:
        reg.pull("m", dest=dest)
    assert caught.value.code == "DESTINATION_EXISTS"
    (model_dir / "config.json").write_text("{}")
    reg.push("m", model_dir)
    reg.pull("m", dest=dest, overwrite=True)
    assert (Path(dest) / "config.json").read_text() == "{}"


def test_pull_defaults_to_name_and_version_in_the_working_directory(
    reg: Client, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg.push("m", model_dir)
    monkeypatch.chdir(tmp_path)
    assert reg.pull("m") == str(tmp_path / "m-v1")


def test_pushing_unchanged_files_stores_nothing(reg: Client, model_dir: Path) -> None:
    reg.push("m", model_dir)
    assert reg.last_push is not None and reg.last_push.bytes_stored == reg.last_push.bytes_total
    again = reg.push("m", model_dir)
    assert reg.last_push.bytes_stored == 0 and reg.last_push.chunks_stored == 0
    assert again.version == 2 and again.digest == reg.get_version("m/1").digest


def test_model_listing_and_paging(reg: Client, model_dir: Path) -> None:
    for name in ["b-model", "a-model", "c-model"]:
        reg.push(name, model_dir)
    first = reg.list_models(limit=2)
    assert [m.name for m in first.items] == ["a-model", "b-model"]
    assert first.next_page_token is not None
    second = reg.list_models(limit=2, page_token=first.next_page_token)
    assert [m.name for m in second.items] == ["c-model"] and second.next_page_token is None
    model = reg.get_model("a-model")
    assert (model.latest_version, model.created_by) == (1, "alice")
    with pytest.raises(errors.InvalidPageToken):
        reg.list_models(page_token="garbage!")
    versions_token = reg.list_versions("a-model", limit=1).next_page_token
    assert versions_token is None


def test_list_versions_is_newest_first_and_pages(reg: Client, model_dir: Path) -> None:
    for _ in range(5):
        reg.push("m", model_dir)
    page = reg.list_versions("m", limit=3)
    assert [v.version for v in page] == [5, 4, 3]
    rest = reg.list_versions("m", limit=3, page_token=page.next_page_token)
    assert [v.version for v in rest] == [2, 1] and rest.next_page_token is None
    with pytest.raises(errors.InvalidPageToken):  # a token belongs to the query that made it
        reg.list_models(page_token=page.next_page_token)


def test_aliases_move_atomically_with_history(reg: Client, model_dir: Path) -> None:
    reg.push("m", model_dir)
    reg.push("m", model_dir)
    reg.set_alias("m", "champion", 1)
    change = reg.set_alias("m", "champion", 2)
    assert (change.alias, change.version, change.set_by, change.until) == ("champion", 2, "alice", None)
    assert reg.get_version("m@champion").version == 2
    assert reg.get_model("m").aliases == {"champion": 2}
    assert reg.get_version("m/2").aliases == ("champion",)
    assert reg.get_version("m/1").aliases == ()
    reg.delete_alias("m", "champion")
    history = reg.alias_history("m", "champion")
    assert [(h.version, h.until is None) for h in history] == [(1, False), (2, False)]
    assert history[0].until == history[1].since
    with pytest.raises(errors.AliasNotFound) as caught:
        reg.get_version("m@champion")
    assert caught.value.code == "ALIAS_NOT_FOUND"
    with pytest.raises(errors.AliasNotFound):
        reg.delete_alias("m", "champion")
    with pytest.raises(errors.VersionNotFound):
        reg.set_alias("m", "champion", 9)


def test_tags_and_descriptions_on_models_and_versions(reg: Client, model_dir: Path) -> None:
    reg.push("m", model_dir, tags={"team": "risk"}, aliases=["live"])
    reg.set_tag("m", "owner", "data-science")
    reg.set_tag("m/1", "validated", "yes")
    reg.set_tag("m@live", "team", "fraud")
    assert reg.get_model("m").tags == {"owner": "data-science"}
    assert reg.get_version("m/1").tags == {"team": "fraud", "validated": "yes"}
    reg.delete_tag("m/1", "validated")
    reg.delete_tag("m", "owner")
    assert reg.get_version("m/1").tags == {"team": "fraud"}
    assert reg.get_model("m").tags == {}
    with pytest.raises(errors.TagNotFound):
        reg.delete_tag("m", "owner")
    reg.update_description("m", "churn models")
    reg.update_description("m/1", "first cut")
    assert reg.get_model("m").description == "churn models"
    assert reg.get_version("m/1").description == "first cut"


def test_stages_and_their_history(reg: Client, model_dir: Path) -> None:
    reg.push("m", model_dir)
    assert reg.set_stage("m/1", "staging").stage == "staging"
    assert reg.set_stage("m/1", "production").stage == "production"
    history = reg.stage_history("m/1")
    assert [(h.stage, h.until is None) for h in history] == [("staging", False), ("production", True)]
    with pytest.raises(errors.InvalidMetadata):
        reg.set_stage("m/1", "prod")
    assert reg.get_version("m/1").stage == "production"


def test_soft_delete_keeps_history_and_never_reuses_numbers(
    reg: Client, model_dir: Path, tmp_path: Path
) -> None:
    reg.push("m", model_dir)
    reg.push("m", model_dir, aliases=["champion"])
    deleted = reg.delete_version("m/2")
    assert deleted.deleted is True and deleted.aliases == ()
    assert reg.get_version("m/2").deleted is True  # metadata stays readable
    assert [v.version for v in reg.list_versions("m")] == [1]
    assert [v.version for v in reg.list_versions("m", include_deleted=True)] == [2, 1]
    assert reg.get_version("m").version == 1  # latest skips deleted versions
    assert reg.push("m", model_dir).version == 3
    with pytest.raises(errors.VersionDeleted) as caught:
        reg.pull("m/2", dest=tmp_path / "out")
    assert caught.value.code == "VERSION_DELETED" and not (tmp_path / "out").exists()
    with pytest.raises(errors.VersionDeleted):
        reg.delete_version("m/2")
    assert [h.version for h in reg.alias_history("m", "champion")] == [2]


def test_search_versions_filters_orders_and_pages(reg: Client, model_dir: Path) -> None:
    rows = [("churn", 0.91, "risk"), ("churn", 0.95, "risk"), ("churn", 0.80, "risk"), ("fraud", 0.97, "ops")]
    for name, auc, team in rows:
        reg.push(
            name, model_dir, metrics={"auc": auc}, tags={"team": team}, params={"depth": str(int(auc * 10))}
        )
    found = reg.search_versions("metrics.auc > 0.9 and tags.team = 'risk'", order_by=["metrics.auc DESC"])
    assert [(v.name, v.version) for v in found] == [("churn", 2), ("churn", 1)]
    assert [v.name for v in reg.search_versions("name LIKE 'fr%'")] == ["fraud"]
    assert [v.version for v in reg.search_versions("name = 'churn'", order_by=["version ASC"])] == [1, 2, 3]
    page = reg.search_versions("metrics.auc >= 0.8", order_by=["metrics.auc ASC"], limit=2)
    assert [v.metrics["auc"] for v in page] == [0.80, 0.91]
    rest = reg.search_versions(
        "metrics.auc >= 0.8", order_by=["metrics.auc ASC"], limit=2, page_token=page.next_page_token
    )
    assert [v.metrics["auc"] for v in rest] == [0.95, 0.97] and rest.next_page_token is None
    assert [m.name for m in reg.search_models("name LIKE 'Ch%'")] == []  # LIKE is case-sensitive
    assert [m.name for m in reg.search_models("name ILIKE 'CH%'")] == ["churn"]


def test_search_by_lineage_alias_stage_and_creator(reg: Client, model_dir: Path) -> None:
    reg.push("m", model_dir, lineage={"run_id": "run-1", "datasets": [{"name": "q3", "digest": "sha256:d1"}]})
    reg.push("m", model_dir, lineage={"run_id": "run-2"}, aliases=["champion"])
    reg.set_stage("m/1", "production")
    assert [v.version for v in reg.search_versions("run_id = 'run-1'")] == [1]
    assert [v.version for v in reg.search_versions("dataset = 'q3'")] == [1]
    assert [v.version for v in reg.search_versions("dataset = 'sha256:d1'")] == [1]
    assert [v.version for v in reg.search_versions("alias = 'champion'")] == [2]
    assert [v.version for v in reg.search_versions("stage = 'production'")] == [1]
    assert len(reg.search_versions("created_by = 'alice'")) == 2


def test_lineage_parents_resolve_to_pinned_versions(reg: Client, model_dir: Path) -> None:
    reg.push("base", model_dir, aliases=["stable"])
    tuned = reg.push("tuned", model_dir, lineage={"parents": ["base@stable"]})
    assert tuned.lineage.parents == ("base@stable",)
    with pytest.raises(errors.ModelNotFound):
        reg.push("tuned", model_dir, lineage={"parents": ["nope/1"]})
    assert [v.version for v in reg.list_versions("tuned")] == [1]


def test_idempotency_key_returns_the_first_result(reg: Client, model_dir: Path) -> None:
    first = reg.push("m", model_dir, metrics={"auc": 0.9}, idempotency_key="job-42")
    retry = reg.push("m", model_dir, metrics={"auc": 0.9}, idempotency_key="job-42")
    assert retry == first
    assert [v.version for v in reg.list_versions("m")] == [1]
    with pytest.raises(errors.IdempotencyKeyReused):
        reg.push("m", model_dir, metrics={"auc": 0.1}, idempotency_key="job-42")


def test_unknown_references_raise_not_found(reg: Client, model_dir: Path) -> None:
    with pytest.raises(errors.ModelNotFound) as caught:
        reg.get_version("nope")
    assert caught.value.code == "MODEL_NOT_FOUND" and "'nope'" in caught.value.message
    reg.push("m", model_dir)
    with pytest.raises(errors.VersionNotFound):
        reg.get_version("m/7")
    with pytest.raises(errors.VersionNotFound):
        reg.get_version("m@sha256:" + "0" * 64)
    with pytest.raises(errors.ModelNotFound):
        reg.get_model("nope")


def test_empty_files_and_unicode_names_round_trip(reg: Client, tmp_path: Path) -> None:
    root = tmp_path / "m"
    root.mkdir()
    (root / "empty.bin").write_bytes(b"")
    (root / "données.txt").write_text("é")
    v = reg.push("m", root)
    assert {f.path: f.size for f in v.files} == {"données.txt": 2, "empty.bin": 0}
    assert tree_bytes(Path(reg.pull("m", dest=tmp_path / "out"))) == tree_bytes(root)


def test_cache_serves_a_second_pull_without_reading_the_store(
    database: str, storage_url: str, model_dir: Path, tmp_path: Path
) -> None:
    import modelreg

    with modelreg.connect(database, storage=storage_url, cache_dir=tmp_path / "cache") as reg:
        reg.push("m", model_dir)
        reg.pull("m", dest=tmp_path / "a")
        assert reg.last_pull is not None and reg.last_pull.bytes_fetched == reg.last_pull.bytes_total
        reg.pull("m", dest=tmp_path / "b")
        assert reg.last_pull.bytes_fetched == 0
        assert tree_bytes(tmp_path / "b") == tree_bytes(model_dir)


def test_progress_reports_hashed_and_stored_bytes(reg: Client, model_dir: Path) -> None:
    events: dict[str, int] = {}

    def progress(event: str, nbytes: int) -> None:
        events[event] = events.get(event, 0) + nbytes

    reg.push("m", model_dir, progress=progress)
    total = sum(len(b) for b in tree_bytes(model_dir).values())
    assert events == {"total": total, "hashed": total, "stored": total}
    events.clear()
    reg.push("m", model_dir, progress=progress)
    assert events == {"total": total, "hashed": total}


def test_registry_directory_is_created_on_first_use(tmp_path: Path, model_dir: Path) -> None:
    import modelreg

    target = tmp_path / "new" / "registry"
    with modelreg.connect(target) as reg:
        reg.push("m", model_dir)
    assert (target / "registry.db").is_file() and (target / "chunks").is_dir()
    with modelreg.connect(os.fspath(target)) as again:
        assert again.get_version("m").version == 1


def test_results_round_trip_through_their_wire_shape(reg: Client, model_dir: Path) -> None:
    from modelreg.types import AliasChange, Model, ModelVersion

    version = reg.push(
        "m",
        model_dir,
        metrics={"auc": 0.5},
        lineage={"run_id": "r", "datasets": [{"name": "d"}]},
        aliases=["a"],
    )
    assert ModelVersion.from_dict(version.to_dict()) == version
    assert Model.from_dict(reg.get_model("m").to_dict()) == reg.get_model("m")
    change = reg.alias_history("m", "a")[0]
    assert AliasChange.from_dict(change.to_dict()) == change

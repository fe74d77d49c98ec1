"""Deployment records on both SDKs, SQLite and PostgreSQL: which model, which digest and which data served
an environment at any instant; replacement, idempotent re-recording, ending, and bad input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from modelreg import errors
from modelreg.client.client import Client

TRAIN = {
    "name": "churn-2026q3",
    "uri": "s3://data/q3.parquet",
    "digest": "sha256:" + "ab" * 32,
    "role": "train",
}


@pytest.fixture
def versions(reg: Client, model_dir: Path) -> Client:
    reg.push("churn", model_dir, lineage={"run_id": "run-1", "datasets": [TRAIN]})
    (model_dir / "config.json").write_text('{"layers": 4}')
    reg.push("churn", model_dir, lineage={"run_id": "run-2"})
    reg.push("fraud", model_dir)
    return reg


def test_record_answers_which_model_and_data_served(versions: Client) -> None:
    first = versions.record_deployment("churn/1", environment="prod-eu", endpoint="https://eu.example/churn")
    assert (first.name, first.version, first.environment, first.endpoint) == (
        "churn",
        1,
        "prod-eu",
        "https://eu.example/churn",
    )
    assert first.digest == versions.get_version("churn/1").digest
    assert first.ended_at is None and first.started_by == "alice"
    assert first.lineage.run_id == "run-1" and first.lineage.datasets[0].digest == TRAIN["digest"]
    second = versions.record_deployment(
        "churn@" + versions.get_version("churn/2").digest,
        environment="prod-eu",
        endpoint="https://eu.example/churn",
    )
    assert second.version == 2 and second.started_at >= first.started_at
    history = versions.deployments(environment="prod-eu", at=first.started_at)
    assert [(d.ref, d.lineage.run_id) for d in history] == [("churn/1", "run-1")]
    now = versions.deployments(environment="prod-eu")
    assert [(d.ref, d.ended_at) for d in now] == [("churn/2", None)]
    assert versions.deployments(environment="prod-eu", at=second.started_at)[0].version == 2
    assert versions.deployments(at=first.started_at - timedelta(microseconds=1)) == []


def test_environments_endpoints_and_models_are_independent(versions: Client) -> None:
    versions.record_deployment("churn/1", environment="prod-eu")
    versions.record_deployment("churn/2", environment="prod-us")
    versions.record_deployment("churn/2", environment="prod-eu", endpoint="canary")
    versions.record_deployment("fraud/1", environment="prod-eu")
    serving = {(d.environment, d.endpoint, d.name): d.version for d in versions.deployments()}
    assert serving == {
        ("prod-eu", None, "churn"): 1,
        ("prod-eu", "canary", "churn"): 2,
        ("prod-eu", None, "fraud"): 1,
        ("prod-us", None, "churn"): 2,
    }
    assert [d.name for d in versions.deployments(model="fraud")] == ["fraud"]


def test_recording_the_serving_version_again_is_a_no_op(versions: Client) -> None:
    first = versions.record_deployment("churn/1", environment="prod-eu")
    events = len(versions.audit_events(action="registry:deployment:*").items)
    again = versions.record_deployment("churn@" + first.digest, environment="prod-eu")
    assert again == first
    assert len(versions.audit_events(action="registry:deployment:*").items) == events == 1


def test_ended_and_audited(versions: Client) -> None:
    started = versions.record_deployment("churn/1", environment="prod-eu")
    ended = versions.record_deployment_ended("churn", environment="prod-eu")
    assert ended.id == started.id and ended.ended_at is not None and ended.ended_by == "alice"
    assert versions.deployments(environment="prod-eu") == []
    assert [d.version for d in versions.deployments(at=started.started_at)] == [1]
    with pytest.raises(errors.DeploymentNotFound):
        versions.record_deployment_ended("churn", environment="prod-eu")
    actions = [
        (e.action, e.target, e.data["before"], e.data["after"])
        for e in versions.audit_events(action="registry:deployment:*").items
    ]
    assert actions == [
        ("registry:deployment:record", "churn in prod-eu", None, 1),
        ("registry:deployment:end", "churn in prod-eu", 1, None),
    ]


@pytest.mark.parametrize(
    ("environment", "endpoint"),
    [
        ("", None),
        ("prod eu", None),
        ("-prod", None),
        ("x" * 129, None),
        ("prod", ""),
        ("prod", " a"),
        ("prod", "a\nb"),
    ],
)
def test_bad_input_changes_nothing(versions: Client, environment: str, endpoint: str | None) -> None:
    with pytest.raises(errors.InvalidInput):
        versions.record_deployment("churn/1", environment=environment, endpoint=endpoint)
    assert versions.deployments() == []


def test_deleted_versions_and_unknown_references(versions: Client) -> None:
    versions.delete_version("churn/2")
    with pytest.raises(errors.VersionDeleted):
        versions.record_deployment("churn/2", environment="prod-eu")
    with pytest.raises(errors.VersionNotFound):
        versions.record_deployment("churn/9", environment="prod-eu")
    with pytest.raises(errors.ModelNotFound):
        versions.deployments(model="nope")
    with pytest.raises(errors.InvalidInput, match="ISO 8601"):
        versions.deployments(at="yesterday")
    assert versions.deployments() == []

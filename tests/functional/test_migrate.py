"""``modelreg migrate`` end to end (issue #4): a registry of 50 versions moves from SQLite + a directory to
PostgreSQL + S3 (moto on loopback) through the CLI, then back to a directory; every version pulls byte for
byte from the target, and every row (aliases and their history, stages, audit chain) is equal."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest

import modelreg
from tests.cli_runs import run
from tests.conftest import tree_bytes
from tests.registry.test_migration import rows

pytestmark = pytest.mark.postgres

MODELS = ("churn", "fraud", "ranker")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s3_endpoint: str) -> str:
    """The environment a deployment would have: the standard AWS variables and MODELREG_S3_ENDPOINT_URL."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("MODELREG_S3_ENDPOINT_URL", s3_endpoint)
    return s3_endpoint


def build_registry(root: Path, work: Path) -> None:
    """50 versions of 3 models: shared and new content, aliases moved, stages, tags, lineage, a delete."""
    base = os.urandom(60_000)
    with modelreg.connect(root, actor="alice") as reg:
        for index in range(50):
            files = work / f"v{index}"
            (files / "sub").mkdir(parents=True)
            (files / "base.bin").write_bytes(base if index % 7 else os.urandom(60_000))
            (files / "sub" / "head.bin").write_bytes(os.urandom(2_000 + index))
            name = MODELS[index % 3]
            parents = [f"{name}/1"] if index >= 3 else []
            reg.push(
                name, files, metrics={"auc": index / 50}, tags={"i": str(index)}, lineage={"parents": parents}
            )
        for name in MODELS:
            for number in (1, 4, 9):
                reg.set_alias(name, "champion", number)
            reg.set_stage(f"{name}/2", "staging")
            reg.set_stage(f"{name}/2", "production")
        reg.delete_alias("fraud", "champion")
        reg.delete_version("ranker/3")
        reg.set_tag("churn", "team", "risk")


def snapshot(reg: modelreg.Client) -> dict[str, Any]:
    """Everything a user can read back, for every version (deleted ones included)."""
    found: dict[str, Any] = {}
    for name in MODELS:
        versions = reg.list_versions(name, include_deleted=True, limit=1000).items
        found[name] = {
            "model": reg.get_model(name),
            "versions": versions,
            "champion": reg.alias_history(name, "champion"),
            "stages": [reg.stage_history(version.ref) for version in versions],
        }
    return found


def test_fifty_versions_move_to_postgresql_and_s3_and_back(
    aws_env: str,
    postgres_url: str,
    s3_client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "source"
    build_registry(source, tmp_path / "work")
    bucket = f"modelreg-migrate-{secrets.token_hex(4)}"
    s3_client.create_bucket(Bucket=bucket)
    storage = f"s3://{bucket}/models"

    target = ["--to-database", postgres_url, "--to-storage", storage]
    status, out, err = run(capsys, "--registry", str(source), "migrate", *target, "--json")
    assert (status, err) == (0, "")
    report = json.loads(out)
    assert report["problems"] == [] and report["versions_verified"] == 50
    assert report["chunks_copied"] == report["chunks_referenced"] > 50
    assert report["content_verified"] is True and "postgres@" in report["target"]

    source_url = f"sqlite:///{source / 'registry.db'}"
    assert rows(postgres_url) == rows(source_url)  # every row of every table, ids included
    with (
        modelreg.connect(source, actor="alice") as before,
        modelreg.connect(postgres_url, storage=storage, actor="alice") as after,
    ):
        assert snapshot(after) == snapshot(before)
        for name in MODELS:
            for version in before.list_versions(name, limit=1000).items:  # every live version
                expected = tree_bytes(Path(before.pull(version.ref, dest=tmp_path / "a" / version.ref)))
                assert (
                    tree_bytes(Path(after.pull(version.ref, dest=tmp_path / "b" / version.ref))) == expected
                )
        stored = sum(entry["Size"] for entry in s3_client.list_objects_v2(Bucket=bucket)["Contents"])
        assert stored == after.storage_stats().physical_bytes == before.storage_stats().physical_bytes

    status, out, err = run(
        capsys, "--registry", postgres_url, "--storage", storage, "migrate", "--to", str(tmp_path / "back")
    )
    assert (status, err) == (0, "") and out.splitlines()[
        -1
    ] == "migration verified: the target equals the source"
    assert rows(f"sqlite:///{tmp_path / 'back' / 'registry.db'}") == rows(source_url)
    with modelreg.connect(tmp_path / "back", actor="alice") as back:
        pulled = back.pull("churn@champion", dest=tmp_path / "c")
        assert tree_bytes(Path(pulled)) == tree_bytes(tmp_path / "a" / "churn/9")

"""``modelreg import-mlflow`` from a real ``mlflow server`` (populated through MLflow's own API), end to end.

The source is the registry ``mlflow_scenario.populate`` builds; the targets are an embedded SQLite registry
and a real ``modelreg serve``. Every import runs the real CLI in a subprocess. Afterwards the source and the
target are read through the same MLflow client (the target through ``modelreg serve``'s MLflow face) and
must agree on models, versions and their numbers, tags, aliases, stages, descriptions, sources, run ids and
the bytes of every file; a version loaded with ``mlflow.pyfunc`` from the target predicts as the original.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelreg
from tests.functional.mlflow_scenario import populate
from tests.functional.mlflow_servers import (
    MLFLOW_CLIENT_ENV,
    mlflow_session,
    run_mlflow_server,
    run_modelreg_server,
)

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", ".*type hint is inferred as AnyType", UserWarning)
    import mlflow
    import mlflow.pyfunc
    from mlflow import MlflowClient

# One worker runs this module, so its module-scoped servers start once (addopts: --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_mlflow_import")]

BIN = Path(sys.executable).parent
SOURCE_VERSIONS = {"churn": [1, 2, 4], "fraud": [1, 2], "reserve": []}


@dataclass(frozen=True)
class Source:
    url: str
    facts: dict[str, Any]
    database: str  # the server's own backend store, for the sqlite:/// source
    artifacts: Path  # its --artifacts-destination


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    root = tmp_path_factory.mktemp("mlflow")
    with run_mlflow_server(root) as url, mlflow_session(url, experiment="import"):
        facts = populate(url)
        (server_dir,) = root.glob("mlflow-*")
        yield Source(url, facts, f"sqlite:///{server_dir / 'mlflow.db'}", server_dir / "artifacts")


@pytest.fixture(autouse=True)
def quiet_clients(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """MLflow's client fails fast (no retries with backoff) and SDK pulls cache under tmp_path."""
    for key, value in MLFLOW_CLIENT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MODELREG_CACHE_DIR", str(tmp_path / "cache"))


def import_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``modelreg … import-mlflow …`` as a user runs it (no MODELREG_* variable leaks in)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MODELREG_")}
    env.update(MLFLOW_CLIENT_ENV)
    command = [str(BIN / "modelreg"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)


def import_json(*args: str) -> tuple[int, dict[str, Any]]:
    done = import_cli(*args, "--json")
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def actions(report: dict[str, Any]) -> dict[str, str]:
    return {f"{o['name']}/{o['version']}": o["action"] for o in report["outcomes"]}


def view(url: str, scratch: Path) -> dict[str, Any]:
    """A registry as MLflow's client sees it: every model, version and field the import must carry over,
    and the sha256 of each file of each version (downloaded through MLflow's artifact API)."""
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    models = {}
    for model in client.search_registered_models(max_results=1000):
        versions = {}
        for version in client.search_model_versions(f"name = '{model.name}'", max_results=1000):
            uri = client.get_model_version_download_uri(model.name, version.version)
            dest = scratch / model.name / version.version
            files = _file_digests(
                Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(dest), tracking_uri=url))
            )
            versions[int(version.version)] = {
                "stage": version.current_stage,
                "description": version.description or "",
                "tags": version.tags,
                "run_id": version.run_id,
                "source": version.source,
                "status": version.status,
                "files": files,
            }
        models[model.name] = {
            "description": model.description or "",
            "tags": model.tags,
            "aliases": {alias: int(number) for alias, number in model.aliases.items()},
            "versions": versions,
        }
    return models


def _file_digests(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def assert_predicts_like_the_source(url: str, source: Source, dest: Path) -> None:
    dest.mkdir(parents=True)
    with mlflow_session(url, experiment="check"):
        loaded = mlflow.pyfunc.load_model("models:/churn@champion", dst_path=str(dest))
        np.testing.assert_array_equal(loaded.predict(source.facts["features"]), source.facts["predictions"])


def assert_native_view(target: modelreg.Client, source: Source) -> None:
    """What the modelreg SDK shows: numbers with the gap, run lineage, metrics and params, shared digest."""
    facts = source.facts
    for name, numbers in SOURCE_VERSIONS.items():
        listed = target.list_versions(name, include_deleted=True).items
        assert sorted(version.version for version in listed) == numbers
        assert not any(version.deleted for version in listed)
    churn1, churn2, churn4 = (target.get_version(f"churn/{n}") for n in (1, 2, 4))
    assert churn1.digest == churn4.digest != churn2.digest  # v4 re-registered v1's unchanged files
    assert (churn1.lineage.run_id, churn2.lineage.run_id) == (
        facts["runs"][("churn", 1)],
        facts["runs"][("churn", 2)],
    )
    assert churn1.metrics == pytest.approx(facts["metrics"][("churn", 1)])
    assert churn2.params == facts["params"][("churn", 2)]
    assert (churn1.stage, churn2.stage, churn4.stage) == ("archived", "production", "staging")
    assert churn2.tags == {
        "validated": "true",
        "reviewer": "dana",
        "modelreg.mlflow.source": churn2.tags["modelreg.mlflow.source"],
    }
    assert churn2.tags["modelreg.mlflow.source"].startswith("models:/m-")
    fraud1 = target.get_version("fraud/1")
    assert fraud1.lineage.run_id == facts["fraud_runs"][("fraud", 1)] and fraud1.metrics == {"recall": 0.8}
    assert sorted(entry.path for entry in fraud1.files) == ["config/thresholds.json", "scores.bin"]
    assert target.get_model("churn").aliases == {"champion": 2, "challenger": 4}
    assert target.get_model("reserve").tags == {"state": "planned"}
    assert target.get_model("reserve").latest_version is None


def audit_count(target: modelreg.Client) -> int:
    total, token = 0, None
    while True:
        page = target.audit_events(limit=1000, page_token=token)
        total += len(page.items)
        token = page.next_page_token
        if token is None:
            return total


# -----------------------------------------------------------------------------------------------------------
def test_import_into_an_embedded_registry_then_compare_through_mlflow(source: Source, tmp_path: Path) -> None:
    target = tmp_path / "target"
    status, report = import_json("--registry", str(target), "import-mlflow", "--from", source.url)
    assert status == 0, report["problems"]
    assert report["ok"] and report["problems"] == [] and not report["dry_run"]
    assert actions(report) == {f"{n}/{v}": "imported" for n, vs in SOURCE_VERSIONS.items() for v in vs}
    rows = {row["name"]: row for row in report["models"]}
    assert (
        rows["churn"]["source"]
        == rows["churn"]["target"]
        == {"versions": 3, "tags": 5, "aliases": 2, "stages": {"archived": 1, "production": 1, "staging": 1}}
    )
    assert (rows["churn"]["digests_matching"], rows["churn"]["digests_compared"]) == (3, 3)
    assert rows["reserve"]["target"] == {"versions": 0, "tags": 1, "aliases": 0, "stages": {}}

    with modelreg.connect(target) as embedded:
        assert_native_view(embedded, source)
        events = audit_count(embedded)

    again_status, again = import_json("--registry", str(target), "import-mlflow", "--from", source.url)
    assert again_status == 0 and again["ok"]
    assert set(actions(again).values()) == {"present"}
    with modelreg.connect(target) as embedded:
        assert audit_count(embedded) == events  # a re-run wrote nothing at all

    with run_modelreg_server(
        tmp_path, database=f"sqlite:///{target / 'registry.db'}", storage=f"file://{target / 'chunks'}"
    ) as url:
        assert view(url, tmp_path / "t") == view(source.url, tmp_path / "s")
        assert_predicts_like_the_source(url, source, tmp_path / "loaded")


def test_import_into_a_server_then_compare_through_mlflow(source: Source, tmp_path: Path) -> None:
    with run_modelreg_server(tmp_path) as url:
        done = import_cli("import-mlflow", "--from", source.url, "--registry", url)
        assert done.returncode == 0, done.stderr
        assert "the target matches the source" in done.stdout
        assert "imported churn/4 sha256:" in done.stderr
        assert view(url, tmp_path / "t") == view(source.url, tmp_path / "s")
        assert_predicts_like_the_source(url, source, tmp_path / "loaded")
        with modelreg.connect(url) as served:
            assert_native_view(served, source)

        again = import_cli("import-mlflow", "--from", source.url, "--registry", url)
        assert again.returncode == 0, again.stderr
        assert "5 present; the target matches the source" in again.stdout


def test_a_tampered_target_is_a_conflict_never_overwritten(source: Source, tmp_path: Path) -> None:
    target = tmp_path / "target"
    other = tmp_path / "other"
    other.mkdir()
    (other / "weights.bin").write_bytes(b"not the source's model")
    with modelreg.connect(target) as embedded:
        embedded.create_model("churn")
        forged = embedded.push("churn", other, version=2)

    done = import_cli("--registry", str(target), "import-mlflow", "--from", source.url)
    assert done.returncode == 5
    assert "error: IMPORT_INCOMPLETE: the target differs from the MLflow source" in done.stderr
    assert "problem: churn/2: conflict: the target holds other files at this number" in done.stderr
    assert "problem: churn/1: conflict: VERSION_EXISTS" in done.stderr
    churn_row = next(line for line in done.stdout.splitlines() if line.startswith("churn"))
    assert (
        churn_row.split()[-1] == "DIFFERS" and "1/2" in churn_row.split()
    )  # v2 compared and differs, v4 matches
    fraud_row = next(line for line in done.stdout.splitlines() if line.startswith("fraud"))
    assert fraud_row.split()[-1] == "ok"
    with modelreg.connect(target) as embedded:
        assert embedded.get_version("churn/2").digest == forged.digest  # left exactly as it was
        assert embedded.get_version("churn/4").stage == "staging"
        assert embedded.get_model("churn").aliases == {"challenger": 4}  # @champion (→ 2) was not set
        embedded.set_tag("fraud", "owner", "someone")  # a difference the import does not undo
        embedded.delete_version("fraud/2")

    again = import_cli("--registry", str(target), "import-mlflow", "--from", source.url, "--model", "fraud")
    assert again.returncode == 5
    assert "problem: fraud/2: conflict: the target has deleted this version" in again.stderr
    assert "problem: fraud: tags: source {'team': 'payments'}, target {" in again.stderr
    assert "'owner': 'someone'" in again.stderr
    assert "churn" not in again.stdout


def test_a_sqlite_source_with_its_artifact_root_dry_run_first(source: Source, tmp_path: Path) -> None:
    target = tmp_path / "target"
    by_server = tmp_path / "by-server"
    _, from_server = import_json("--registry", str(by_server), "import-mlflow", "--from", source.url)

    args = ("import-mlflow", "--from", source.database, "--artifact-root", str(source.artifacts))
    status, planned = import_json("--registry", str(target), *args, "--model", "churn", "--dry-run")
    assert status == 0 and planned["dry_run"] and planned["ok"]
    assert actions(planned) == {
        "churn/1": "would import",
        "churn/2": "would import",
        "churn/4": "would import",
    }
    with modelreg.connect(target) as embedded:
        assert embedded.list_models().items == []  # a dry run writes nothing

    status, report = import_json("--registry", str(target), *args)
    assert status == 0, report["problems"]
    digests = {f"{o['name']}/{o['version']}": o["source_digest"] for o in report["outcomes"]}
    assert digests == {f"{o['name']}/{o['version']}": o["source_digest"] for o in from_server["outcomes"]}
    with modelreg.connect(target) as embedded:
        assert_native_view(embedded, source)


def test_a_database_source_without_its_artifact_root_reports_each_version(
    source: Source, tmp_path: Path
) -> None:
    done = import_cli(
        "--registry", str(tmp_path / "t"), "import-mlflow", "--from", source.database, "--model", "fraud"
    )
    assert done.returncode == 5
    assert "problem: fraud/1: failed: INVALID_INPUT: mlflow-artifacts:/" in done.stderr
    assert "give the directory behind it (its --artifacts-destination) as the artifact root" in done.stderr


def test_a_policy_that_wants_approval_is_not_bypassed(source: Source, tmp_path: Path) -> None:
    target = tmp_path / "target"
    with modelreg.connect(target) as embedded:
        embedded.set_policy('[[rule]]\ntarget = "production"\napprovals = 1\n')
    done = import_cli("--registry", str(target), "import-mlflow", "--from", source.url, "--model", "churn")
    assert done.returncode == 5
    assert "problem: churn/2: refused: " in done.stderr
    assert "the import does not bypass the promotion policy" in done.stderr
    with modelreg.connect(target) as embedded:
        versions = {n: embedded.get_version(f"churn/{n}") for n in (1, 2, 4)}
        assert {n: v.stage for n, v in versions.items()} == {1: "archived", 2: "none", 4: "staging"}
        assert embedded.get_model("churn").aliases == {"champion": 2, "challenger": 4}


def test_a_local_sqlite_registry_with_what_modelreg_refuses(tmp_path: Path) -> None:
    """A registry MLflow's client wrote straight into SQLite (no server; file: artifact locations, read in
    place): a model name modelreg refuses and a NaN metric are reported, and the rest is imported."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    files = tmp_path / "files"
    files.mkdir()
    (files / "weights.bin").write_bytes(b"\x00\x01" * 5000)
    with warnings.catch_warnings():
        # MLflow's SQL store uses a loader option SQLAlchemy 2.1 deprecates: MLflow's to fix, not ours.
        warnings.filterwarnings("ignore", "The ``noload`` loader strategy is deprecated", DeprecationWarning)
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment = client.create_experiment("local", artifact_location=(tmp_path / "artifacts").as_uri())
        run = client.create_run(experiment).info.run_id
        client.log_metric(run, "loss", math.nan)
        client.log_metric(run, "accuracy", 0.5)
        client.log_artifacts(run, str(files), "model")
        client.create_registered_model("bad name", description="spaces are not allowed in modelreg names")
        client.create_registered_model("fine")
        client.create_model_version("fine", f"{client.get_run(run).info.artifact_uri}/model", run_id=run)

    status, report = import_json("--registry", str(tmp_path / "target"), "import-mlflow", "--from", uri)
    assert status == 5
    assert report["problems"] == [
        "bad name: not imported: INVALID_NAME: invalid model name 'bad name': use 1-128 letters, digits, "
        "'.', '_' or '-', starting with a letter or digit"
    ]
    assert report["notes"] == [f"run {run}: metrics that are not finite numbers were left out: loss"]
    assert actions(report) == {"fine/1": "imported"}
    with modelreg.connect(tmp_path / "target") as embedded:
        version = embedded.get_version("fine/1")
        assert (version.metrics, version.lineage.run_id) == ({"accuracy": 0.5}, run)
        assert [(entry.path, entry.size) for entry in version.files] == [("weights.bin", 10_000)]
        assert [model.name for model in embedded.list_models().items] == ["fine"]


@pytest.mark.parametrize(
    ("source_uri", "code", "message"),
    [
        ("sqlite:////nowhere/mlflow.db", "INVALID_INPUT", "no MLflow database at '/nowhere/mlflow.db'"),
        ("ftp://mlflow.example", "INVALID_INPUT", "unsupported MLflow tracking URI 'ftp://mlflow.example'"),
        ("http://", "INVALID_INPUT", "invalid MLflow tracking URI 'http://': no host"),
    ],
)
def test_bad_sources_are_refused_before_anything_is_written(
    source_uri: str, code: str, message: str, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    done = import_cli("--registry", str(target), "import-mlflow", "--from", source_uri)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"error: {code}: {message}")
    with modelreg.connect(target) as embedded:
        assert embedded.list_models().items == []


def test_an_unknown_model_and_an_unreachable_server(source: Source, tmp_path: Path) -> None:
    done = import_cli(
        "--registry", str(tmp_path / "t"), "import-mlflow", "--from", source.url, "--model", "nope"
    )
    assert done.returncode == 3
    assert done.stderr.startswith(
        "error: MODEL_NOT_FOUND: MLflow source: RESOURCE_DOES_NOT_EXIST: Registered Model with name=nope"
    )
    gone = import_cli("--registry", str(tmp_path / "t"), "import-mlflow", "--from", "http://127.0.0.1:9")
    assert gone.returncode == 7
    assert gone.stderr.startswith(
        "error: STORAGE_UNAVAILABLE: the MLflow server at http://127.0.0.1:9 does not answer"
    )


def test_without_mlflow_installed_the_error_names_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['mlflow'] = None\n"  # makes `import mlflow` fail as if it were not installed
        "from modelreg.cli.app import main\n"
        f"main(['--registry', {str(tmp_path / 't')!r}, 'import-mlflow', '--from', 'http://127.0.0.1:9'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr == (
        "error: INVALID_INPUT: importing from MLflow needs MLflow's client: "
        "pip install 'modelreg[mlflow-compat]'\n"
    )

"""One MLflow registry, built through MLflow's public API only: the source of the import tests.

    churn    v1 sklearn C=1.0, logged with registered_model_name; run metrics, params    Archived
             v2 sklearn C=0.1, logged with registered_model_name                         Production @champion
             v3 registered from runs:/<run B>/model, then DELETED: a gap in the numbers
             v4 registered from models:/<v1's logged model>: v1's files unchanged        Staging @challenger
    fraud    v1 from a run's plain artifact directory (create_model_version)             @prod
             v2 the same directory with one file changed                                 Archived
    reserve  a registered model with a description and tags, and no version

What ``populate`` returns is what a faithful copy must show: the tests compare it (and the source server)
with the registries the import wrote.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

with warnings.catch_warnings():
    # MLflow's own import-time notice about its type hints (mlflow/types/type_hints.py): not ours to fix.
    warnings.filterwarnings("ignore", ".*type hint is inferred as AnyType", UserWarning)
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

__all__ = ["populate"]

EXPERIMENT = "import-scenario"
REQUIREMENTS = ["scikit-learn"]  # skips MLflow's requirement inference, a subprocess per logged model


def populate(tracking_uri: str) -> dict[str, Any]:
    """Fill the registry behind ``tracking_uri``; returns the facts the tests check against."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)
    try:
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        found = client.get_experiment_by_name(EXPERIMENT)
        experiment = found.experiment_id if found else client.create_experiment(EXPERIMENT)
        with warnings.catch_warnings():
            # Stages are deprecated in MLflow 3 (a FutureWarning per transition); the import copies them.
            warnings.filterwarnings("ignore", category=FutureWarning)
            churn = _churn(client, experiment)
            fraud = _fraud(client, experiment)
        _reserve(client)
    finally:
        mlflow.set_tracking_uri(previous)
    return {
        "models": {"churn": [1, 2, 4], "fraud": [1, 2], "reserve": []},
        "stages": {
            ("churn", 1): "Archived",
            ("churn", 2): "Production",
            ("churn", 4): "Staging",
            ("fraud", 2): "Archived",
        },
        "aliases": {"churn": {"champion": 2, "challenger": 4}, "fraud": {"prod": 1}},
        "same_weights": [("churn", 1), ("churn", 4)],
        **churn,
        **fraud,
    }


def _features() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(200, 4))
    labels = (features[:, 0] + 0.5 * features[:, 1] > 0).astype(int)
    return features, labels


def _log_sklearn(experiment: str, c: float, auc: float) -> tuple[str, str, LogisticRegression]:
    """One run that trains, logs metrics/params and logs + registers the model as a new 'churn' version."""
    features, labels = _features()
    model = LogisticRegression(C=c).fit(features, labels)
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_params({"C": str(c), "solver": "lbfgs"})
        mlflow.log_metrics({"auc": auc, "loss": 1 - auc})
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name="churn", pip_requirements=REQUIREMENTS
        )
    return run.info.run_id, info.model_id, model


def _churn(client: MlflowClient, experiment: str) -> dict[str, Any]:
    run_a, model_a, _ = _log_sklearn(experiment, 1.0, 0.91)
    run_b, _, fitted_b = _log_sklearn(experiment, 0.1, 0.87)
    mlflow.register_model(f"runs:/{run_b}/model", "churn")  # v3, deleted below
    client.delete_model_version("churn", "3")
    mlflow.register_model(f"models:/{model_a}", "churn", tags={"origin": "re-registered"})  # v4
    client.update_registered_model("churn", description="Predicts churn from usage.")
    client.set_registered_model_tag("churn", "team", "risk")
    client.set_registered_model_tag("churn", "tier", "gold")
    client.update_model_version("churn", "1", description="First baseline.")
    client.set_model_version_tag("churn", "2", "validated", "true")
    client.set_model_version_tag("churn", "2", "reviewer", "dana")
    client.transition_model_version_stage("churn", "1", "Production")
    client.transition_model_version_stage("churn", "2", "Production", archive_existing_versions=True)
    client.transition_model_version_stage("churn", "4", "Staging")
    client.set_registered_model_alias("churn", "champion", "2")
    client.set_registered_model_alias("churn", "challenger", "4")
    features, _ = _features()
    return {
        "runs": {("churn", 1): run_a, ("churn", 2): run_b, ("churn", 4): run_a},
        "metrics": {
            ("churn", 1): {"auc": 0.91, "loss": 1 - 0.91},
            ("churn", 2): {"auc": 0.87, "loss": 1 - 0.87},
        },
        "params": {("churn", 2): {"C": "0.1", "solver": "lbfgs"}},
        "features": features[:5],
        "predictions": fitted_b.predict(features[:5]),
    }


def _fraud(client: MlflowClient, experiment: str) -> dict[str, Any]:
    """Versions whose source is a run's plain artifact directory (no MLflow model format)."""
    with tempfile.TemporaryDirectory() as scratch:
        weights = Path(scratch) / "weights"
        (weights / "config").mkdir(parents=True)
        (weights / "config" / "thresholds.json").write_text('{"block": 0.97}\n')
        (weights / "scores.bin").write_bytes(bytes(range(256)) * 64)
        with mlflow.start_run(experiment_id=experiment) as first:
            mlflow.log_metric("recall", 0.8)
            mlflow.log_artifacts(str(weights), artifact_path="weights")
        (weights / "config" / "thresholds.json").write_text('{"block": 0.95}\n')
        with mlflow.start_run(experiment_id=experiment) as second:
            mlflow.log_metric("recall", 0.83)
            mlflow.log_artifacts(str(weights), artifact_path="weights")
    client.create_registered_model("fraud", tags={"team": "payments"}, description="Card fraud rules.")
    for run in (first, second):
        client.create_model_version(
            "fraud", f"{run.info.artifact_uri}/weights", run_id=run.info.run_id, description="rules"
        )
    client.set_model_version_tag("fraud", "1", "reviewed", "yes")
    client.transition_model_version_stage("fraud", "2", "Archived")
    client.set_registered_model_alias("fraud", "prod", "1")
    return {"fraud_runs": {("fraud", 1): first.info.run_id, ("fraud", 2): second.info.run_id}}


def _reserve(client: MlflowClient) -> None:
    client.create_registered_model("reserve", tags={"state": "planned"}, description="Not trained yet.")

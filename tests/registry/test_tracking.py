"""Tracking use cases (``registry.tracking``, ``registry.logged_models``): experiments, runs, logged models
and their search, on SQLite and PostgreSQL, with MLflow's limits, permissions and the audit trail."""

from __future__ import annotations

import inspect
import json
import math
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from modelreg import errors
from modelreg.access import Actor
from modelreg.connection import open_stores
from modelreg.registry.audit import verify_chain
from modelreg.registry.service import Registry
from modelreg.types import Metric, RunInput

ALICE = Actor("alice", role="contributor")


@pytest.fixture
def registry(database: str, storage_url: str) -> Iterator[Registry]:
    metadata, chunks = open_stores(database, storage=storage_url)
    yield Registry(metadata, chunks, actor=ALICE)
    metadata.close()


def events(registry: Registry) -> list[tuple[str, str, dict[str, object]]]:
    with registry.metadata.session() as session:
        chain = session.audit_events(limit=10_000)
    assert verify_chain(chain) is None
    return [(event.action, event.target, json.loads(event.data_json)) for event in chain]


def dataset(name: str = "train", digest: str = "d1") -> RunInput:
    return RunInput(
        name, digest, "local", "/data/train.csv", '{"cols": 3}', None, {"mlflow.data.context": "train"}
    )


# Experiments -----------------------------------------------------------------------------------------------
def test_the_default_experiment_exists_and_ids_continue_after_it(registry: Registry) -> None:
    default = registry.get_experiment("0")
    assert (default.name, default.artifact_location, default.lifecycle_stage) == (
        "Default",
        "mlflow-artifacts:/0",
        "active",
    )
    assert registry.get_experiment_by_name("Default") == default
    created = registry.create_experiment("churn", tags={"team": "risk"})
    assert (created.experiment_id, created.artifact_location, created.tags) == (
        "1",
        "mlflow-artifacts:/1",
        {"team": "risk"},
    )
    assert created.creation_time == created.last_update_time > 0
    assert registry.get_experiment(1) == registry.get_experiment_by_name("churn") == created
    assert events(registry) == [("tracking:experiment:create", "experiment/1", {"name": "churn"})]


def test_experiment_names_are_unique_and_checked(registry: Registry) -> None:
    registry.create_experiment("churn")
    with pytest.raises(errors.ExperimentAlreadyExists):
        registry.create_experiment("churn")
    for bad in ("", "x" * 501, "nul\x00", 7):
        with pytest.raises(errors.InvalidInput):
            registry.create_experiment(bad)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidMetadata):
        registry.create_experiment("tagged", tags={"bad*key": "v"})
    with pytest.raises(errors.InvalidInput):
        registry.create_experiment("tagged", tags={"k": "v" * 20001})
    with pytest.raises(errors.ExperimentNotFound):
        registry.get_experiment_by_name("tagged")
    assert [action for action, _, _ in events(registry)] == ["tracking:experiment:create"]


def test_artifact_locations_stay_in_the_chunk_store(registry: Registry) -> None:
    inside = registry.create_experiment("inside", artifact_location="mlflow-artifacts:/1/sub/")
    assert (inside.experiment_id, inside.artifact_location) == ("1", "mlflow-artifacts:/1/sub")
    run = registry.create_run("1")
    assert run.artifact_uri == f"mlflow-artifacts:/1/sub/{run.run_id}/artifacts"
    for outside in ("s3://bucket/x", "file:///tmp/x", "mlflow-artifacts:/../x", "mlflow-artifacts:/"):
        with pytest.raises(errors.InvalidInput):
            registry.create_experiment("elsewhere", artifact_location=outside)
    with pytest.raises(errors.InvalidInput):  # another experiment's place: refused, and nothing created
        registry.create_experiment("elsewhere", artifact_location="mlflow-artifacts:/0/mine")
    with pytest.raises(errors.ExperimentNotFound):
        registry.get_experiment_by_name("elsewhere")


@pytest.mark.parametrize("bad", ["abc", "007", "-1", "1.0", "", "9" * 20, None, True])
def test_malformed_experiment_ids_are_invalid_input(registry: Registry, bad: object) -> None:
    with pytest.raises(errors.InvalidInput):
        registry.get_experiment(bad)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput):
        registry.create_run(bad)  # type: ignore[arg-type]


def test_unknown_experiments_are_not_found(registry: Registry) -> None:
    with pytest.raises(errors.ExperimentNotFound):
        registry.get_experiment("42")
    with pytest.raises(errors.ExperimentNotFound):
        registry.create_run("42")
    with pytest.raises(errors.ExperimentNotFound):
        registry.create_logged_model("42")


# Runs ------------------------------------------------------------------------------------------------------
def test_a_run_is_created_running_with_its_name_as_a_tag(registry: Registry) -> None:
    run = registry.create_run("0", run_name="first", start_time=1_700_000_000_000, tags={"team": "risk"})
    assert len(run.run_id) == 32 and int(run.run_id, 16) >= 0
    assert (run.experiment_id, run.run_name, run.status, run.user_id) == ("0", "first", "RUNNING", "alice")
    assert (run.start_time, run.end_time, run.lifecycle_stage) == (1_700_000_000_000, None, "active")
    assert run.artifact_uri == f"mlflow-artifacts:/0/{run.run_id}/artifacts"
    assert run.tags == {"team": "risk", "mlflow.runName": "first"}
    assert (run.metrics, run.params, run.inputs, run.model_inputs, run.outputs) == ((), {}, (), (), ())
    assert registry.get_run(run.run_id) == run
    named_by_tag = registry.create_run("0", tags={"mlflow.runName": "tagged"}, user_id="ci-bot")
    assert (named_by_tag.run_name, named_by_tag.user_id) == ("tagged", "ci-bot")
    unnamed = registry.create_run("0")
    assert unnamed.run_name.startswith("run-") and unnamed.tags["mlflow.runName"] == unnamed.run_name
    assert unnamed.start_time is not None and unnamed.start_time > 1_700_000_000_000
    assert [target for _, target, _ in events(registry)] == [
        f"run/{r.run_id}" for r in (run, named_by_tag, unnamed)
    ]


def test_bad_runs_are_refused_and_nothing_is_created(registry: Registry) -> None:
    with pytest.raises(errors.InvalidInput):
        registry.create_run("0", run_name="a", tags={"mlflow.runName": "b"})
    with pytest.raises(errors.InvalidInput):
        registry.create_run("0", run_name="x" * 251)
    with pytest.raises(errors.InvalidInput):
        registry.create_run("0", start_time=-1)
    with pytest.raises(errors.InvalidInput):
        registry.create_run("0", start_time=2**63)
    with pytest.raises(errors.InvalidMetadata):
        registry.create_run("0", tags={"../escape": "v"})
    assert events(registry) == []


def test_update_run_changes_status_end_time_and_name(registry: Registry) -> None:
    run = registry.create_run("0", run_name="before")
    done = registry.update_run(run.run_id, status="FINISHED", end_time=1_800_000_000_000, run_name="after")
    assert (done.status, done.end_time, done.run_name, done.tags["mlflow.runName"]) == (
        "FINISHED",
        1_800_000_000_000,
        "after",
        "after",
    )
    for status in ("SCHEDULED", "FAILED", "KILLED", "RUNNING"):
        assert registry.update_run(run.run_id, status=status).status == status
    with pytest.raises(errors.InvalidInput):
        registry.update_run(run.run_id, status="DONE")
    with pytest.raises(errors.InvalidInput):
        registry.update_run(run.run_id, end_time=-5)
    assert registry.get_run(run.run_id).status == "RUNNING"
    updates = [data for action, _, data in events(registry) if action == "tracking:run:update"]
    assert updates[0] == {"name": ["before", "after"], "status": ["RUNNING", "FINISHED"]}
    assert len(updates) == 5


@pytest.mark.parametrize("bad", ["nope", "A" * 32, "0" * 31, "m-" + "0" * 32])
def test_unknown_and_malformed_run_ids_are_not_found(registry: Registry, bad: str) -> None:
    for call in (
        lambda: registry.get_run(bad),
        lambda: registry.update_run(bad, status="FINISHED"),
        lambda: registry.log_batch(bad, params={"a": "b"}),
        lambda: registry.log_batch(bad),
        lambda: registry.log_inputs(bad),
        lambda: registry.log_outputs(bad),
        lambda: registry.get_metric_history(bad, "loss"),
    ):
        with pytest.raises(errors.RunNotFound):
            call()
    with pytest.raises(errors.InvalidInput):
        registry.get_run(123)  # type: ignore[arg-type]


def test_latest_metrics_follow_step_then_timestamp_then_value(registry: Registry) -> None:
    run = registry.create_run("0").run_id
    registry.log_batch(
        run,
        metrics=[
            Metric("loss", 0.9, 100, 0),
            Metric("loss", 0.5, 50, 2),  # a higher step wins over a later timestamp
            Metric("loss", 0.7, 200, 1),
            Metric("acc", 0.1, 10, 5),
            Metric("acc", 0.2, 11, 5),  # same step: the later timestamp
        ],
    )
    registry.log_batch(run, metrics=[Metric("loss", 0.6, 300, 1), Metric("acc", 0.3, 11, 5)])  # older step
    latest = {m.key: m for m in registry.get_run(run).metrics}
    assert latest == {"loss": Metric("loss", 0.5, 50, 2), "acc": Metric("acc", 0.3, 11, 5)}
    history = registry.get_metric_history(run, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.7), (1, 0.6), (2, 0.5)]
    assert registry.get_metric_history(run, "missing") == []


def test_nan_is_kept_and_infinities_are_clamped(registry: Registry) -> None:
    run = registry.create_run("0").run_id
    nan, inf = float("nan"), float("inf")
    registry.log_batch(run, metrics=[Metric("a", nan, 1, 0), Metric("b", inf, 1, 0), Metric("c", -inf, 1, 0)])
    latest = {m.key: m.value for m in registry.get_run(run).metrics}
    assert math.isnan(latest["a"])
    assert (latest["b"], latest["c"]) == (sys.float_info.max, -sys.float_info.max)
    assert math.isnan(registry.get_metric_history(run, "a")[0].value)


def test_params_are_immutable_and_tags_overwrite(registry: Registry) -> None:
    run = registry.create_run("0", run_name="r").run_id
    registry.log_batch(run, params={"lr": "0.1", "depth": "3"}, tags={"stage": "dev"})
    registry.log_batch(run, params={"lr": "0.1"}, tags={"stage": "prod", "mlflow.runName": "renamed"})
    with pytest.raises(errors.InvalidInput) as refused:
        registry.log_batch(
            run, metrics=[Metric("m", 1.0, 1, 0)], params={"lr": "0.2", "new": "x"}, tags={"t": "1"}
        )
    assert refused.value.code == "INVALID_INPUT" and refused.value.details == {"keys": ["lr"]}
    found = registry.get_run(run)
    assert found.params == {"lr": "0.1", "depth": "3"}
    assert found.tags == {"stage": "prod", "mlflow.runName": "renamed"}
    assert (found.run_name, found.metrics) == ("renamed", ())  # the refused batch wrote nothing
    logs = [data for action, _, data in events(registry) if action == "tracking:run:log"]
    assert logs == [
        {"metrics": 0, "params": ["depth", "lr"], "tags": ["stage"]},
        {"metrics": 0, "params": [], "tags": ["mlflow.runName", "stage"]},
    ]


@pytest.mark.parametrize(
    "batch",
    [
        {"metrics": [Metric(f"m{i}", 1.0, 1, 0) for i in range(1001)]},
        {"params": {f"p{i}": "v" for i in range(101)}},
        {"tags": {f"t{i}": "v" for i in range(101)}},
        {
            "metrics": [Metric(f"m{i}", 1.0, 1, 0) for i in range(900)],
            "params": {f"p{i}": "v" for i in range(100)},
            "tags": {"t": "v"},
        },
        {"params": {"p": "v" * 6001}},
        {"tags": {"t": "v" * 8001}},
        {"tags": {"mlflow.runName": "n" * 251}},
        {"params": {"bad*name": "v"}},
        {"params": {"a/../b": "v"}},
        {"metrics": [Metric("/abs", 1.0, 1, 0)]},
        {"metrics": [Metric("ok", "1.0", 1, 0)]},  # type: ignore[arg-type]
        {"metrics": [Metric("ok", True, 1, 0)]},
        {"metrics": [Metric("ok", 1.0, -1, 0)]},
        {"metrics": [Metric("ok", 1.0, 1, 2**63)]},
        {"metrics": [("ok", 1.0, 1, 0)]},
        {"params": {"p": "nul\x00"}},
        {"params": ["not", "a", "mapping"]},
    ],
)
def test_log_batch_limits_and_names(registry: Registry, batch: dict[str, object]) -> None:
    run = registry.create_run("0", run_name="r").run_id
    with pytest.raises(errors.InvalidInput):
        registry.log_batch(run, **batch)  # type: ignore[arg-type]
    found = registry.get_run(run)
    assert (found.metrics, found.params, found.tags) == ((), {}, {"mlflow.runName": "r"})


def test_inputs_and_outputs_link_datasets_and_logged_models(registry: Registry) -> None:
    run = registry.create_run("0").run_id
    first = registry.create_logged_model("0", name="a", source_run_id=run).model_id
    second = registry.create_logged_model("0", name="b").model_id
    registry.log_inputs(run, datasets=[dataset(), dataset(), dataset("eval", "d2")], models=[first])
    registry.log_inputs(run, datasets=[dataset()], models=[first, second])
    registry.log_outputs(run, models=[(first, 0), (first, 5), (second, 1)])
    found = registry.get_run(run)
    assert found.inputs == (dataset("eval", "d2"), dataset())
    assert sorted(found.model_inputs) == sorted([first, second])
    assert sorted(found.outputs) == sorted([(first, 0), (first, 5), (second, 1)])
    with pytest.raises(errors.LoggedModelNotFound):
        registry.log_inputs(run, models=["m-" + "0" * 32])
    with pytest.raises(errors.LoggedModelNotFound):
        registry.log_outputs(run, models=[("nope", 1)])
    with pytest.raises(errors.InvalidInput):
        registry.log_outputs(run, models=[(first, "1")])  # type: ignore[list-item]
    with pytest.raises(errors.InvalidInput):
        registry.log_inputs(run, datasets=[dataset(digest="x" * 37)])
    with pytest.raises(errors.InvalidInput):
        registry.log_inputs(run, datasets=[RunInput("n", "d", "local", "s", None, None, {"k" * 256: "v"})])
    assert registry.get_run(run) == found
    actions = [action for action, _, _ in events(registry)]
    assert actions.count("tracking:run:inputs") == 2 and actions.count("tracking:run:outputs") == 1


# Logged models ---------------------------------------------------------------------------------------------
def test_a_logged_model_is_created_pending_then_finalized_and_tagged(registry: Registry) -> None:
    experiment = registry.create_experiment("exp").experiment_id
    run = registry.create_run(experiment).run_id
    model = registry.create_logged_model(
        experiment, name="clf", model_type="sklearn", source_run_id=run, params={"C": "1.0"}, tags={"k": "v"}
    )
    assert model.model_id.startswith("m-") and len(model.model_id) == 34
    assert model.artifact_location == f"mlflow-artifacts:/{experiment}/models/{model.model_id}/artifacts"
    assert (model.status, model.name, model.model_type, model.source_run_id) == (
        "PENDING",
        "clf",
        "sklearn",
        run,
    )
    assert (model.params, model.tags, model.metrics, model.status_message) == (
        {"C": "1.0"},
        {"k": "v"},
        (),
        None,
    )
    ready = registry.finalize_logged_model(model.model_id, "READY")
    assert ready.status == "READY" and ready.last_updated_timestamp >= model.creation_timestamp
    assert registry.finalize_logged_model(model.model_id, "LOGGED_MODEL_UPLOAD_FAILED").status == "FAILED"
    tagged = registry.set_logged_model_tags(
        model.model_id, {"mlflow.modelVersions": '[{"name": "n"}]', "k": "w"}
    )
    assert tagged.tags == {"k": "w", "mlflow.modelVersions": '[{"name": "n"}]'}
    registry.log_model_metrics(
        model.model_id, [Metric("auc", 0.8, 1, 0), Metric("auc", 0.9, 2, 1)], run_id=run
    )
    assert registry.get_logged_model(model.model_id).metrics == (Metric("auc", 0.9, 2, 1),)
    actions = [action for action, target, _ in events(registry) if target == f"logged-model/{model.model_id}"]
    assert actions == [
        "tracking:logged-model:create",
        "tracking:logged-model:finalize",
        "tracking:logged-model:finalize",
        "tracking:logged-model:tag",
        "tracking:logged-model:log",
    ]


def test_bad_logged_models_are_refused(registry: Registry) -> None:
    for name in ("a/b", "a.b", "a:b", "", "x" * 501):
        with pytest.raises(errors.InvalidInput):
            registry.create_logged_model("0", name=name)
    with pytest.raises(errors.RunNotFound):
        registry.create_logged_model("0", source_run_id="f" * 32)
    model = registry.create_logged_model("0").model_id
    for status in ("DONE", "UNSPECIFIED", "", None):
        with pytest.raises(errors.InvalidInput):
            registry.finalize_logged_model(model, status)  # type: ignore[arg-type]
    with pytest.raises(errors.LoggedModelNotFound):
        registry.get_logged_model("m-" + "f" * 32)
    with pytest.raises(errors.LoggedModelNotFound):
        registry.finalize_logged_model("not-a-model", "READY")
    with pytest.raises(errors.InvalidMetadata):
        registry.set_logged_model_tags(model, {"": "v"})
    assert registry.get_logged_model(model).status == "PENDING"


# Permissions -----------------------------------------------------------------------------------------------
def test_viewers_read_contributors_write_and_others_neither(registry: Registry) -> None:
    run = registry.create_run("0").run_id
    model = registry.create_logged_model("0").model_id
    viewer = registry.as_actor(Actor("vic", role="viewer"))
    assert viewer.get_run(run).run_id == run
    assert viewer.get_logged_model(model).model_id == model
    assert viewer.search_logged_models(["0"]).items[0].model_id == model
    for write in (
        lambda: viewer.create_experiment("x"),
        lambda: viewer.create_run("0"),
        lambda: viewer.update_run(run, status="KILLED"),
        lambda: viewer.log_batch(run, params={"a": "b"}),
        lambda: viewer.log_inputs(run),
        lambda: viewer.log_outputs(run),
        lambda: viewer.create_logged_model("0"),
        lambda: viewer.finalize_logged_model(model, "READY"),
        lambda: viewer.set_logged_model_tags(model, {"a": "b"}),
    ):
        with pytest.raises(errors.PermissionDenied):
            write()
    nobody = registry.as_actor(Actor("eve", role="none"))
    for read in (
        lambda: nobody.get_experiment("0"),
        lambda: nobody.get_run(run),
        lambda: nobody.get_logged_model(model),
        lambda: nobody.search_logged_models(["0"]),
    ):
        with pytest.raises(errors.PermissionDenied):
            read()
    assert registry.get_run(run).status == "RUNNING"


# The contract other surfaces build on --------------------------------------------------------------------
CONTRACT = {
    "create_experiment": "(name, *, artifact_location=None, tags=None)",
    "get_experiment": "(experiment_id)",
    "get_experiment_by_name": "(name)",
    "create_run": "(experiment_id, *, run_name=None, start_time=None, tags=None, user_id=None)",
    "get_run": "(run_id)",
    "update_run": "(run_id, *, status=None, end_time=None, run_name=None)",
    "log_batch": "(run_id, *, metrics=(), params=None, tags=None)",
    "log_inputs": "(run_id, *, datasets=(), models=())",
    "log_outputs": "(run_id, *, models=())",
    "create_logged_model": "(experiment_id, *, name=None, model_type=None, source_run_id=None, params=None, "
    "tags=None)",
    "get_logged_model": "(model_id)",
    "finalize_logged_model": "(model_id, status)",
    "set_logged_model_tags": "(model_id, tags)",
    "search_logged_models": "(experiment_ids, *, filter=None, order_by=None, max_results=100, "
    "page_token=None)",
    "put_artifact": "(path, chunks)",
    "open_artifact": "(path)",
    "list_artifacts": "(path='')",
    "delete_artifact": "(path)",
    "artifact_manifest": "(prefix)",
}


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_the_registry_methods_have_the_agreed_signatures(name: str) -> None:
    signature = inspect.signature(getattr(Registry, name))
    parameters = [p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()]
    shown = str(signature.replace(parameters=parameters[1:], return_annotation=inspect.Signature.empty))
    assert shown == CONTRACT[name]


def test_the_result_types_round_trip_through_their_json_form(registry: Registry) -> None:
    run = registry.create_run("0", tags={"a": "b"}).run_id
    model = registry.create_logged_model("0", params={"p": "1"}).model_id
    registry.log_batch(run, metrics=[Metric("m", 0.5, 3, 1)], params={"lr": "0.1"})
    registry.log_inputs(run, datasets=[dataset()], models=[model])
    registry.log_outputs(run, models=[(model, 2)])
    registry.log_model_metrics(model, [Metric("auc", 0.9, 4, 0)])
    for result in (registry.get_run(run), registry.get_logged_model(model), registry.get_experiment("0")):
        assert type(result).from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_concurrent_writers_serialise_instead_of_failing(registry: Registry) -> None:
    run = registry.create_run("0").run_id

    def log(index: int) -> None:
        registry.log_batch(run, metrics=[Metric("loss", float(index), index, index)], params={"seed": "1"})

    def create(_: int) -> str:
        try:
            return registry.create_experiment("raced").experiment_id
        except errors.ExperimentAlreadyExists:
            return "refused"

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(log, range(16)))
        outcomes = sorted(pool.map(create, range(8)))
    found = registry.get_run(run)
    assert found.params == {"seed": "1"} and found.metrics == (Metric("loss", 15.0, 15, 15),)
    assert len(registry.get_metric_history(run, "loss")) == 16
    assert (
        outcomes.count("refused") == 7 and registry.get_experiment_by_name("raced").experiment_id in outcomes
    )

"""MLflow tracking use cases, mixed into ``Registry``: experiments, runs and logged models.

Reads need ``tracking:read`` and writes ``tracking:write`` (both global: tracking data belongs to no
registered model). Every write is one transaction with its audit event (``tracking:<subject>:<action>``,
target ``experiment/<id>``, ``run/<id>`` or ``logged-model/<id>``); input is checked with MLflow's own limits
(``tracking_checks``) before anything is stored. Writes to one run or logged model take its row lock first,
so concurrent logging to a run serialises instead of failing.

Logged models (MLflow 3) are in ``logged_models``, mixed in here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from modelreg.access import Permission
from modelreg.errors import (
    ExperimentAlreadyExists,
    ExperimentNotFound,
    InvalidInput,
    LoggedModelNotFound,
    RunNotFound,
)
from modelreg.metadata.protocol import MetadataSession
from modelreg.metadata.tracking_protocol import NewRun, RunState
from modelreg.registry import run_checks
from modelreg.registry import tracking_checks as checks
from modelreg.registry.logged_models import LoggedModelCases, millis
from modelreg.registry.manifest import check_path
from modelreg.types import Experiment, Metric, Run, RunInput

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["ARTIFACT_SCHEME", "TrackingCases"]

ARTIFACT_SCHEME = "mlflow-artifacts:/"
_MAX_EXPERIMENT_TAG_VALUE = 20000


class TrackingCases(LoggedModelCases):
    """Experiments and runs (``registry.tracking``); logged models from ``LoggedModelCases``."""

    # Experiments ---------------------------------------------------------------------------------------
    def create_experiment(
        self, name: str, *, artifact_location: str | None = None, tags: Mapping[str, str] | None = None
    ) -> Experiment:
        """A new experiment; ``artifact_location`` defaults to ``mlflow-artifacts:/<id>`` and may only name
        a place inside it (every artifact is stored in the chunk store, under its experiment's id)."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_WRITE)
        name = checks.check_experiment_name(name)
        location = _check_location(artifact_location)
        entries = checks.check_entries("experiment tag", tags, max_value=_MAX_EXPERIMENT_TAG_VALUE)
        with registry.metadata.session(write=True) as session:
            now = registry._now()
            actor = registry.actor.name
            new_id = session.insert_experiment(
                name, location=location, tags=entries, at=millis(now), actor=actor
            )
            if new_id is None:
                raise ExperimentAlreadyExists(f"experiment {name!r} already exists")
            if location is not None and location[len(ARTIFACT_SCHEME) :].split("/")[0] != str(new_id):
                raise InvalidInput(
                    f"invalid artifact location {location[:200]!r}: this experiment's artifacts live under "
                    f"{ARTIFACT_SCHEME}{new_id}"
                )
            registry._audit(
                session, now, "tracking:experiment:create", None, f"experiment/{new_id}", name=name
            )
            return _found(session.experiment(new_id))

    def get_experiment(self, experiment_id: str) -> Experiment:
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_READ)
        wanted = checks.experiment_id(experiment_id)
        with registry.metadata.session() as session:
            return _experiment(session, wanted)

    def get_experiment_by_name(self, name: str) -> Experiment:
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_READ)
        name = checks.check_experiment_name(name)
        with registry.metadata.session() as session:
            experiment = session.experiment_by_name(name)
        if experiment is None:
            raise ExperimentNotFound(f"experiment {name!r} not found")
        return experiment

    # Runs ----------------------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        *,
        run_name: str | None = None,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
        user_id: str | None = None,
    ) -> Run:
        """A RUNNING run; its name (given, else the ``mlflow.runName`` tag, else made up) is also that tag."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_WRITE)
        experiment = checks.experiment_id(experiment_id)
        entries = checks.check_entries("tag", tags, max_value=checks.MAX_TAG_VALUE)
        name = run_checks.run_name(run_name, entries.get(run_checks.RUN_NAME_TAG))
        entries[run_checks.RUN_NAME_TAG] = name
        user = registry.actor.name if user_id is None else checks.check_text("user id", user_id, 256)
        start = None if start_time is None else checks.check_millis("start time", start_time)
        run_id = uuid.uuid4().hex
        with registry.metadata.session(write=True) as session:
            now = registry._now()
            location = _experiment(session, experiment).artifact_location
            new = NewRun(
                run_id=run_id,
                experiment_id=experiment,
                name=name,
                user_id=user,
                start_time=millis(now) if start is None else start,
                artifact_uri=f"{location}/{run_id}/artifacts",
                tags=entries,
                actor=registry.actor.name,
            )
            session.insert_run(new, at=millis(now))
            registry._audit(
                session, now, "tracking:run:create", None, f"run/{run_id}", experiment=str(experiment)
            )
            return session.runs([run_id])[0]

    def get_run(self, run_id: str) -> Run:
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_READ)
        wanted = run_checks.run_key(run_id)
        with registry.metadata.session() as session:
            found = session.runs([wanted])
        if not found:
            raise RunNotFound(f"run {wanted!r} not found")
        return found[0]

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> Run:
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_WRITE)
        wanted = run_checks.run_key(run_id)
        new_status = None if status is None else checks.check_run_status(status)
        end = None if end_time is None else checks.check_millis("end time", end_time)
        name = None if run_name is None or run_name == "" else run_checks.run_name(run_name, None)
        with registry.metadata.session(write=True) as session:
            state = _lock_run(session, wanted)
            session.update_run(wanted, status=new_status, end_time=end, name=name)
            changes = {
                "status": [state.status, new_status or state.status],
                "name": [state.name, name or state.name],
            }
            registry._audit(session, registry._now(), "tracking:run:update", None, f"run/{wanted}", **changes)
            return session.runs([wanted])[0]

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Log metrics (each appended to its history; the latest per key is what ``get_run`` shows), params
        (immutable: a different value for a logged key is ``InvalidInput``) and tags, with MLflow's limits:
        at most 1,000 metrics, 100 params, 100 tags, 1,000 in all."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_WRITE)
        wanted = run_checks.run_key(run_id)
        stored, entries, labels = run_checks.batch(metrics, params, tags)
        if not stored and not entries and not labels:
            self.get_run(wanted)  # MLflow accepts an empty batch for an existing run: nothing to write
            return
        with registry.metadata.session(write=True) as session:
            _lock_run(session, wanted)
            logged = session.run_params(wanted, list(entries))
            changed = sorted(key for key, value in entries.items() if key in logged and logged[key] != value)
            if changed:
                raise InvalidInput(
                    f"params cannot change once logged: {', '.join(repr(k) for k in changed[:10])} already "
                    f"have other values on run {wanted}",
                    details={"keys": changed[:100]},
                )
            fresh = {key: value for key, value in entries.items() if key not in logged}
            session.log_run(wanted, metrics=stored, params=fresh, tags=labels)
            data = {"metrics": len(stored), "params": sorted(fresh), "tags": sorted(labels)}
            registry._audit(session, registry._now(), "tracking:run:log", None, f"run/{wanted}", **data)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every value logged for one metric of a run, by step then timestamp."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_READ)
        wanted = run_checks.run_key(run_id)
        name = checks.check_text("metric key", key, checks.MAX_KEY, empty_ok=False)
        with registry.metadata.session() as session:
            if not session.runs([wanted]):
                raise RunNotFound(f"run {wanted!r} not found")
            return session.metric_history(wanted, name)

    def log_inputs(
        self, run_id: str, *, datasets: Sequence[RunInput] = (), models: Sequence[str] = ()
    ) -> None:
        """Record the datasets (once per name and digest) and logged models a run used."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_WRITE)
        wanted = run_checks.run_key(run_id)
        inputs = run_checks.datasets(datasets)
        links = [(run_checks.model_key(model), 0) for model in run_checks.bounded("models", models)]
        if not inputs and not links:
            self.get_run(wanted)  # nothing to record
            return
        with registry.metadata.session(write=True) as session:
            _lock_run(session, wanted)
            _models_exist(session, [model for model, _ in links])
            session.add_run_datasets(wanted, inputs)
            session.add_run_models(wanted, "input", links)
            data = {"datasets": [f"{d.name}@{d.digest}" for d in inputs], "models": [m for m, _ in links]}
            registry._audit(session, registry._now(), "tracking:run:inputs", None, f"run/{wanted}", **data)

    def log_outputs(self, run_id: str, *, models: Sequence[tuple[str, int]] = ()) -> None:
        """Record the logged models a run produced, each at a step."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_WRITE)
        wanted = run_checks.run_key(run_id)
        links = [run_checks.output(entry) for entry in run_checks.bounded("models", models)]
        if not links:
            self.get_run(wanted)  # nothing to record
            return
        with registry.metadata.session(write=True) as session:
            _lock_run(session, wanted)
            _models_exist(session, [model for model, _ in links])
            session.add_run_models(wanted, "output", links)
            data = {"models": [[model, step] for model, step in links]}
            registry._audit(session, registry._now(), "tracking:run:outputs", None, f"run/{wanted}", **data)


def _registry(cases: TrackingCases) -> Registry:
    return cast("Registry", cases)


def _found(experiment: Experiment | None) -> Experiment:
    assert experiment is not None  # inserted in this very transaction
    return experiment


def _experiment(session: MetadataSession, experiment_id: int) -> Experiment:
    experiment = session.experiment(experiment_id)
    if experiment is None:
        raise ExperimentNotFound(f"experiment {experiment_id} not found")
    return experiment


def _check_location(location: Any) -> str | None:
    if location is None or location == "":
        return None
    text = checks.check_text("artifact location", location, 2000)
    if not text.startswith(ARTIFACT_SCHEME):
        raise InvalidInput(
            f"invalid artifact location {text[:200]!r}: artifacts are stored by the registry; leave it unset "
            f"or use {ARTIFACT_SCHEME}<experiment id>"
        )
    text = text.rstrip("/")
    check_path(text[len(ARTIFACT_SCHEME) :])
    return text


def _lock_run(session: MetadataSession, run_id: str) -> RunState:
    state = session.lock_run(run_id)
    if state is None:
        raise RunNotFound(f"run {run_id!r} not found")
    return state


def _models_exist(session: MetadataSession, model_ids: list[str]) -> None:
    missing = sorted(set(model_ids) - session.existing_logged_models(model_ids))
    if missing:
        raise LoggedModelNotFound(
            f"logged model {missing[0]!r} not found", details={"model_ids": missing[:20]}
        )

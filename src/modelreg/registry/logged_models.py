"""Logged model use cases (MLflow 3), mixed into ``Registry`` through ``TrackingCases``.

A logged model is created PENDING with its params and tags, its files are uploaded as artifacts under
``<experiment>/models/<model id>/artifacts``, then it is finalized READY (or FAILED). MLflow's client finds
one again with ``search_logged_models`` (by name, source run, tags…) and records the registered versions
made from it in its ``mlflow.modelVersions`` tag.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from modelreg.access import Permission
from modelreg.errors import ExperimentNotFound, InvalidInput, LoggedModelNotFound, RunNotFound
from modelreg.metadata.protocol import MetadataSession
from modelreg.metadata.tracking_protocol import NewLoggedModel
from modelreg.registry import run_checks
from modelreg.registry import tracking_checks as checks
from modelreg.registry.logged_model_filter import parse_model_filter, parse_model_order
from modelreg.registry.paging import check_limit, decode_token, encode_token
from modelreg.types import LoggedModel, Metric, Page

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["LoggedModelCases", "millis"]


def millis(moment: datetime) -> int:
    """MLflow's time unit: whole milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)


class LoggedModelCases:
    """Create, finalize, tag, find logged models (``registry.logged_models``)."""

    def create_logged_model(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> LoggedModel:
        """A PENDING logged model in the experiment; its files go under its ``artifact_location``."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_WRITE)
        experiment = checks.experiment_id(experiment_id)
        label = f"model-{secrets.token_hex(4)}" if name is None else checks.check_logged_model_name(name)
        kind = None if model_type is None else checks.check_text("model type", model_type, checks.MAX_NAME)
        run = None if source_run_id is None or source_run_id == "" else run_checks.run_key(source_run_id)
        entries = checks.check_entries("param", params, max_value=checks.MAX_PARAM_VALUE)
        labels = checks.check_entries("tag", tags, max_value=checks.MAX_TAG_VALUE)
        model_id = f"m-{uuid.uuid4().hex}"
        with registry.metadata.session(write=True) as session:
            now = registry._now()
            found = session.experiment(experiment)
            if found is None:
                raise ExperimentNotFound(f"experiment {experiment} not found")
            if run is not None and session.lock_run(run) is None:
                raise RunNotFound(f"run {run!r} not found")
            new = NewLoggedModel(
                model_id=model_id,
                experiment_id=experiment,
                name=label,
                artifact_location=f"{found.artifact_location}/models/{model_id}/artifacts",
                model_type=kind,
                source_run_id=run,
                params=entries,
                tags=labels,
                at=millis(now),
                actor=registry.actor.name,
            )
            session.insert_logged_model(new)
            data = {"experiment": str(experiment), "name": label, "source_run_id": run}
            registry._audit(
                session, now, "tracking:logged-model:create", None, f"logged-model/{model_id}", **data
            )
            return session.logged_models([model_id])[0]

    def get_logged_model(self, model_id: str) -> LoggedModel:
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_READ)
        wanted = run_checks.model_key(model_id)
        with registry.metadata.session() as session:
            found = session.logged_models([wanted])
        if not found:
            raise LoggedModelNotFound(f"logged model {wanted!r} not found")
        return found[0]

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        """Set the status: READY once its files are uploaded, FAILED if that failed (MLflow's proto names,
        ``LOGGED_MODEL_READY`` …, are accepted too)."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_WRITE)
        wanted = run_checks.model_key(model_id)
        new_status = checks.check_model_status(status)
        with registry.metadata.session(write=True) as session:
            before = _locked(session, wanted).status
            now = registry._now()
            session.finalize_logged_model(wanted, new_status, at=millis(now))
            target = f"logged-model/{wanted}"
            registry._audit(
                session, now, "tracking:logged-model:finalize", None, target, before=before, after=new_status
            )
            return session.logged_models([wanted])[0]

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> LoggedModel:
        """Set (or overwrite) tags; others stay."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_WRITE)
        wanted = run_checks.model_key(model_id)
        labels = checks.check_entries("tag", tags, max_value=checks.MAX_TAG_VALUE)
        with registry.metadata.session(write=True) as session:
            _locked(session, wanted)
            now = registry._now()
            session.set_logged_model_tags(wanted, labels, at=millis(now))
            target = f"logged-model/{wanted}"
            registry._audit(session, now, "tracking:logged-model:tag", None, target, keys=sorted(labels))
            return session.logged_models([wanted])[0]

    def log_model_metrics(
        self, model_id: str, metrics: Sequence[Metric], *, run_id: str | None = None
    ) -> None:
        """Record metrics against a logged model (MLflow's metrics that carry a ``model_id``); each key keeps
        its latest value, as a run's do."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_WRITE)
        wanted = run_checks.model_key(model_id)
        run = None if run_id is None else run_checks.run_key(run_id)
        if isinstance(metrics, str | bytes) or not isinstance(metrics, Sequence):
            raise InvalidInput("metrics must be a list")
        if len(metrics) > checks.MAX_METRICS_PER_BATCH:
            raise InvalidInput(f"too many metrics: {len(metrics)} (at most {checks.MAX_METRICS_PER_BATCH})")
        stored = [checks.check_metric(metric, f"metrics[{index}]") for index, metric in enumerate(metrics)]
        with registry.metadata.session(write=True) as session:
            _locked(session, wanted)
            now = registry._now()
            session.log_logged_model_metrics(wanted, stored, run_id=run, at=millis(now))
            target = f"logged-model/{wanted}"
            registry._audit(
                session, now, "tracking:logged-model:log", None, target, metrics=len(stored), run=run
            )

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        *,
        filter: str | None = None,
        order_by: Sequence[Any] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[LoggedModel]:
        """Logged models of these experiments matching ``filter`` (``logged_model_filter``), sorted by
        ``order_by`` then newest first; ``page_token`` continues a previous answer."""
        registry = _registry(self)
        registry.actor.require(Permission.TRACKING_READ)
        experiments = _experiment_ids(experiment_ids)
        conditions = parse_model_filter(filter)
        order = parse_model_order(order_by)
        limit = check_limit(max_results)
        query = ("search_logged_models", experiments, filter, [repr(key) for key in order])
        offset = decode_token(page_token, query)
        with registry.metadata.session() as session:
            ids = session.search_logged_models(experiments, conditions, order, limit=limit + 1, offset=offset)
            items = session.logged_models(ids[:limit])
        token = encode_token(offset + limit, query) if len(ids) > limit else None
        return Page(items=items, next_page_token=token)


def _registry(cases: LoggedModelCases) -> Registry:
    return cast("Registry", cases)


def _locked(session: MetadataSession, model_id: str) -> LoggedModel:
    if not session.lock_logged_model(model_id):
        raise LoggedModelNotFound(f"logged model {model_id!r} not found")
    return session.logged_models([model_id])[0]


def _experiment_ids(values: Any) -> list[int]:
    if isinstance(values, str | int):
        values = [values]
    if not isinstance(values, Sequence) or not values:
        raise InvalidInput("experiment_ids must be a non-empty list of experiment ids")
    if len(values) > 100:
        raise InvalidInput(f"too many experiment ids: {len(values)} (at most 100)")
    return sorted({checks.experiment_id(value) for value in values})

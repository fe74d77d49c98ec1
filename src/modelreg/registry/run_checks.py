"""Checks of run input (``registry.tracking``) and of run and logged model ids (``registry.logged_models``).

An id that is not of our shape cannot name anything stored, so it is reported as not found (what MLflow
answers for an unknown id); a value of the wrong type is ``InvalidInput``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from modelreg.errors import InvalidInput, LoggedModelNotFound, RunNotFound
from modelreg.metadata.tracking_protocol import StoredMetric
from modelreg.registry import tracking_checks as checks
from modelreg.types import RunInput

__all__ = ["RUN_NAME_TAG", "batch", "bounded", "datasets", "model_key", "output", "run_key", "run_name"]

RUN_NAME_TAG = "mlflow.runName"  # MLflow mirrors a run's name in this tag


def run_name(given: Any, tagged: str | None) -> str:
    """A run's name: the one given, else its ``mlflow.runName`` tag, else made up; both must agree."""
    name = None if given is None or given == "" else checks.check_text("run name", given, checks.MAX_RUN_NAME)
    if tagged is not None:
        checks.check_text(f"tag {RUN_NAME_TAG!r}", tagged, checks.MAX_RUN_NAME)
        if name is not None and name != tagged:
            raise InvalidInput(
                f"run name {name!r} and tag {RUN_NAME_TAG} {tagged!r} differ: give one, or the same in both"
            )
    return name or tagged or f"run-{secrets.token_hex(4)}"


def run_key(value: Any) -> str:
    wanted = checks.run_id(value)
    if wanted is None:
        raise RunNotFound(f"run {str(value)[:80]!r} not found")
    return wanted


def model_key(value: Any) -> str:
    wanted = checks.logged_model_id(value)
    if wanted is None:
        raise LoggedModelNotFound(f"logged model {str(value)[:80]!r} not found")
    return wanted


def bounded(what: str, items: Any) -> list[Any]:
    """A list of at most MLflow's batch size (1,000)."""
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
        raise InvalidInput(f"{what} must be a list")
    if len(items) > checks.MAX_ENTITIES_PER_BATCH:
        raise InvalidInput(f"too many {what}: {len(items)} (at most {checks.MAX_ENTITIES_PER_BATCH} at once)")
    return list(items)


def output(entry: Any) -> tuple[str, int]:
    """A (logged model id, step) pair."""
    if not isinstance(entry, tuple | list) or len(entry) != 2:
        raise InvalidInput("each output must be a (logged model id, step) pair")
    model, step = entry
    if isinstance(step, bool) or not isinstance(step, int) or not -(2**63) <= step < 2**63:
        raise InvalidInput(
            f"invalid step {str(step)[:40]!r} for output {str(model)[:80]!r}: expected an integer"
        )
    return model_key(model), step


def datasets(given: Any) -> list[RunInput]:
    """Checked, and once per (name, digest): the first wins, as in MLflow."""
    unique: dict[tuple[str, str], RunInput] = {}
    for index, dataset in enumerate(bounded("datasets", given)):
        checked = checks.check_run_input(dataset, f"datasets[{index}]")
        unique.setdefault((checked.name, checked.digest), checked)
    return list(unique.values())


def batch(metrics: Any, params: Any, tags: Any) -> tuple[list[StoredMetric], dict[str, str], dict[str, str]]:
    """A log_batch's input, checked with MLflow's limits."""
    items = bounded("metrics", metrics)
    if len(items) > checks.MAX_METRICS_PER_BATCH:
        raise InvalidInput(
            f"too many metrics: {len(items)} (at most {checks.MAX_METRICS_PER_BATCH} per batch)"
        )
    stored = [checks.check_metric(metric, f"metrics[{index}]") for index, metric in enumerate(items)]
    limit = checks.MAX_PARAMS_TAGS_PER_BATCH
    entries = checks.check_entries("param", params, max_value=checks.MAX_PARAM_VALUE, max_entries=limit)
    labels = checks.check_entries("tag", tags, max_value=checks.MAX_TAG_VALUE, max_entries=limit)
    if RUN_NAME_TAG in labels:
        run_name(labels[RUN_NAME_TAG], None)
    total = len(stored) + len(entries) + len(labels)
    if total > checks.MAX_ENTITIES_PER_BATCH:
        raise InvalidInput(f"too many entries: {total} metrics, params and tags (at most 1000 per batch)")
    return stored, entries, labels

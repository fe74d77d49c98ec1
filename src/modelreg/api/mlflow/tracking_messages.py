"""Our tracking types as MLflow's protobuf messages render them in JSON (``message_to_json``).

Rules, checked against MLflow 3.17.2's server: snake_case field names; int64 timestamps as JSON numbers in
milliseconds; enums by name; unset optional fields omitted, set-but-empty ones kept; repeated fields omitted
when empty; a double that is not finite as proto JSON spells it ("NaN", "Infinity"). A few observed quirks
are kept because MLflow's own client or UI reads them: a run's ``info`` repeats ``run_id`` as the deprecated
``run_uuid``, a run's name is also its ``mlflow.runName`` tag, a logged model without a type or source run
shows ``""`` for them (MLflow stores the proto's empty default), and a file of 0 bytes has no ``file_size``
(MLflow's ``FileInfo.to_proto`` tests the size for truth).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from modelreg.errors import InvalidInput
from modelreg.types import Experiment, LoggedModel, Metric, Run, RunInput

__all__ = [
    "RUN_STATUSES",
    "experiment",
    "file_info",
    "logged_model",
    "logged_model_status",
    "metric",
    "run",
    "run_info",
    "run_status",
]

RUN_NAME_TAG = "mlflow.runName"
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")  # proto enum RunStatus, numbered 1…5

# LoggedModelStatus (proto enum, numbered 0…3) ⇄ the registry's status names.
_LOGGED_MODEL_STATUSES = {
    "LOGGED_MODEL_PENDING": "PENDING",
    "LOGGED_MODEL_READY": "READY",
    "LOGGED_MODEL_UPLOAD_FAILED": "FAILED",
}
_LOGGED_MODEL_NUMBERS = {1: "LOGGED_MODEL_PENDING", 2: "LOGGED_MODEL_READY", 3: "LOGGED_MODEL_UPLOAD_FAILED"}
_MLFLOW_LOGGED_MODEL_STATUS = {ours: theirs for theirs, ours in _LOGGED_MODEL_STATUSES.items()}

# With workspaces off, MLflow's server names every experiment's workspace "default".
_WORKSPACE = "default"


def experiment(value: Experiment) -> dict[str, Any]:
    body: dict[str, Any] = {
        "experiment_id": value.experiment_id,
        "name": value.name,
        "artifact_location": value.artifact_location,
        "lifecycle_stage": value.lifecycle_stage,
        "last_update_time": value.last_update_time,
        "creation_time": value.creation_time,
    }
    _put_list(body, "tags", _pairs(value.tags))
    body["workspace"] = _WORKSPACE
    return body


def run(value: Run, *, outputs: bool = True) -> dict[str, Any]:
    """``Run``: info, data, inputs (always present) and outputs (absent only in ``runs/create``'s answer,
    as MLflow's server renders a run it has just created)."""
    data: dict[str, Any] = {}
    _put_list(data, "metrics", [metric(item) for item in value.metrics])
    _put_list(data, "params", _pairs(value.params))
    _put_list(data, "tags", _pairs(_run_tags(value)))
    inputs: dict[str, Any] = {}
    _put_list(inputs, "dataset_inputs", [_dataset_input(item) for item in value.inputs])
    _put_list(inputs, "model_inputs", [{"model_id": model_id} for model_id in value.model_inputs])
    body: dict[str, Any] = {"info": run_info(value), "data": data, "inputs": inputs}
    if outputs:
        produced: dict[str, Any] = {}
        _put_list(produced, "model_outputs", [{"model_id": m, "step": s} for m, s in value.outputs])
        body["outputs"] = produced
    return body


def run_info(value: Run) -> dict[str, Any]:
    body: dict[str, Any] = {
        "run_id": value.run_id,
        "run_uuid": value.run_id,  # deprecated alias, still sent by MLflow's server and read by old clients
        "run_name": value.run_name,
        "experiment_id": value.experiment_id,
        "user_id": value.user_id,
        "status": value.status,
    }
    _put(body, "start_time", value.start_time)
    _put(body, "end_time", value.end_time)
    body["artifact_uri"] = value.artifact_uri
    body["lifecycle_stage"] = value.lifecycle_stage
    return body


def logged_model(value: LoggedModel) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": value.model_id,
        "experiment_id": value.experiment_id,
        "name": value.name,
        "creation_timestamp_ms": value.creation_timestamp,
        "last_updated_timestamp_ms": value.last_updated_timestamp,
        "artifact_uri": value.artifact_location,
        "status": _MLFLOW_LOGGED_MODEL_STATUS.get(value.status, value.status),
        "model_type": value.model_type or "",
        "source_run_id": value.source_run_id or "",
    }
    _put(info, "status_message", value.status_message)
    _put_list(info, "tags", _pairs(value.tags))
    data: dict[str, Any] = {}
    _put_list(data, "params", _pairs(value.params))
    _put_list(data, "metrics", [metric(item) for item in value.metrics])
    return {"info": info, "data": data}


def metric(value: Metric) -> dict[str, Any]:
    return {"key": value.key, "value": _double(value.value), "timestamp": value.timestamp, "step": value.step}


def file_info(path: str, *, is_dir: bool, size: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"path": path, "is_dir": is_dir}
    if size:  # MLflow omits 0 as well as unknown
        body["file_size"] = size
    return body


def run_status(value: Any, *, parameter: str = "status") -> str:
    """A RunStatus given by name or by number (protobuf's JSON parser accepts both)."""
    if isinstance(value, str) and value in RUN_STATUSES:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= len(RUN_STATUSES):
        return RUN_STATUSES[value - 1]
    raise InvalidInput(
        f"Invalid value {str(value)[:100]!r} for parameter '{parameter}' supplied: expected one of "
        f"{', '.join(RUN_STATUSES)}.",
        details={"parameter": parameter},
    )


def logged_model_status(value: Any) -> str:
    """The registry's name for a LoggedModelStatus given by name or number (UNSPECIFIED is refused)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = _LOGGED_MODEL_NUMBERS.get(value, value)
    if isinstance(value, str) and value in _LOGGED_MODEL_STATUSES:
        return _LOGGED_MODEL_STATUSES[value]
    raise InvalidInput(
        f"Invalid value {str(value)[:100]!r} for parameter 'status' supplied: expected one of "
        f"{', '.join(_LOGGED_MODEL_STATUSES)}.",
        details={"parameter": "status"},
    )


def _run_tags(value: Run) -> dict[str, str]:
    """The run's tags with ``mlflow.runName`` naming it, as MLflow's store keeps them in step."""
    if not value.run_name or value.tags.get(RUN_NAME_TAG) == value.run_name:
        return value.tags
    return {**value.tags, RUN_NAME_TAG: value.run_name}


def _dataset_input(value: RunInput) -> dict[str, Any]:
    dataset: dict[str, Any] = {
        "name": value.name,
        "digest": value.digest,
        "source_type": value.source_type,
        "source": value.source,
    }
    _put(dataset, "schema", value.schema)
    _put(dataset, "profile", value.profile)
    body: dict[str, Any] = {}
    _put_list(body, "tags", _pairs(value.tags))
    body["dataset"] = dataset
    return body


def _pairs(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in values.items()]


def _double(value: float) -> float | str:
    """A double in proto JSON: non-finite values are strings (plain JSON has no NaN)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


def _put_list(body: dict[str, Any], key: str, values: Iterable[Any]) -> None:
    items = list(values)
    if items:
        body[key] = items

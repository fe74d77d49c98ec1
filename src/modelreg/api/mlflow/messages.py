"""Our models and versions as MLflow's ``RegisteredModel`` and ``ModelVersion`` messages render in JSON.

Checked field by field against what MLflow 3.17.2's ``mlflow server`` answers (its entities' ``to_proto``):
snake_case names; ``version`` a string; timestamps int milliseconds; ``status`` READY (a version exists
here only once fully committed); unset fields and empty lists omitted, set-but-empty strings kept (a
version's ``description``, ``run_id`` and ``run_link`` are ``""`` when not given, as MLflow stores the
proto's defaults); a registered model's ``description`` only when non-empty (its ``to_proto`` tests it for
truth). Stages: none ⇄ "None", staging ⇄ "Staging", production ⇄ "Production", archived ⇄ "Archived".

MLflow-only fields of a version created through MLflow live in version tags with reserved keys
(``modelreg.mlflow.source``, ``.run_link``, ``.model_id``): shown as the fields, hidden from ``tags``. A
version pushed natively has no such tags; its ``source`` is its download URI, which MLflow's client can
read (``mlflow-artifacts:/registry/<name>/<N>``, served by the artifact routes).

Where MLflow leaves ``aliases`` empty, so do we: in ``latest_versions`` and in search results (its store
fills a version's aliases only when it reads that one version).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from modelreg.errors import InvalidInput
from modelreg.types import STAGES, Model, ModelVersion, Stage

__all__ = [
    "MLFLOW_STAGES",
    "MODEL_ID_TAG",
    "RESERVED_TAG_PREFIX",
    "RUN_LINK_TAG",
    "SOURCE_TAG",
    "download_uri",
    "millis",
    "model_version",
    "registered_model",
    "stage_of",
]

RESERVED_TAG_PREFIX = "modelreg.mlflow."
SOURCE_TAG = RESERVED_TAG_PREFIX + "source"
RUN_LINK_TAG = RESERVED_TAG_PREFIX + "run_link"
MODEL_ID_TAG = RESERVED_TAG_PREFIX + "model_id"

MLFLOW_STAGES: dict[Stage, str] = {
    "none": "None",
    "staging": "Staging",
    "production": "Production",
    "archived": "Archived",
}
_OURS = {mlflow.lower(): ours for ours, mlflow in MLFLOW_STAGES.items()}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def stage_of(text: str) -> Stage:
    """Our stage for MLflow's name of one (case-insensitive, as MLflow's ``get_canonical_stage``)."""
    stage = _OURS.get(text.lower())
    if stage is None:
        raise InvalidInput(
            f"Invalid Model Version stage: {text[:60]}. Value must be one of "
            f"{', '.join(MLFLOW_STAGES[s] for s in STAGES)}.",
            details={"parameter": "stage"},
        )
    return stage


def millis(moment: datetime) -> int:
    """Milliseconds since the epoch, truncated as MLflow's ``get_current_time_millis`` is (exact integers,
    no float rounding)."""
    return (moment - _EPOCH) // _MILLISECOND


def download_uri(name: str, number: int) -> str:
    """Where MLflow's client downloads a version's files: our artifact routes serve the version's manifest."""
    return f"mlflow-artifacts:/registry/{name}/{number}"


def model_version(version: ModelVersion, *, aliases: bool = True) -> dict[str, Any]:
    """A ``ModelVersion`` message; ``aliases=False`` where MLflow leaves them out (see the module docs)."""
    tags = version.tags
    body: dict[str, Any] = {
        "name": version.name,
        "version": str(version.version),
        "creation_timestamp": millis(version.created_at),
        "last_updated_timestamp": millis(version.updated_at),
        "user_id": version.created_by,
        "current_stage": MLFLOW_STAGES[version.stage],
        "description": version.description,
        "source": tags.get(SOURCE_TAG) or download_uri(version.name, version.version),
        "run_id": version.lineage.run_id or "",
        "status": "READY",
    }
    if version.purged:
        body["status_message"] = "the version's files were purged: its metadata remains, its files are gone"
    _put(body, "tags", _pairs(tags))
    body["run_link"] = tags.get(RUN_LINK_TAG, "")
    if aliases:
        _put(body, "aliases", sorted(version.aliases))
    if tags.get(MODEL_ID_TAG):
        body["model_id"] = tags[MODEL_ID_TAG]
    return body


def registered_model(model: Model, latest: Iterable[ModelVersion] = ()) -> dict[str, Any]:
    """A ``RegisteredModel`` message; ``latest``: the newest live version of each stage (any order)."""
    body: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": millis(model.created_at),
        "last_updated_timestamp": millis(model.updated_at),
    }
    if model.description:
        body["description"] = model.description
    newest = sorted(latest, key=lambda version: version.version)
    _put(body, "latest_versions", [model_version(version, aliases=False) for version in newest])
    _put(body, "tags", _pairs(model.tags))
    pointers = sorted(model.aliases.items())
    _put(body, "aliases", [{"alias": alias, "version": str(number)} for alias, number in pointers])
    return body


def _pairs(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags as MLflow's ``{key, value}`` list, without our reserved keys."""
    return [
        {"key": key, "value": value} for key, value in tags.items() if not key.startswith(RESERVED_TAG_PREFIX)
    ]


def _put(body: dict[str, Any], name: str, values: list[Any]) -> None:
    """A repeated field: omitted when empty, as protobuf's JSON printer does."""
    if values:
        body[name] = values

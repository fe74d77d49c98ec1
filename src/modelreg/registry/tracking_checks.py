"""Validation of MLflow tracking input, with MLflow's own limits (``mlflow/utils/validation.py``).

Every check raises an ``InvalidInput`` subclass naming the field and the rule, before anything is stored.
On top of MLflow's rules: text may not hold NUL or lone surrogates (PostgreSQL and the drivers refuse them,
which would surface as a 500), and integers must fit in 64 bits.
"""

from __future__ import annotations

import math
import posixpath
import re
import sys
from collections.abc import Mapping
from typing import Any

from modelreg.errors import InvalidInput, InvalidMetadata
from modelreg.metadata.tracking_protocol import StoredMetric
from modelreg.types import Metric, RunInput

__all__ = [
    "MAX_ENTITIES_PER_BATCH",
    "MAX_METRICS_PER_BATCH",
    "MAX_PARAMS_TAGS_PER_BATCH",
    "MAX_PARAM_VALUE",
    "MAX_TAG_VALUE",
    "RUN_STATUSES",
    "check_entries",
    "check_experiment_name",
    "check_metric",
    "check_millis",
    "check_model_status",
    "check_run_input",
    "check_run_status",
    "check_text",
    "experiment_id",
    "logged_model_id",
    "model_status",
    "run_id",
]

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_ENTRIES = 1000  # tags or params given at creation (MLflow sets no number; a request must stay bounded)
MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_EXPERIMENT_NAME = 500
MAX_EXPERIMENT_TAG_VALUE = 20000
MAX_RUN_NAME = 250
MAX_NAME = 500  # logged model names and types
_DATASET_LIMITS = {"name": 500, "digest": 36, "source_type": 64, "source": 65535}
_DATASET_DOCUMENTS = {"schema": 1048575, "profile": 16777215}
_INPUT_TAG_KEY, _INPUT_TAG_VALUE = 255, 500

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
# MLflow's LoggedModelStatus names, and its proto's enum names, to ours.
_MODEL_STATUSES = {
    "PENDING": "PENDING",
    "READY": "READY",
    "FAILED": "FAILED",
    "LOGGED_MODEL_PENDING": "PENDING",
    "LOGGED_MODEL_READY": "READY",
    "LOGGED_MODEL_UPLOAD_FAILED": "FAILED",
}
_KEY = re.compile(r"[/\w.\- :]+")  # MLflow's metric, param and tag names
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,17}")  # canonical, and below 2**63
_RUN_ID = re.compile(r"[0-9a-f]{32}")
_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
_INT64 = 2**63
_LOGGED_MODEL_NAME_FORBIDS = ("/", ":", ".", "%", '"', "'")


def check_text(what: str, value: Any, limit: int, *, empty_ok: bool = True) -> str:
    """A string of at most ``limit`` characters, storable by every database."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    if not value and not empty_ok:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters long; at most {limit} are allowed")
    if "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value):
        raise InvalidInput(f"{what} holds NUL or an unpaired surrogate character")
    return value


def _check_key(kind: str, key: Any) -> str:
    """MLflow's rule for metric, param and tag names: letters, digits, '_', '-', '.', ' ', ':', '/', and no
    name that a file system would read as another one ('a/../b', '/a', '.')."""
    if not isinstance(key, str) or not _KEY.fullmatch(key) or len(key) > MAX_KEY:
        raise InvalidMetadata(
            f"invalid {kind} name {str(key)[:300]!r}: use 1-{MAX_KEY} letters, digits, '_', '-', '.', "
            "' ', ':' or '/'"
        )
    normal = posixpath.normpath(key)
    if normal != key or normal == "." or normal.startswith(("..", "/")):
        raise InvalidMetadata(f"invalid {kind} name {key[:300]!r}: it would resolve to {normal!r} as a path")
    return key


def check_entries(
    kind: str, values: Any, *, max_value: int, max_entries: int = MAX_ENTRIES
) -> dict[str, str]:
    """Tags or params: a mapping of valid names to strings of at most ``max_value`` characters."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidMetadata(f"{kind}s must be a mapping of strings, got {type(values).__name__}")
    if len(values) > max_entries:
        raise InvalidMetadata(f"too many {kind}s: {len(values)} (at most {max_entries} at once)")
    return {
        _check_key(kind, key): check_text(f"{kind} {key!r}", value, max_value)
        for key, value in values.items()
    }


def check_millis(what: str, value: Any) -> int:
    """A time in milliseconds since the epoch (MLflow's unit): a non-negative 64-bit integer."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _INT64:
        raise InvalidInput(f"invalid {what} {str(value)[:40]!r}: expected milliseconds since the epoch")
    return value


def check_metric(metric: Any, where: str) -> StoredMetric:
    """A metric as stored. NaN is kept (as a flag: SQLite cannot store it); ±infinity becomes the largest
    finite double, as MLflow stores it."""
    if not isinstance(metric, Metric):
        raise InvalidInput(f"{where} must be a Metric, got {type(metric).__name__}")
    key = _check_key("metric", metric.key)
    value = metric.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidMetadata(f"{where} ({key!r}) must be a number, got {type(value).__name__}")
    step = metric.step
    if isinstance(step, bool) or not isinstance(step, int) or not -_INT64 <= step < _INT64:
        raise InvalidMetadata(f"{where} ({key!r}): step must be a 64-bit integer, got {str(step)[:40]!r}")
    timestamp = check_millis(f"{where} ({key!r}) timestamp", metric.timestamp)
    number = float(value)
    if math.isnan(number):
        return StoredMetric(key, 0.0, True, timestamp, step)
    if math.isinf(number):
        number = math.copysign(sys.float_info.max, number)
    return StoredMetric(key, number, False, timestamp, step)


def experiment_id(value: Any) -> int:
    """An experiment id: a canonical decimal string (an int is accepted too)."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        raise InvalidInput(
            f"invalid experiment id {str(value)[:40]!r}: expected a decimal number such as '0'"
        )
    return int(text)


def run_id(value: Any) -> str | None:
    """A run id as given, or None when it cannot name a run of ours (32 lowercase hex characters)."""
    if not isinstance(value, str):
        raise InvalidInput(f"invalid run id: expected a string, got {type(value).__name__}")
    return value if _RUN_ID.fullmatch(value) else None


def logged_model_id(value: Any) -> str | None:
    """A logged model id as given, or None when it cannot name one of ours ('m-' and 32 hex characters)."""
    if not isinstance(value, str):
        raise InvalidInput(f"invalid logged model id: expected a string, got {type(value).__name__}")
    return value if _MODEL_ID.fullmatch(value) else None


def check_experiment_name(name: Any) -> str:
    return check_text("experiment name", name, MAX_EXPERIMENT_NAME, empty_ok=False)


def check_logged_model_name(name: Any) -> str:
    text = check_text("logged model name", name, MAX_NAME, empty_ok=False)
    if any(char in text for char in _LOGGED_MODEL_NAME_FORBIDS):
        raise InvalidInput(
            f"invalid logged model name {text[:200]!r}: it cannot hold any of "
            f"{' '.join(_LOGGED_MODEL_NAME_FORBIDS)}"
        )
    return text


def check_run_status(value: Any) -> str:
    if value not in RUN_STATUSES:
        raise InvalidInput(
            f"invalid run status {str(value)[:40]!r}: expected one of {', '.join(RUN_STATUSES)}"
        )
    return str(value)


def model_status(value: str) -> str:
    """PENDING, READY or FAILED from MLflow's names or its proto's (``LOGGED_MODEL_UPLOAD_FAILED``);
    raises ``ValueError``."""
    status = _MODEL_STATUSES.get(value.upper()) if isinstance(value, str) else None
    if status is None:
        raise ValueError(
            f"invalid logged model status {str(value)[:40]!r}: expected PENDING, READY or FAILED"
        )
    return status


def check_model_status(value: Any) -> str:
    try:
        return model_status(value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def check_run_input(dataset: Any, where: str) -> RunInput:
    """A dataset input with MLflow's size limits (name 500, digest 36, source 64 KiB, schema 1 MiB, profile
    16 MiB characters; input tags 255 / 500)."""
    if not isinstance(dataset, RunInput):
        raise InvalidInput(f"{where} must be a RunInput, got {type(dataset).__name__}")
    text = {
        name: check_text(f"{where}.{name}", getattr(dataset, name), limit, empty_ok=name != "name")
        for name, limit in _DATASET_LIMITS.items()
    }
    documents = {
        name: None
        if getattr(dataset, name) is None
        else check_text(f"{where}.{name}", getattr(dataset, name), limit)
        for name, limit in _DATASET_DOCUMENTS.items()
    }
    if not isinstance(dataset.tags, Mapping):
        raise InvalidInput(f"{where}.tags must be a mapping of strings")
    tags = {
        check_text(f"{where} tag key", key, _INPUT_TAG_KEY, empty_ok=False): check_text(
            f"{where} tag {key!r}", value, _INPUT_TAG_VALUE
        )
        for key, value in dataset.tags.items()
    }
    return RunInput(
        name=text["name"],
        digest=text["digest"],
        source_type=text["source_type"],
        source=text["source"],
        schema=documents["schema"],
        profile=documents["profile"],
        tags=tags,
    )

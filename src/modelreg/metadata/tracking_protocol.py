"""The metadata session's tracking and artifact methods (part of ``MetadataSession``).

Ids are MLflow's: experiments are integers (shown as decimal strings), runs 32 hex characters, logged models
``m-`` and 32 hex. Times are int milliseconds, except artifacts' ``at`` (an aware datetime, as elsewhere).
Every method takes validated input (``registry.tracking_checks``); writes assume the caller holds the row's
lock where it says so. Reads assemble whole results in a constant number of queries, whatever their count.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from modelreg.types import ArtifactEntry, Experiment, LoggedModel, Metric, Run, RunInput

if TYPE_CHECKING:
    from modelreg.metadata.protocol import NewFile
    from modelreg.registry.logged_model_filter import ModelFilter, ModelOrder

__all__ = ["NewLoggedModel", "NewRun", "RunState", "StoredArtifact", "StoredMetric", "TrackingSession"]


@dataclass(frozen=True, slots=True)
class StoredMetric:
    """A metric as stored: NaN as ``value`` 0 with ``is_nan`` (SQLite cannot hold NaN), infinities clamped."""

    key: str
    value: float
    is_nan: bool
    timestamp: int
    step: int

    @property
    def rank(self) -> tuple[int, int, float]:
        """What makes a value the latest of its key: the highest step, then timestamp, then value."""
        return (self.step, self.timestamp, self.value)


@dataclass(frozen=True, slots=True)
class NewRun:
    run_id: str
    experiment_id: int
    name: str
    user_id: str
    start_time: int | None
    artifact_uri: str
    tags: Mapping[str, str]
    actor: str


@dataclass(frozen=True, slots=True)
class RunState:
    """The columns a write to a run decides on (read under the run's row lock)."""

    run_id: str
    experiment_id: int
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class NewLoggedModel:
    model_id: str
    experiment_id: int
    name: str
    artifact_location: str
    model_type: str | None
    source_run_id: str | None
    params: Mapping[str, str]
    tags: Mapping[str, str]
    at: int
    actor: str


@dataclass(frozen=True, slots=True)
class StoredArtifact:
    """An artifact's row and its content's chunk list (canonical JSON ``[[digest, size], …]``)."""

    entry: ArtifactEntry
    chunks_json: str


class TrackingSession(Protocol):
    """MLflow experiments, runs, logged models and artifacts. Methods raise only modelreg errors."""

    # Experiments ---------------------------------------------------------------------------------------
    def insert_experiment(
        self, name: str, *, location: str | None, tags: Mapping[str, str], at: int, actor: str
    ) -> int | None:
        """Create an experiment (race-safe on the unique name); its id, or None when the name is taken.
        ``location`` None: ``mlflow-artifacts:/<id>``."""
        ...

    def experiment(self, experiment_id: int) -> Experiment | None: ...
    def experiment_by_name(self, name: str) -> Experiment | None: ...

    # Runs ----------------------------------------------------------------------------------------------
    def insert_run(self, run: NewRun, *, at: int) -> None: ...
    def runs(self, run_ids: Sequence[str]) -> list[Run]:
        """Whole runs in the given order (unknown ids left out), in a constant number of queries."""
        ...

    def lock_run(self, run_id: str) -> RunState | None:
        """The run's row, write-locked until the session ends (serialises writers of one run)."""
        ...

    def update_run(self, run_id: str, *, status: str | None, end_time: int | None, name: str | None) -> None:
        """Change the given columns; a new name also becomes the ``mlflow.runName`` tag."""
        ...

    def run_params(self, run_id: str, keys: Collection[str]) -> dict[str, str]:
        """Of these param keys, those the run has, with their values."""
        ...

    def log_run(
        self,
        run_id: str,
        *,
        metrics: Sequence[StoredMetric],
        params: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> None:
        """Append every metric to the history and keep each key's latest; insert the (new) params; set the
        tags (``mlflow.runName`` renames the run). A constant number of statements."""
        ...

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every value logged for the run's metric, by step, then timestamp."""
        ...

    def add_run_datasets(self, run_id: str, datasets: Sequence[RunInput]) -> None:
        """Record dataset inputs; one already recorded (same name and digest) is left as it is."""
        ...

    def add_run_models(self, run_id: str, direction: str, models: Sequence[tuple[str, int]]) -> None:
        """Link logged models to the run as 'input' or 'output' at a step; existing links are kept."""
        ...

    # Logged models -------------------------------------------------------------------------------------
    def insert_logged_model(self, model: NewLoggedModel) -> None: ...
    def logged_models(self, model_ids: Sequence[str]) -> list[LoggedModel]:
        """Whole logged models in the given order (unknown ids left out), in a constant number of queries."""
        ...

    def lock_logged_model(self, model_id: str) -> bool:
        """Write-lock the logged model's row until the session ends; False when there is none."""
        ...

    def existing_logged_models(self, model_ids: Collection[str]) -> set[str]: ...
    def finalize_logged_model(self, model_id: str, status: str, *, at: int) -> None: ...
    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str], *, at: int) -> None: ...
    def log_logged_model_metrics(
        self, model_id: str, metrics: Sequence[StoredMetric], *, run_id: str | None, at: int
    ) -> None:
        """Keep each key's latest value (as ``log_run`` does for a run)."""
        ...

    def search_logged_models(
        self,
        experiment_ids: Sequence[int],
        conditions: ModelFilter,
        order: ModelOrder,
        *,
        limit: int,
        offset: int,
    ) -> list[str]:
        """Ids of the matching logged models, in order, one page."""
        ...

    # Artifacts -----------------------------------------------------------------------------------------
    def artifact(self, path: str) -> StoredArtifact | None: ...
    def artifact_clash(self, path: str) -> str | None:
        """A stored artifact that ``path`` cannot coexist with: one at a directory of ``path`` (a file
        cannot also be a directory), or one under ``path`` as a directory. None when there is none."""
        ...

    def put_artifact(self, path: str, content: NewFile, *, at: datetime, actor: str) -> str | None:
        """Record the file's content (if new) and point ``path`` at it; the previous digest, if any."""
        ...

    def list_artifacts(self, prefix: str) -> list[ArtifactEntry]:
        """The files and directories one level under the directory ``prefix`` ('' for the root), by path."""
        ...

    def artifact_files(self, prefix: str) -> list[StoredArtifact]:
        """Every file under the directory ``prefix``, by path (one query)."""
        ...

    def delete_artifacts(self, path: str) -> list[str]:
        """Delete the file ``path``, or every file under it as a directory; the paths deleted."""
        ...

"""The source side of an import: an MLflow registry read through MLflow's own client, nothing else.

Any tracking URI MLflow's client takes works: ``http(s)://host:5000`` (a tracking server),
``sqlite:///mlflow.db`` or ``postgresql://…`` (its backend store, read directly). A version's files are
fetched through MLflow's artifact API from its download URI. A server started with ``--serve-artifacts``
records ``mlflow-artifacts:/…`` URIs, which only an HTTP tracking URI can resolve; read through its
database instead, they are resolved against ``artifact_root``: the server's ``--artifacts-destination``.

MLflow is imported lazily (``modelreg[mlflow-compat]``): nothing else in modelreg needs it.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import httpx

from modelreg.errors import (
    ArtifactNotFound,
    InvalidInput,
    ModelNotFound,
    NotFound,
    RunNotFound,
    StorageUnavailable,
)
from modelreg.types import Stage

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["MlflowSource", "SourceModel", "SourceVersion", "load_mlflow"]

_PAGE = 1000  # search_registered_models' largest page on MLflow's SQL store
_VERSION_PAGE = 10_000
_STAGES: dict[str, Stage] = {
    "none": "none",
    "staging": "staging",
    "production": "production",
    "archived": "archived",
}
_INSTALL = "pip install 'modelreg[mlflow-compat]'"
_PROBE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class SourceVersion:
    """One live MLflow model version (MLflow's API never shows deleted ones: their numbers stay gaps)."""

    number: int
    stage: Stage
    description: str
    tags: dict[str, str]
    source: str
    run_id: str | None
    run_link: str | None
    model_id: str | None
    status: str  # READY, PENDING_REGISTRATION, FAILED_REGISTRATION


@dataclass(frozen=True, slots=True)
class SourceModel:
    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]
    versions: tuple[SourceVersion, ...]  # ascending numbers


@dataclass(frozen=True, slots=True)
class RunFacts:
    """A run's latest metric values and its params; metrics that are not finite numbers are set aside
    (a modelreg metric must be finite), listed in ``dropped`` for the report."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()


def load_mlflow() -> Any:
    """The ``mlflow`` module, or a clear error naming the extra that provides it."""
    try:
        import mlflow  # noqa: PLC0415  # optional dependency, loaded only by an import
    except ModuleNotFoundError as error:
        if error.name != "mlflow":
            raise
        raise InvalidInput(f"importing from MLflow needs MLflow's client: {_INSTALL}") from None
    return mlflow


class MlflowSource:
    """Reads one MLflow registry: ``uri`` is a tracking URI; ``artifact_root`` resolves
    ``mlflow-artifacts:`` URIs when ``uri`` is a database."""

    def __init__(self, uri: str, *, artifact_root: str | None = None) -> None:
        _check_uri(uri)
        mlflow = load_mlflow()
        _check_reachable(uri)
        self.uri = uri
        self.artifact_root = artifact_root
        self._client: MlflowClient = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        self._runs: dict[str, RunFacts] = {}

    def models(self, names: list[str] | None = None) -> list[SourceModel]:
        """Every registered model (or those named), each with its live versions in number order."""
        with _translated():
            listed = [self._client.get_registered_model(name) for name in names] if names else self._all()
            return [self._model(entity) for entity in listed]

    def run_facts(self, run_id: str | None) -> RunFacts:
        """The run's metrics and params (several versions often share a run: read once)."""
        if not run_id:
            return RunFacts()
        if run_id not in self._runs:
            self._runs[run_id] = self._read_run(run_id)
        return self._runs[run_id]

    def fetch(self, version: SourceVersion, name: str, scratch: Path) -> Path:
        """A local path holding the version's files: the artifact store's own directory when it is local
        (read in place, nothing copied), else a download into ``scratch`` through MLflow's artifact API
        (the caller removes ``scratch``)."""
        mlflow = load_mlflow()
        with _translated():
            uri = self._resolve(self._client.get_model_version_download_uri(name, str(version.number)))
            local = _local_path(uri)
            if local is None:
                scratch.mkdir(parents=True, exist_ok=True)
                local = Path(
                    mlflow.artifacts.download_artifacts(
                        artifact_uri=uri, dst_path=str(scratch), tracking_uri=self.uri
                    )
                )
        if not local.exists():
            raise ArtifactNotFound(f"{name}/{version.number}: its files are not at {local} (from {uri})")
        return local

    # Reading ----------------------------------------------------------------------------------------------
    def _all(self) -> list[Any]:
        found: list[Any] = []
        token: str | None = None
        while True:
            page = self._client.search_registered_models(max_results=_PAGE, page_token=token)
            found.extend(page)
            token = page.token
            if not token:
                return found

    def _model(self, entity: Any) -> SourceModel:
        versions: list[SourceVersion] = []
        token: str | None = None
        while True:
            page = self._client.search_model_versions(
                f"name = '{_quoted(entity.name)}'", max_results=_VERSION_PAGE, page_token=token
            )
            versions.extend(_version(item) for item in page)
            token = page.token
            if not token:
                break
        return SourceModel(
            name=entity.name,
            description=entity.description or "",
            tags=dict(entity.tags or {}),
            aliases={alias: int(number) for alias, number in (entity.aliases or {}).items()},
            versions=tuple(sorted(versions, key=lambda version: version.number)),
        )

    def _read_run(self, run_id: str) -> RunFacts:
        try:
            with _translated(not_found=RunNotFound):
                run = self._client.get_run(run_id)
        except RunNotFound:
            return RunFacts()  # a run deleted for good: the version keeps its run id, without metrics
        metrics = {key: float(value) for key, value in run.data.metrics.items()}
        finite = {key: value for key, value in metrics.items() if math.isfinite(value)}
        dropped = tuple(sorted(metrics.keys() - finite.keys()))
        return RunFacts(metrics=finite, params=dict(run.data.params), dropped=dropped)

    def _resolve(self, uri: str) -> str:
        """``mlflow-artifacts:/1/…`` → ``<artifact_root>/1/…`` when an artifact root was given; without
        one only a tracking server can resolve it."""
        if not uri.startswith("mlflow-artifacts:"):
            return uri
        if self.artifact_root is not None:
            return os.path.join(self.artifact_root, urlparse(uri).path.lstrip("/"))
        if not self.uri.startswith(("http://", "https://")):
            raise InvalidInput(
                f"{uri} is served by an MLflow tracking server: import from the server's URL, or give "
                "the directory behind it (its --artifacts-destination) as the artifact root"
            )
        return uri


def _version(entity: Any) -> SourceVersion:
    stage = _STAGES.get((entity.current_stage or "None").lower())
    if stage is None:
        raise InvalidInput(f"{entity.name}/{entity.version}: unknown MLflow stage {entity.current_stage!r}")
    return SourceVersion(
        number=int(entity.version),
        stage=stage,
        description=entity.description or "",
        tags=dict(entity.tags or {}),
        source=entity.source or "",
        run_id=entity.run_id or None,
        run_link=entity.run_link or None,
        model_id=getattr(entity, "model_id", None) or None,
        status=str(entity.status or "READY"),
    )


def _quoted(name: str) -> str:
    """A name inside MLflow's single-quoted filter string literal."""
    return name.replace("\\", "\\\\").replace("'", "\\'")


def _check_uri(uri: str) -> None:
    """Refuse what MLflow's client would silently turn into something else (a typo'd SQLite path becomes
    a new, empty database; a bare path a new file store)."""
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https"):
        if not parsed.netloc:
            raise InvalidInput(f"invalid MLflow tracking URI {uri!r}: no host")
        return
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)[1:]  # sqlite:///relative.db, sqlite:////absolute.db (SQLAlchemy's form)
        if path not in ("", ":memory:") and not Path(path).is_file():
            raise InvalidInput(f"no MLflow database at {path!r} (from {uri!r})")
        return
    if parsed.scheme.split("+")[0] in ("postgresql", "mysql", "mssql"):
        return
    raise InvalidInput(
        f"unsupported MLflow tracking URI {uri!r}: use http(s)://host:port or a database URL "
        "(sqlite:///mlflow.db, postgresql://…)"
    )


def _check_reachable(uri: str) -> None:
    """Fail at once on a server that does not answer: MLflow's client would retry for minutes (7 retries,
    exponential backoff) before giving up. Any HTTP answer will do; authentication is the client's affair."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        httpx.get(uri.rstrip("/") + "/health", timeout=_PROBE_SECONDS)
    except httpx.TransportError as error:
        raise StorageUnavailable(f"the MLflow server at {uri} does not answer: {error}") from None


def _local_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and uri.startswith("/"):
        return Path(uri)
    return None


@contextlib.contextmanager
def _translated(*, not_found: type[NotFound] = ModelNotFound) -> Iterator[None]:
    """MLflow's exceptions as ours, so the CLI prints one line with a stable code."""
    mlflow = load_mlflow()
    try:
        yield
    except mlflow.exceptions.MlflowException as error:
        code = getattr(error, "error_code", "")
        message = f"MLflow source: {error.message}"
        if code == "RESOURCE_DOES_NOT_EXIST":
            raise not_found(message) from None
        if code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST"):
            raise InvalidInput(message) from None
        raise StorageUnavailable(message) from None

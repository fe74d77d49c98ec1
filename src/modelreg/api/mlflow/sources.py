"""Where an MLflow ``model-versions/create`` takes its files from: the request's ``source``, resolved.

MLflow's server records the source URI and copies nothing. Here a version is content: its files must be in
the registry's stores, so a source must name something the registry holds, and its files become the
version's manifest (``Registry.artifact_manifest``: the chunks are already stored, nothing is copied).

    models:/m-<hex>                    a logged model: the files under its artifact location; its run, if
                                       the request names none, is its source run
    models:/<name>/<N>, models:/<name>@<alias>
                                       another registered version (MLflow's copy_model_version): its files,
                                       run and logged model
    runs:/<run id>[/<path>]            the run's artifacts under <path>; failing those, the artifacts of the
                                       run's logged model named <path>'s first segment (MLflow 3 logs
                                       models outside the run's artifact directory; its client and server
                                       look there the same way: ``RunsArtifactRepository``)
    mlflow-artifacts:/<path>           the artifact store's files under <path> (also the
    http(s)://…/api/2.0/mlflow-artifacts/artifacts/<path> form); ``registry/<name>/<N>`` is a version
    anything else                      INVALID_PARAMETER_VALUE: modelreg registers only artifacts it stores

As MLflow's server does, a ``run_id`` or ``model_id`` sent beside a ``runs:/`` or ``models:/m-…`` source must
be the one the source names, and a source path with ``..`` is refused. Unlike it, a missing ``run_id`` or
``model_id`` is taken from the source instead of being refused (the request is unambiguous without it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from modelreg.api.mlflow.messages import MODEL_ID_TAG
from modelreg.errors import ArtifactNotFound, InvalidInput, LoggedModelNotFound, RunNotFound
from modelreg.registry.manifest import Manifest, check_path
from modelreg.registry.service import Registry
from modelreg.types import LoggedModel, ModelVersion, Run

__all__ = ["Source", "resolve"]

_LOGGED_MODEL = re.compile(r"m-[0-9a-f]{32}")
_ARTIFACTS_ROUTE = "/api/2.0/mlflow-artifacts/artifacts/"


@dataclass(frozen=True, slots=True)
class Source:
    """What a version created from ``uri`` is made of, and the run and logged model it came from."""

    uri: str  # as MLflow records it (a registered version's alias resolved to its number)
    manifest: Manifest
    run_id: str | None
    model_id: str | None
    run: Run | None = None  # the run, when resolving read it already (its metrics and params are wanted)


def resolve(registry: Registry, uri: str, *, run_id: str | None, model_id: str | None) -> Source:
    """The files and origin of ``uri``; ``InvalidInput`` (INVALID_PARAMETER_VALUE) for anything unusable."""
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme == "models":
        return _from_models_uri(registry, uri, run_id=run_id, model_id=model_id)
    if scheme == "runs":
        return _from_run(registry, uri, run_id=run_id, model_id=model_id)
    path = _artifact_path(uri)
    if path is None:
        raise _invalid(
            uri,
            "modelreg registers only artifacts it stores: use a runs:/, models:/ or mlflow-artifacts:/ "
            "source (log the model to this server first)",
        )
    if path.startswith("registry/"):
        return _from_version(registry, uri, _version_ref(uri, path), run_id=run_id, model_id=model_id)
    run = _run(registry, uri, run_id) if run_id else None
    if run is not None:
        run_root = _store_path(run.artifact_uri)
        if path != run_root and not path.startswith(run_root + "/"):
            raise _invalid(uri, "the run_id request parameter must identify the run that contains the source")
    return Source(uri, _manifest(registry, uri, path), run_id or None, model_id or None, run)


def _from_models_uri(registry: Registry, uri: str, *, run_id: str | None, model_id: str | None) -> Source:
    body = unquote(uri.split(":", 1)[1])
    if body.startswith("//"):
        raise _invalid(uri, "registered model sources must use this registry (models:/…, no host)")
    target = body.lstrip("/")
    if _LOGGED_MODEL.fullmatch(target):
        return _from_logged_model(registry, uri, target, run_id=run_id, model_id=model_id)
    ref = target if "@" in target or "/" in target else None
    if ref is None:
        raise _invalid(
            uri, "expected models:/<logged model id>, models:/<name>/<version> or models:/<name>@<alias>"
        )
    return _from_version(registry, uri, ref, run_id=run_id, model_id=model_id)


def _from_logged_model(
    registry: Registry, uri: str, found_id: str, *, run_id: str | None, model_id: str | None
) -> Source:
    if model_id and model_id != found_id:
        raise _invalid(uri, "the model_id request parameter must identify the model that contains the source")
    logged = _logged_model(registry, uri, found_id)
    manifest = _manifest(registry, uri, _store_path(logged.artifact_location))
    return Source(uri, manifest, run_id or logged.source_run_id or None, found_id)


def _from_version(
    registry: Registry, uri: str, ref: str, *, run_id: str | None, model_id: str | None
) -> Source:
    """Another registered version's files (``version:pull`` on it), run and logged model."""
    version, manifest = registry.manifest(ref)
    pinned = f"models:/{version.name}/{version.version}"
    return Source(pinned, manifest, run_id or version.lineage.run_id, model_id or _model_id_of(version))


def _from_run(registry: Registry, uri: str, *, run_id: str | None, model_id: str | None) -> Source:
    body = uri.split(":", 1)[1]
    if body.startswith("//"):
        raise _invalid(uri, "expected runs:/<run id>/<path>, without a host")
    found_id, _, relative = body.lstrip("/").partition("/")
    if not found_id or (run_id and run_id != found_id):
        raise _invalid(uri, "the run_id request parameter must identify the run that contains the source")
    run = _run(registry, uri, found_id)
    relative = relative.strip("/")
    root = _store_path(run.artifact_uri)
    try:
        manifest = registry.artifact_manifest(_checked(uri, f"{root}/{relative}" if relative else root))
        return Source(uri, manifest, found_id, model_id or None, run)
    except ArtifactNotFound:
        logged = _run_logged_model(registry, run.experiment_id, found_id, relative)
    if logged is None:
        raise _invalid(uri, "no artifacts are stored under it, and the run logged no model of that name")
    rest = relative.partition("/")[2]
    location = _store_path(logged.artifact_location)
    manifest = _manifest(registry, uri, f"{location}/{rest}" if rest else location)
    return Source(uri, manifest, found_id, model_id or logged.model_id, run)


def _run_logged_model(
    registry: Registry, experiment_id: str, run_id: str, relative: str
) -> LoggedModel | None:
    """The logged model of ``run_id`` named as the first segment of ``relative``, as MLflow 3 finds it."""
    name = relative.partition("/")[0]
    if not name:
        return None
    quoted = "'" + name.replace("'", "''") + "'"
    token: str | None = None
    while True:
        page = registry.search_logged_models([experiment_id], filter=f"name = {quoted}", page_token=token)
        match = next((model for model in page.items if model.source_run_id == run_id), None)
        if match is not None or page.next_page_token is None:
            return match
        token = page.next_page_token


def _run(registry: Registry, uri: str, run_id: str) -> Run:
    try:
        return registry.get_run(run_id)
    except RunNotFound:
        raise _invalid(uri, f"run {run_id!r} does not exist") from None


def _logged_model(registry: Registry, uri: str, model_id: str) -> LoggedModel:
    try:
        return registry.get_logged_model(model_id)
    except LoggedModelNotFound:
        raise _invalid(uri, f"logged model {model_id!r} does not exist") from None


def _manifest(registry: Registry, uri: str, path: str) -> Manifest:
    try:
        return registry.artifact_manifest(_checked(uri, path))
    except ArtifactNotFound:
        raise _invalid(uri, "no artifacts are stored under it") from None


def _artifact_path(uri: str) -> str | None:
    """The store path of an ``mlflow-artifacts:`` URI or of an artifact route URL; None for anything else."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "mlflow-artifacts":
        return unquote(parts.path).strip("/")
    if scheme in ("http", "https") and _ARTIFACTS_ROUTE in parts.path:
        return unquote(parts.path.split(_ARTIFACTS_ROUTE, 1)[1]).strip("/")
    return None


def _store_path(uri: str) -> str:
    """The store path of an artifact location the registry handed out (always ``mlflow-artifacts:/…``)."""
    return unquote(urlsplit(uri).path).strip("/")


def _version_ref(uri: str, path: str) -> str:
    """``registry/<name>/<N>`` (a version's download URI) → the reference ``<name>/<N>``."""
    parts = path.split("/")
    if len(parts) != 3:
        raise _invalid(uri, "a version's files are named mlflow-artifacts:/registry/<name>/<version>")
    return f"{parts[1]}/{parts[2]}"


def _checked(uri: str, path: str) -> str:
    """A relative store path without '..' or empty segments (MLflow refuses relative paths in sources)."""
    try:
        return check_path(path)
    except InvalidInput as error:
        raise _invalid(uri, error.message) from None


def _model_id_of(version: ModelVersion) -> str | None:
    return version.tags.get(MODEL_ID_TAG) or None


def _invalid(uri: str, why: str) -> InvalidInput:
    message = f"Invalid model version source: '{uri[:500]}'. {why}"
    return InvalidInput(message, details={"parameter": "source"})

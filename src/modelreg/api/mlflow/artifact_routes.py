"""MLflow's artifact proxy: /api/2.0/mlflow-artifacts/artifacts/<path> PUT, GET, list, DELETE.

MLflow's client maps ``mlflow-artifacts:/<path>`` to these routes (``--serve-artifacts`` on MLflow's own
server). Here the files land in modelreg's chunk store, not verbatim on a disk: an upload is cut into
content-defined chunks as it streams in (``Registry.put_artifact``), so a file uploaded again, or a model
logged twice with unchanged weights, stores no new chunk; a download is rebuilt from verified chunks.

    PUT    /artifacts/<path>      the raw body, streamed: never held whole in memory (64 GiB by default,
                                  ``Limits.max_artifact_bytes``); answers an empty 200, as MLflow does
    GET    /artifacts/<path>      the file, streamed; Content-Length, ETag = its sha256
    GET    /artifacts?path=<dir>  one level: {"files": [{"path": <name>, "is_dir", "file_size"}]}
    DELETE /artifacts/<path>      a file, or everything under a directory; {} (also when nothing was there)

Paths are relative (``<experiment id>/<run id>/artifacts/…``, ``<experiment id>/models/<model id>/…``);
``..``, absolute paths, backslashes and empty segments are refused (``INVALID_PATH``). The
``registry/<name>/<N>/…`` namespace is a model version's files, read-only (``version_artifacts``).

Blocking work runs in worker threads: metadata routes are plain ``def`` routes, and the upload hands the
body to the registry in a worker thread that pulls it from the event loop piece by piece (``_BodyPieces``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote

import anyio.from_thread
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from modelreg.api.auth import CallerRegistry
from modelreg.api.files import etag_matches
from modelreg.api.mlflow import tracking_messages as render
from modelreg.api.mlflow import version_artifacts as versions
from modelreg.digest import Digest, digest_hex
from modelreg.errors import ArtifactNotFound, InvalidInput
from modelreg.registry.manifest import check_path, media_type
from modelreg.registry.service import Registry
from modelreg.types import ArtifactEntry

__all__ = ["directory", "list_entries", "open_entry", "router", "store_path"]

router = APIRouter()

ArtifactPath = Annotated[
    str, Path(description="The artifact's path, e.g. 1/<run id>/artifacts/model/MLmodel")
]
_SCHEME = "mlflow-artifacts:"
_CLIENT_CLOSED = 499
_PIECE = 1024 * 1024  # bytes handed to the upload's worker thread at a time: ~1 thread hop per MiB


@router.put("/artifacts/{artifact_path:path}")
async def upload_artifact(
    registry: CallerRegistry, artifact_path: ArtifactPath, request: Request
) -> Response:
    path = _writable(artifact_path)
    try:
        await run_in_threadpool(registry.put_artifact, path, _BodyPieces(request))
    except ClientDisconnect:
        # The client left mid-upload: nothing was stored and nobody reads an answer. Not a server error;
        # 499 ("client closed request", as nginx logs it) tells the access log and metrics what happened.
        return Response(status_code=_CLIENT_CLOSED)
    return Response(status_code=200)


@router.get("/artifacts/{artifact_path:path}")
def download_artifact(
    registry: CallerRegistry,
    artifact_path: ArtifactPath,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    entry, body = open_entry(registry, check_path(artifact_path))
    headers = _file_headers(entry)
    if entry.digest and etag_matches(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers={"ETag": headers["ETag"]})
    # The first piece is read before answering, so a missing or corrupt start is a proper error response;
    # a later failure can only cut the stream short (Content-Length tells the client), never send bad bytes.
    first = next(body, b"")
    return StreamingResponse(_chain(first, body), headers=headers, media_type=media_type(entry.path))


@router.get("/artifacts")
def list_artifacts(
    registry: CallerRegistry, path: Annotated[str | None, Query(description="A directory.")] = None
) -> JSONResponse:
    """One level under ``path`` (the root when absent), names relative to it, as MLflow's proxy lists."""
    files = [
        render.file_info(entry.path.rsplit("/", 1)[-1], is_dir=entry.is_dir, size=entry.size)
        for entry in list_entries(registry, directory(path))
    ]
    return JSONResponse({"files": files} if files else {})


@router.delete("/artifacts/{artifact_path:path}")
def delete_artifact(registry: CallerRegistry, artifact_path: ArtifactPath) -> JSONResponse:
    registry.delete_artifact(_writable(artifact_path))
    return JSONResponse({})


def directory(path: str | None) -> str:
    """A directory to list: "" for the root. A trailing slash is fine; a leading one (an absolute path),
    ``..`` and the rest of what ``check_path`` refuses are ``INVALID_PATH``."""
    trimmed = (path or "").rstrip("/")
    return check_path(trimmed) if trimmed else ""


def list_entries(registry: Registry, path: str) -> list[ArtifactEntry]:
    """One level under ``path`` (checked by the caller; "" for the root), paths from the store's root.

    As on MLflow's server, a path that is a file, or that holds nothing, lists as empty."""
    if versions.is_version_path(path):
        return versions.list_version(registry, versions.parse(path))
    try:
        entries = registry.list_artifacts(path)
    except ArtifactNotFound:
        return []
    return [entry for entry in entries if entry.path != path]


def open_entry(registry: Registry, path: str) -> tuple[ArtifactEntry, Iterator[bytes]]:
    """A file's entry and its verified bytes, from the artifact store or from a model version."""
    if versions.is_version_path(path):
        return versions.open_version_file(registry, versions.parse(path))
    try:
        return registry.open_artifact(path)
    except ArtifactNotFound:
        if list_entries(registry, path):  # only on this error path: one more read, to say what is wrong
            raise InvalidInput(f"artifact path refers to a directory, not a file: {path[:200]!r}") from None
        raise


def store_path(uri: str) -> str:
    """The artifact store path an ``mlflow-artifacts:/…`` URI names (the registry gives out only those)."""
    if not uri.startswith(_SCHEME):
        raise InvalidInput(f"not an mlflow-artifacts URI: {uri[:200]!r}")
    return uri.removeprefix(_SCHEME).strip("/")


def _writable(path: str) -> str:
    checked = check_path(path)
    if versions.is_version_path(checked):
        raise InvalidInput(
            f"artifact path {checked[:200]!r} is a model version's files, which never change: "
            "register a new version instead",
            details={"path": checked[:200]},
        )
    return checked


def _file_headers(entry: ArtifactEntry) -> dict[str, str]:
    filename = entry.path.rsplit("/", 1)[-1]
    headers = {
        "Content-Length": str(entry.size or 0),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
        # Always an attachment with a declared type: artifacts are user content (MLflow does the same).
        "X-Content-Type-Options": "nosniff",
    }
    if entry.digest:
        headers["ETag"] = f'"{digest_hex(Digest(entry.digest))}"'
    return headers


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


class _BodyPieces:
    """The request body as a plain iterator for ``put_artifact`` in a worker thread.

    Each ``next`` asks the event loop (``anyio.from_thread.run``) for about ``_PIECE`` bytes of the body,
    so at most one piece is in flight between the socket and the chunker: memory stays flat whatever the
    file's size. A client that disconnects, or a body over the limit (``BodyLimit``), raises here, inside
    the use case, which then stores nothing."""

    def __init__(self, request: Request) -> None:
        self._stream = request.stream()
        self._ended = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._ended:
            raise StopIteration
        piece = anyio.from_thread.run(self._gather)
        if not piece:
            self._ended = True
            raise StopIteration
        return piece

    async def _gather(self) -> bytes:
        parts: list[bytes] = []
        size = 0
        while size < _PIECE:
            try:
                part = await self._stream.__anext__()
            except StopAsyncIteration:
                self._ended = True
                break
            parts.append(part)
            size += len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

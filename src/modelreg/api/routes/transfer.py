"""Moving content: which chunks and files the registry has, chunk upload and download, the manifest, and
plain file downloads.

The push protocol (DESIGN §3): ``POST /files/known`` and ``POST /chunks/missing`` say what need not be sent,
``POST /chunks`` uploads the rest, a few chunks (≤ 4 MiB from the SDK) per request, each verified on receipt
(``PUT /chunks/{digest}`` uploads one), then ``POST …/versions`` commits. A pull reads the manifest and
``POST …/chunks/read`` for what its cache lacks, about 8 MiB per request (``GET …/chunks/{digest}`` reads
one).

Direct transfers (``serve --direct-transfers``, ``registry/direct.py``) keep that protocol and add presigned
URLs to it: ``POST /chunks/missing?upload_urls=true`` answers a PUT per missing chunk, and a manifest marked
``direct_downloads`` means ``POST …/chunks/urls`` answers GETs. Both are opt-in on each side, so an older
client (which never asks) and an older server (which never offers) keep using the proxied routes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from modelreg.api.auth import CallerRegistry
from modelreg.api.files import ByteRange, eager, etag_matches, file_headers, parse_range, stream
from modelreg.api.params import VersionRef
from modelreg.api.responses import ERRORS, answers
from modelreg.api.schemas import (
    MAX_DIGESTS,
    MAX_READ_CHUNKS,
    MAX_UPLOAD_CHUNKS,
    ChunksBody,
    ChunkUrlsResponse,
    DigestsBody,
    ManifestResponse,
    MissingChunksResponse,
)
from modelreg.digest import digest_hex, parse_digest
from modelreg.errors import InvalidInput, PathNotFound, PayloadTooLarge
from modelreg.registry.manifest import ChunkRef, check_path, media_type

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["transfer"], responses=ERRORS)

ChunkDigest = Annotated[str, Path(description="sha256:<64 hex>")]
_OCTETS = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}


@router.post("/chunks/missing", **answers(MissingChunksResponse))
def missing_chunks(
    registry: CallerRegistry,
    body: DigestsBody,
    request: Request,
    upload_urls: Annotated[
        bool, Query(description="Also answer a presigned PUT per missing chunk (direct transfers).")
    ] = False,
) -> Response:
    """Of these chunk digests, the ones the store lacks, in the order asked: upload those.

    With ``upload_urls=true`` and direct transfers on, each comes with a presigned PUT: send the chunk's
    bytes there with the headers given (they bind its sha256). Servers without direct transfers answer
    ``uploads: {}`` (older servers, no ``uploads``): upload through ``PUT /chunks/{digest}`` instead."""
    if not upload_urls:
        missing = registry.missing_chunks(_bounded(body.digests))
        request.app.state.metrics.observe_missing_chunks(body.digests, missing)
        return JSONResponse({"missing": missing})
    missing, uploads = registry.plan_upload(_bounded(body.digests))
    request.app.state.metrics.observe_missing_chunks(body.digests, missing)
    return JSONResponse({"missing": missing, "uploads": {d: r.to_dict() for d, r in uploads.items()}})


@router.put(
    "/chunks/{digest}",
    status_code=201,
    response_model=None,
    responses={
        201: {"description": '{"stored": true}: the bytes were new'},
        200: {"description": '{"stored": false}: the chunk was already stored'},
    },
    openapi_extra={"requestBody": {"required": True, "content": _OCTETS}},
)
async def put_chunk(registry: CallerRegistry, digest: ChunkDigest, request: Request) -> Response:
    """Upload one chunk (raw bytes, ≤ the server's max_chunk_bytes); 422 DIGEST_MISMATCH stores nothing."""
    parse_digest(digest)  # a bad digest is refused before the body is hashed
    data = await _body(request)
    # Hashing and the fsyncs run in a worker thread: hashlib releases the GIL, so uploads use every core
    # and the event loop keeps serving other requests meanwhile.
    stored = await run_in_threadpool(registry.put_chunk, digest, data)
    return JSONResponse({"stored": stored}, status_code=201 if stored else 200)


@router.post(
    "/chunks",
    response_model=None,
    responses={200: {"description": '{"stored": [true, false, …]}: per chunk, whether its bytes were new'}},
    openapi_extra={"requestBody": {"required": True, "content": _OCTETS}},
)
async def put_chunks(
    registry: CallerRegistry,
    request: Request,
    chunk: Annotated[
        list[str],
        Query(description=f"`sha256:<64 hex>:<size>` per chunk, in body order; at most {MAX_UPLOAD_CHUNKS}."),
    ],
) -> Response:
    """Upload several chunks in one request: their bytes back to back, each named in the query string.

    The body is the chunks' concatenation (≤ the server's max_chunk_bytes in all), split by the sizes given.
    Every chunk is verified against its sha256 before any is stored: 422 DIGEST_MISMATCH (naming the first
    that fails) or a body whose length is not the sizes' sum (400 INVALID_INPUT) stores nothing. ``stored``
    answers, chunk by chunk, whether its bytes were new."""
    listed = _listed(chunk)
    data = await _body(request)
    expected = sum(size for _, size in listed)
    if len(data) != expected:
        raise InvalidInput(
            f"the body has {len(data)} bytes; the chunks named add up to {expected}",
            details={"received": len(data), "expected": expected},
        )
    view, offset = memoryview(data), 0
    pieces: list[tuple[str, memoryview]] = []
    for digest, size in listed:
        pieces.append((digest, view[offset : offset + size]))
        offset += size
    # Hashing and the fsyncs run in a worker thread, as for one chunk.
    stored = await run_in_threadpool(registry.put_chunks, pieces)
    return JSONResponse({"stored": stored})


def _listed(items: list[str]) -> list[tuple[str, int]]:
    """The query's ``chunk=sha256:<hex>:<size>`` items as (digest, size), checked before the body is used."""
    if len(items) > MAX_UPLOAD_CHUNKS:
        raise PayloadTooLarge(f"{len(items)} chunks in one request; at most {MAX_UPLOAD_CHUNKS}")
    listed: list[tuple[str, int]] = []
    for item in items:
        digest, _, size = item.rpartition(":")
        if not (size.isascii() and size.isdigit() and len(size) <= 12):
            raise InvalidInput(f"invalid chunk {item[:100]!r}: expected sha256:<64 hex>:<size in bytes>")
        listed.append((parse_digest(digest), int(size)))
    return listed


async def _body(request: Request) -> bytes:
    """The request body without Starlette's extra copy: ``BodyLimit`` has already read it whole and replays
    it as one piece, which is returned as is (``Request.body()`` would join it with a final empty piece,
    copying every byte again on the event loop's thread)."""
    pieces = [piece async for piece in request.stream() if piece]
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


@router.post("/files/known", **answers(dict[str, Any], description='{"files": {digest: [[chunk, size]…]}}'))
def known_files(registry: CallerRegistry, body: DigestsBody, request: Request) -> Response:
    """Whole-file digests the registry already holds → their chunk lists: such files need no upload."""
    files = registry.known_files(_bounded(body.digests))
    request.app.state.metrics.observe_known_files(files)
    return JSONResponse({"files": files})


@router.get("/models/{name}/versions/{ref}/manifest", **answers(ManifestResponse))
def get_manifest(registry: CallerRegistry, ref: VersionRef) -> Response:
    """The version and its manifest (files, sizes, digests, chunk lists), for a pull."""
    version, manifest = registry.manifest(ref)
    body: dict[str, Any] = {"version": version.to_dict(), "manifest": manifest.to_json()}
    if registry.direct is not None:  # older clients ignore it and read chunks through the API
        body["direct_downloads"] = True
    return JSONResponse(body)


@router.post("/models/{name}/versions/{ref}/chunks/urls", **answers(ChunkUrlsResponse))
def chunk_urls(registry: CallerRegistry, ref: VersionRef, body: DigestsBody) -> Response:
    """Presigned GETs for these chunks of the version (direct transfers), each verified by the client.

    Authorised as the chunk downloads are: the caller may pull the version, and every digest is one of its
    chunks (404 CHUNK_NOT_FOUND otherwise). Without direct transfers: ``downloads: {}``."""
    downloads = registry.chunk_downloads(ref, _bounded(body.digests))
    return JSONResponse({"downloads": {d: r.to_dict() for d, r in downloads.items()}})


@router.get(
    "/models/{name}/versions/{ref}/chunks/{digest}",
    response_class=Response,
    responses={200: {"content": _OCTETS, "description": "The chunk's bytes, verified."}},
)
def get_chunk(registry: CallerRegistry, ref: VersionRef, digest: ChunkDigest) -> Response:
    """One chunk of the version, verified against its sha256 before it is sent."""
    data = registry.read_chunk(ref, digest)
    etag = f'"{digest_hex(parse_digest(digest))}"'
    return Response(data, media_type="application/octet-stream", headers={"ETag": etag})


@router.post(
    "/models/{name}/versions/{ref}/chunks/read",
    response_class=Response,
    responses={200: {"content": _OCTETS, "description": "The chunks' bytes, verified, back to back."}},
)
def read_chunks(registry: CallerRegistry, ref: VersionRef, body: ChunksBody) -> Response:
    """Several chunks of the version in one response: their bytes back to back, in the order asked.

    Each chunk is named with its size, as the manifest gives them; the body is their concatenation
    (``Content-Length`` is the sum of the sizes) and each is verified against its sha256 before it is sent.
    Every chunk is checked to be one of the version's, with that size, before any byte is sent (404
    CHUNK_NOT_FOUND otherwise), and the first is read before the response starts; a chunk that fails later
    (lost or damaged in the store) cuts the body short. Split it by the sizes and verify each chunk."""
    if len(body.chunks) > MAX_READ_CHUNKS:
        raise PayloadTooLarge(f"{len(body.chunks)} chunks in one request; at most {MAX_READ_CHUNKS}")
    chunks = [ChunkRef(parse_digest(item.digest), item.size) for item in body.chunks]
    data = eager(registry.read_chunks(ref, chunks))
    size = str(sum(chunk.size for chunk in chunks))
    return StreamingResponse(data, media_type="application/octet-stream", headers={"Content-Length": size})


_FILE_ROUTE: dict[str, Any] = {
    "path": "/models/{name}/versions/{ref}/files/{path:path}",
    "response_class": Response,
    "responses": {
        200: {"content": _OCTETS, "description": "The whole file, streamed."},
        206: {"content": _OCTETS, "description": "The requested byte range."},
        304: {"description": "If-None-Match matched the file's ETag."},
    },
}


@router.head(operation_id="head_file", **_FILE_ROUTE)
@router.get(operation_id="get_file", **_FILE_ROUTE)
def get_file(
    *,
    registry: CallerRegistry,
    ref: VersionRef,
    path: Annotated[str, Path(description="The file's path in the version, e.g. weights/model.bin")],
    request: Request,
    range_header: Annotated[
        str | None, Header(alias="Range", description="One range: bytes=a-b, bytes=a- or bytes=-n.")
    ] = None,
    if_none_match: Annotated[
        str | None, Header(alias="If-None-Match", description="The ETag you hold: 304 if unchanged.")
    ] = None,
    if_range: Annotated[
        str | None, Header(alias="If-Range", description="Serve the Range only if the ETag still matches.")
    ] = None,
) -> Response:
    """One file of the version, streamed and verified chunk by chunk; supports Range, ETag and HEAD."""
    check_path(path)
    version, manifest = registry.manifest(ref)
    record = next((record for record in manifest.files if record.path == path), None)
    if record is None:
        raise PathNotFound(f"no file {path!r} in {version.ref}")
    headers = file_headers(record, media_type(record.path))
    if etag_matches(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers={"ETag": headers["ETag"]})
    if if_range is not None and if_range.strip() != headers["ETag"]:
        range_header = None
    window = parse_range(range_header, record.size)
    status = 200 if window is None else 206
    window = window or ByteRange(0, record.size - 1)
    if status == 206:
        headers["Content-Range"] = f"bytes {window.start}-{window.end}/{record.size}"
    headers["Content-Length"] = str(max(window.length, 0))
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    body = stream(registry, version.ref, record, window)
    return StreamingResponse(body, status_code=status, headers=headers)


def _bounded(digests: list[str]) -> list[str]:
    if len(digests) > MAX_DIGESTS:
        raise PayloadTooLarge(f"{len(digests)} digests in one request; at most {MAX_DIGESTS} (send batches)")
    return digests

"""Request body limits: an oversized body gets 413 PAYLOAD_TOO_LARGE.

Three limits: chunk uploads (``PUT /api/v1/chunks/{digest}``, and ``POST /api/v1/chunks`` with several; raw
bytes, 64 MiB by default, the largest chunk a manifest may list), MLflow artifact uploads (``PUT
/api/2.0/mlflow-artifacts/artifacts/<path>``, one whole file, 64 GiB by default) and every other body (JSON,
32 MiB by default; a commit's manifest is the largest).

Buffered bodies (all but artifact uploads): a declared ``Content-Length`` over the limit is refused before a
byte is read; a body without one (chunked transfer encoding) is counted while it arrives and refused as soon
as it passes the limit. Bodies within the limit are read whole here and replayed to the app: every such route
reads its body whole anyway (DESIGN §2), and doing it here means no route, and no framework body parser, can
ever read past the limit.

Streamed bodies (artifact uploads): a file can be far larger than memory, so the route reads it piece by
piece into the chunk store and nothing is buffered here. The limit is enforced on the app's ``receive``
instead: it raises ``PayloadTooLarge`` at the first read when the declared length is over the limit, or at
the read that passes it. The route's exception handlers then render the 413 in the route's own error shape
(MLflow's, for these routes), and the use case reading the stream stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelreg.api.errors import error_response
from modelreg.errors import PayloadTooLarge

__all__ = ["ARTIFACT_PATHS", "CHUNKS_PATH", "CHUNK_PATH", "BodyLimit", "Limits"]

MiB = 1024 * 1024
GiB = 1024 * MiB
CHUNK_PATH = "/api/v1/chunks/"
CHUNKS_PATH = "/api/v1/chunks"
ARTIFACT_PATHS = ("/api/2.0/mlflow-artifacts/artifacts/", "/ajax-api/2.0/mlflow-artifacts/artifacts/")


@dataclass(frozen=True, slots=True)
class Limits:
    max_json_bytes: int = 32 * MiB
    max_chunk_bytes: int = 64 * MiB
    # One artifact file. Large enough for a single-file LLM checkpoint; the bytes go to the chunk store as
    # they arrive, so this bounds disk use per request, never memory.
    max_artifact_bytes: int = 64 * GiB

    def for_request(self, method: str, path: str) -> int:
        if self.streams(method, path):
            return self.max_artifact_bytes
        if (method == "PUT" and path.startswith(CHUNK_PATH)) or (method == "POST" and path == CHUNKS_PATH):
            return self.max_chunk_bytes
        return self.max_json_bytes

    @staticmethod
    def streams(method: str, path: str) -> bool:
        """Whether the route reads this body as a stream (unbuffered, limited on ``receive``)."""
        return method == "PUT" and path.startswith(ARTIFACT_PATHS)


class BodyLimit:
    """ASGI middleware enforcing ``Limits``; see the module docstring."""

    def __init__(self, app: ASGIApp, *, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_request(scope["method"], scope["path"])
        declared = _content_length(scope)
        if self.limits.streams(scope["method"], scope["path"]):
            await self.app(scope, _counted(scope, receive, limit, declared=declared), send)
            return
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit)
            return
        first = await _read_body(receive, limit)
        if first is None:
            await _refuse(scope, receive, send, limit)
            return
        await self.app(scope, _replay(first, receive), send)


async def _read_body(receive: Receive, limit: int) -> Message | None:
    """The whole body as one ``http.request`` message, or None once it passes ``limit``.

    A disconnect before the end is handed on as it came, so the app sees the client leave.
    """
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return message
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            return None
        parts.append(part)
        if not message.get("more_body", False):
            return {"type": "http.request", "body": b"".join(parts), "more_body": False}


def _replay(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that returns the buffered body once, then defers to the server (disconnects)."""
    pending: list[Message] = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _counted(scope: Scope, receive: Receive, limit: int, *, declared: int | None) -> Receive:
    """A ``receive`` that raises ``PayloadTooLarge`` once the body is known to pass ``limit``."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        if declared is not None and declared > limit:
            raise _too_large(scope, limit)
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(scope, limit)
        return message

    return counted


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP server rejects malformed lengths before we run
    return None


def _too_large(scope: Scope, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"request body too large: the limit for {scope['method']} {scope['path']} is {limit} bytes",
        details={"limit": limit},
    )


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    error = _too_large(scope, limit)
    # The unread body makes the connection unusable for another request: tell the client it will close.
    response = error_response(error, path=scope["path"])  # MLflow's shape under MLflow's prefixes
    response.headers["Connection"] = "close"
    await response(scope, receive, send)

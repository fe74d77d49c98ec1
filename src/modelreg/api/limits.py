"""Request body limits: an oversized body gets 413 PAYLOAD_TOO_LARGE before any route sees it.

Two limits: chunk uploads (``PUT /api/v1/chunks/{digest}``, raw bytes, 64 MiB by default, the largest chunk a
manifest may list) and every other body (JSON, 32 MiB by default; a commit's manifest is the largest).

A declared ``Content-Length`` over the limit is refused before a byte is read. A body without one (chunked
transfer encoding) is counted while it arrives and refused as soon as it passes the limit. Bodies within the
limit are read whole here and replayed to the app: every route reads its body whole anyway (DESIGN §2), and
doing it here means no route, and no framework body parser, can ever read past the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelreg.api.errors import error_response
from modelreg.errors import PayloadTooLarge

__all__ = ["CHUNK_PATH", "BodyLimit", "Limits"]

MiB = 1024 * 1024
CHUNK_PATH = "/api/v1/chunks/"


@dataclass(frozen=True, slots=True)
class Limits:
    max_json_bytes: int = 32 * MiB
    max_chunk_bytes: int = 64 * MiB

    def for_request(self, method: str, path: str) -> int:
        if method == "PUT" and path.startswith(CHUNK_PATH):
            return self.max_chunk_bytes
        return self.max_json_bytes


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


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP server rejects malformed lengths before we run
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    error = PayloadTooLarge(
        f"request body too large: the limit for {scope['method']} {scope['path']} is {limit} bytes",
        details={"limit": limit},
    )
    # The unread body makes the connection unusable for another request: tell the client it will close.
    response = error_response(error)
    response.headers["Connection"] = "close"
    await response(scope, receive, send)

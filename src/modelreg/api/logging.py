"""Request ids, one structured access-log line per request, metrics, and the last line of defence.

``RequestLog`` is the outermost middleware of the app:

- every response carries ``X-Request-ID``: the caller's own when it is a sane token (visible ASCII, at most
  128 characters), else a new uuid4 hex; routes and error handlers find it in ``request.state.request_id``;
- one JSON line per request on the ``modelreg.api.access`` logger:
  ``{"method", "route", "path", "status", "ms", "request_id", "actor", "bytes_in", "bytes_out"}``;
- request count, latency and bytes go to ``Metrics``;
- an exception nobody handled is logged with its traceback and the request id (logger ``modelreg.api``) and
  answered with 500 INTERNAL_ERROR, which shows the request id but never the traceback. When the response
  had already started (a file stream failing half-way) the connection is dropped instead: the client sees a
  short body, never a silently wrong one.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelreg.api.errors import internal_error
from modelreg.api.metrics import UNMATCHED, Metrics

__all__ = ["REQUEST_ID_HEADER", "RequestLog"]

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(rb"[!-~]{1,128}")
_access = logging.getLogger("modelreg.api.access")
_log = logging.getLogger("modelreg.api")


class RequestLog:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(scope, receive, send)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except Exception:
            _log.exception(
                "unhandled error in %s %s [request_id=%s]",
                scope["method"],
                scope["path"],
                exchange.request_id,
            )
            if not exchange.started:
                response = internal_error(exchange.request_id, path=scope["path"])
                await response(scope, exchange.receive, exchange.send)
        finally:
            self._record(scope, exchange)

    def _record(self, scope: Scope, exchange: _Exchange) -> None:
        seconds = time.perf_counter() - exchange.start
        route = getattr(scope.get("route"), "path", UNMATCHED)
        method = scope["method"]
        self.metrics.observe_request(
            method, route, exchange.status, seconds, received=exchange.received, sent=exchange.sent
        )
        if _access.isEnabledFor(logging.INFO):
            line = {
                "method": method,
                "route": route,
                "path": scope["path"],
                "status": exchange.status,
                "ms": round(seconds * 1000, 3),
                "request_id": exchange.request_id,
                "actor": scope["state"].get("actor"),
                "bytes_in": exchange.received,
                "bytes_out": exchange.sent,
            }
            _access.info(json.dumps(line, ensure_ascii=False))


class _Exchange:
    """One request/response as seen from outside the app: ids, status and byte counts."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.start = time.perf_counter()
        self.request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = self.request_id
        self.status = 500  # what the client gets if the app never answers
        self.started = False
        self.received = 0
        self.sent = 0
        self._receive = receive
        self._send = send

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            header = (b"x-request-id", self.request_id.encode("ascii"))
            message = {**message, "headers": [*message.get("headers", ()), header]}
        elif message["type"] == "http.response.body":
            self.sent += len(message.get("body", b""))
        await self._send(message)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _SANE_ID.fullmatch(value):
            return str(value.decode("ascii"))
    return uuid.uuid4().hex

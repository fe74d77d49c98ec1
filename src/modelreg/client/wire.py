"""The wire under the HTTP SDK: one keep-alive connection pool, bounded retries, and our errors only.

    HttpBackend method ─► Wire.call(method, path, retry=…) ─► httpx.Client (pooled, shared by all threads)
        2xx                                      ─► the response
        {"error": {"code", "message", "details"}} ─► ModelregError.from_code(...): the embedded SDK's class
        502/503/504, lost connections            ─► retried with backoff and jitter when that is safe
                                                     (not CHUNK_BEING_COLLECTED: the caller uploads again)
        anything else (HTML from a proxy, refused connection after the retries) ─► StorageUnavailable

When is a retry safe? A request that never left this machine (connection refused, no free pooled
connection) can always be repeated. One that may have reached the server is repeated only when repeating
it cannot change the outcome: reads, chunk uploads (content-addressed: a second PUT of the same bytes is a
no-op), the missing/known queries, and a version commit carrying an ``Idempotency-Key`` (the server returns
the first result). Other writes (aliases, tags, stages…) are not: a repeated alias move would record a
second history interval, so the caller sees the failure instead.

No httpx exception escapes this module: every failure is a ``ModelregError``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import metadata
from typing import Any, cast
from urllib.parse import urlsplit

import httpx

from modelreg.errors import InvalidInput, ModelregError, StorageUnavailable

__all__ = ["Wire", "decode_json", "encode_json", "error_from", "nbytes"]

_RETRY_STATUSES = frozenset({502, 503, 504})
# Failures that prove the request was never sent, so repeating it cannot repeat a write.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_BACKOFF_CAP = 8.0  # seconds: no single wait is longer, Retry-After included
_SNIPPET = 200  # characters of an unexpected body quoted in an error message


class Wire:
    """Thread-safe: httpx's pool hands each connection to one request at a time (``pool_size`` of them)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        client: httpx.Client | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.25,
        pool_size: int = 8,
    ) -> None:
        self.base_url = _check_base_url(base_url)
        self.retries = retries
        self.backoff = backoff
        self._headers = {"User-Agent": _user_agent(), "Accept": "application/json"}
        if token is not None:
            self._headers["Authorization"] = f"Bearer {_check_token(token)}"
        self._owned = client is None
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
        )

    def close(self) -> None:
        if self._owned:
            self._client.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        retry: bool,
        body: Any = None,
        params: Mapping[str, str | int | Sequence[str]] | None = None,
        content: bytes | memoryview | Sequence[bytes | memoryview] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One API call: the 2xx response, or our error. ``body`` is sent as JSON, ``content`` as bytes (a
        sequence of buffers is sent back to back, without joining them first)."""
        request_headers, payload = self._prepare(body, content, headers)
        url = self.base_url + path
        attempt = 0
        while True:
            response, failure, sent = self._send(method, url, request_headers, payload, params)
            if response is not None and response.is_success:
                return response
            self._give_up_or_wait(response, failure, sent=sent, retry=retry, attempt=attempt, url=url)
            attempt += 1

    @contextmanager
    def stream(self, method: str, path: str, *, body: Any) -> Iterator[httpx.Response]:
        """A read whose 2xx response body is streamed (``iter_bytes``) inside the ``with``; our error
        otherwise. Retried as reads are until the response starts; a body cut short raises httpx's error
        (``httpx.HTTPError``) to the caller, which may ask again for what it still lacks."""
        request_headers, payload = self._prepare(body, None, None)
        url = self.base_url + path
        attempt = 0
        while True:
            response, failure, sent = self._send(method, url, request_headers, payload, None, stream=True)
            if response is not None and response.is_success:
                try:
                    yield response
                finally:
                    response.close()
                return
            self._give_up_or_wait(response, failure, sent=sent, retry=True, attempt=attempt, url=url)
            attempt += 1

    def _prepare(
        self,
        body: Any,
        content: bytes | memoryview | Sequence[bytes | memoryview] | None,
        headers: Mapping[str, str] | None,
    ) -> tuple[dict[str, str], Iterable[bytes] | bytes | None]:
        request_headers = {**self._headers, **(headers or {})}
        payload: Iterable[bytes] | bytes | None = None
        if body is not None:
            payload = encode_json(body)
            request_headers["Content-Type"] = "application/json"
        elif content is not None:
            # A tuple (re-iterable for retries) hands the buffers themselves to the HTTP layer: no copy
            # here; h11 copies each once into the socket write, and an explicit length avoids chunked coding.
            pieces = (content,) if isinstance(content, bytes | memoryview) else tuple(content)
            payload = cast("Iterable[bytes]", pieces)
            request_headers["Content-Type"] = "application/octet-stream"
            size = sum(nbytes(p) for p in pieces)
            request_headers["Content-Length"] = str(size)
        return request_headers, payload

    def _give_up_or_wait(
        self,
        response: httpx.Response | None,
        failure: str | None,
        *,
        sent: bool,
        retry: bool,
        attempt: int,
        url: str,
    ) -> None:
        """After a failed attempt: raise our error when it is final, else wait before the next one."""
        if attempt >= self.retries or not _retryable(response, sent=sent, retry=retry):
            if response is not None:
                raise error_from(response)
            raise StorageUnavailable(
                f"cannot reach the registry at {self.base_url}: {failure or 'no response'}",
                details={"url": url, "attempts": attempt + 1},
            ) from None
        time.sleep(_delay(self.backoff, attempt, response))

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        payload: Iterable[bytes] | bytes | None,
        params: Mapping[str, str | int | Sequence[str]] | None,
        *,
        stream: bool = False,
    ) -> tuple[httpx.Response | None, str | None, bool]:
        """(response, failure text, whether the request may have reached the server). With ``stream``, a
        2xx response is returned unread (the caller closes it); any other is read and closed here."""
        try:
            request = self._client.build_request(method, url, content=payload, params=params, headers=headers)
            response = self._client.send(request, stream=stream)
            if stream and not response.is_success:
                try:
                    response.read()
                finally:
                    response.close()
        except _NOT_SENT as error:
            return None, _describe(error), False
        except httpx.HTTPError as error:
            return None, _describe(error), True
        return response, None, True


def _retryable(response: httpx.Response | None, *, sent: bool, retry: bool) -> bool:
    if response is None:
        return retry or not sent
    if not retry or response.status_code not in _RETRY_STATUSES:
        return False
    # Resending helps only when the server (or something in front of it) was unavailable; an error such as
    # CHUNK_BEING_COLLECTED asks the caller to do something else first (upload again).
    return isinstance(error_from(response), StorageUnavailable)


def _delay(backoff: float, attempt: int, response: httpx.Response | None) -> float:
    """Exponential backoff with jitter (clients retrying together spread out); honours Retry-After."""
    ceiling = min(_BACKOFF_CAP, backoff * 2.0**attempt)
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if response is not None and (after := response.headers.get("Retry-After", "")).isdigit():
        delay = max(delay, min(_BACKOFF_CAP, float(after)))
    return delay


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def error_from(response: httpx.Response) -> ModelregError:
    """The error a non-2xx response carries; a body that is not our error shape means something in between."""
    status, request = response.status_code, response.request
    try:
        error = response.json()["error"]
        code, message, details = error["code"], error["message"], error.get("details") or {}
        if not (isinstance(code, str) and isinstance(message, str) and isinstance(details, dict)):
            raise TypeError(code)
    except (ValueError, KeyError, TypeError):
        return StorageUnavailable(
            f"{request.method} {request.url} answered HTTP {status} without a modelreg error body "
            f"(is this a modelreg server, or a proxy in between?): {_snippet(response)}",
            details={"status": status, "url": str(request.url)},
        )
    if status >= 500 and "request_id" not in details and (request_id := response.headers.get("X-Request-ID")):
        details = {**details, "request_id": request_id}
    return ModelregError.from_code(code, message, details)


def nbytes(data: bytes | memoryview) -> int:
    """The size of a body buffer in bytes (a memoryview's ``len`` counts items, not bytes)."""
    return data.nbytes if isinstance(data, memoryview) else len(data)


def decode_json(response: httpx.Response) -> Any:
    """The JSON body of a 2xx response; anything else there means we are not talking to modelreg."""
    try:
        return response.json()
    except ValueError:
        request = response.request
        raise StorageUnavailable(
            f"{request.method} {request.url} answered HTTP {response.status_code} with a body that is not "
            f"JSON: {_snippet(response)}",
            details={"status": response.status_code, "url": str(request.url)},
        ) from None


def encode_json(value: Any) -> bytes:
    """Strict JSON (no NaN or infinity, which JSON cannot carry); the caller validates before sending."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"the request cannot be sent as JSON: {error}") from None


def _snippet(response: httpx.Response) -> str:
    return repr(response.text[:_SNIPPET]) if response.content else "(empty body)"


def _user_agent() -> str:
    try:
        return f"modelreg-python/{metadata.version('modelreg')}"
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "modelreg-python"


def _check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InvalidInput(f"invalid registry URL {url!r}: expected http(s)://host[:port][/prefix]")
    return url.rstrip("/")


def _check_token(token: str) -> str:
    # HTTP header values are visible ASCII; anything else is not a token this server ever issued.
    if not token or not token.isascii() or not token.isprintable() or " " in token:
        raise InvalidInput("invalid token: expected the mrt_… string printed when the token was created")
    return token

"""Direct transfers on the client: chunk bytes to and from the object store through presigned URLs.

    HttpBackend.missing_chunks ─► POST /chunks/missing?upload_urls=true ─► {"missing", "uploads"}
    HttpBackend.put_chunk      ─► PUT <url> with its signed headers        (else PUT /api/v1/chunks/…)
    HttpBackend.manifest       ─► "direct_downloads": true ─► remember the version's chunk order
    HttpBackend.read_chunk     ─► POST …/chunks/urls for the next window ─► GET <url>, sha256 verified
                                                                            (else GET …/chunks/…)

Always an optimisation, never a requirement: whenever a URL is absent, expired, refused (403/400/404) or
answers bytes that fail their sha256, the chunk goes through the API instead, which verifies it and
answers with the authoritative error if there is one. Transient failures (5xx, lost connections) are
retried with backoff first, as the API's own calls are. The registry's Bearer token is never sent to the
object store: these requests use a connection pool of their own, without it.
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import httpx

from modelreg.client.wire import nbytes
from modelreg.digest import sha256_bytes

__all__ = ["DirectChannel", "Ticket"]

_WINDOW = 1024  # download URLs asked for at once: ~1 GiB of chunks, one small request
_VERSIONS = 4  # versions whose chunk order is remembered (one pull needs one)
_TRANSIENT = frozenset({500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Ticket:
    """A presigned request, valid until ``deadline`` (this machine's monotonic clock, with a margin)."""

    method: str
    url: str
    headers: Mapping[str, str]
    deadline: float

    @classmethod
    def from_wire(cls, data: Any, *, received: float) -> Ticket:
        """Raises KeyError/TypeError/ValueError for a shape we do not know (the caller ignores it)."""
        expires_in = float(data["expires_in"])
        headers = {str(k): str(v) for k, v in cast("dict[str, Any]", data["headers"]).items()}
        margin = min(60.0, expires_in / 10)  # the request must start, and finish, before S3's clock says no
        return cls(str(data["method"]), str(data["url"]), headers, received + expires_in - margin)

    @property
    def valid(self) -> bool:
        return time.monotonic() < self.deadline


class _Version:
    """One version's chunks in manifest order, and the download tickets fetched for them so far."""

    def __init__(self, order: Sequence[str]) -> None:
        self.order = list(dict.fromkeys(order))
        self.position = {digest: index for index, digest in enumerate(self.order)}
        self.tickets: dict[str, Ticket] = {}
        self.lock = threading.Lock()

    def window(self, digest: str) -> list[str]:
        """``digest`` and the chunks after it that lack a valid ticket, up to ``_WINDOW``."""
        start = self.position.get(digest, 0)
        ahead = (d for d in self.order[start:] if not (t := self.tickets.get(d)) or not t.valid)
        wanted = [digest, *(d for d in ahead if d != digest)]
        return wanted[:_WINDOW]


class DirectChannel:
    """Presigned tickets and the requests that use them. Thread-safe (push and pull thread pools)."""

    def __init__(self, *, timeout: float, retries: int, backoff: float, pool_size: int) -> None:
        self.retries = retries
        self.backoff = backoff
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
        )
        self._uploads: dict[str, Ticket] = {}
        self._versions: OrderedDict[str, _Version] = OrderedDict()
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    # Uploads ----------------------------------------------------------------------------------------------
    def offer_uploads(self, uploads: Any) -> None:
        """Keep the PUT tickets a missing-chunks answer carried (ignoring any shape we do not know)."""
        received = time.monotonic()
        tickets = _tickets(uploads, received=received)
        with self._lock:
            for digest in [d for d, t in self._uploads.items() if not t.valid]:
                del self._uploads[digest]  # asked for but never used (a failed push): not kept forever
            self._uploads.update(tickets)

    def put(self, digest: str, data: bytes | memoryview) -> bool | None:
        """True when the object store took the chunk, False when it had it (412), None: use the API."""
        with self._lock:
            ticket = self._uploads.pop(digest, None)
        if ticket is None or not ticket.valid or ticket.method != "PUT":
            return None
        headers = {**ticket.headers, "Content-Length": str(nbytes(data))}
        response = self._send(ticket, headers, cast("Iterable[bytes]", (data,)))
        if response is None:
            return None
        if response.status_code == 412:  # If-None-Match: someone stored the same bytes first
            return False
        return True if response.is_success else None

    # Downloads --------------------------------------------------------------------------------------------
    def remember(self, ref: str, chunks: Sequence[str]) -> None:
        """The server offers direct downloads for ``ref`` (pinned: 'name/N'), whose chunks these are."""
        with self._lock:
            self._versions[ref] = _Version(chunks)
            self._versions.move_to_end(ref)
            while len(self._versions) > _VERSIONS:
                self._versions.popitem(last=False)

    def offers(self, ref: str) -> bool:
        """Whether the server offered direct downloads for ``ref`` (its manifest was read here)."""
        with self._lock:
            return ref in self._versions

    def get(self, ref: str, digest: str, ask: Callable[[str, list[str]], Any]) -> bytes | None:
        """The chunk's bytes, verified, from the object store; None: read it through the API.

        ``ask(ref, digests)`` answers the server's ``downloads`` for a window of chunks."""
        with self._lock:
            version = self._versions.get(ref)
        if version is None or digest not in version.position:
            return None
        ticket = self._download_ticket(version, ref, digest, ask)
        if ticket is None:
            return None
        response = self._send(ticket, dict(ticket.headers), None)
        if response is None or not response.is_success:
            version.tickets.pop(digest, None)
            return None
        data = response.content
        return data if sha256_bytes(data) == digest else None  # the API then says what is wrong

    def _download_ticket(
        self, version: _Version, ref: str, digest: str, ask: Callable[[str, list[str]], Any]
    ) -> Ticket | None:
        ticket = version.tickets.get(digest)
        if ticket is not None and ticket.valid:
            return ticket
        with version.lock:  # one thread asks for the window; the others find their tickets in it
            ticket = version.tickets.get(digest)
            if ticket is None or not ticket.valid:
                received = time.monotonic()
                version.tickets.update(_tickets(ask(ref, version.window(digest)), received=received))
                ticket = version.tickets.get(digest)
        if ticket is None or not ticket.valid or ticket.method != "GET":
            return None
        return ticket

    # The wire ---------------------------------------------------------------------------------------------
    def _send(
        self, ticket: Ticket, headers: dict[str, str], content: Iterable[bytes] | None
    ) -> httpx.Response | None:
        """The object store's answer, retried while it is transient; None when it never came."""
        for attempt in range(self.retries + 1):
            try:
                response = self._client.request(ticket.method, ticket.url, headers=headers, content=content)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code not in _TRANSIENT:
                return response
            if attempt < self.retries:
                ceiling = min(8.0, self.backoff * 2.0**attempt)
                time.sleep(random.uniform(ceiling / 2, ceiling))
        return None


def _tickets(data: Any, *, received: float) -> dict[str, Ticket]:
    if not isinstance(data, dict):
        return {}
    tickets: dict[str, Ticket] = {}
    for digest, request in data.items():
        try:
            tickets[str(digest)] = Ticket.from_wire(request, received=received)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # an entry we cannot use: that chunk goes through the API
    return tickets

"""The server's composition root: ``Settings`` → stores → ``Registry`` → the API app → uvicorn.

    modelreg serve --host 127.0.0.1 --port 8080 --workers 2

The stores are located exactly as the embedded SDK locates them (``connection.open_stores``), so a directory
served over HTTP is the same registry ``modelreg.connect(dir)`` opens. Each worker process builds its own app
from the environment (uvicorn's factory mode, ``app_from_environment``): nothing in a process's memory is
needed for correctness, so workers and replicas can be added freely (DESIGN §6).

Two things every deployment gets right by default:

- **Exposure.** While the database has no active API token, requests without one act as admin (a fresh
  registry must be usable). That is allowed only on a loopback address: on any other address ``serve``
  refuses to start unless ``insecure`` is set, and the app is built to refuse anonymous calls there.
- **TCP_NODELAY on every accepted socket** (DESIGN §7). asyncio sets it only on sockets it creates itself;
  with ``workers > 1`` uvicorn binds the listening socket itself and the accepted sockets keep Nagle's
  algorithm, so a response written in two pieces (headers, body) waits for the client's delayed ACK: ~40 ms
  per keep-alive request instead of ~1 ms. ``NoDelayHttpToolsProtocol`` sets the option on every connection.

The HTTP stack is uvicorn with httptools (llhttp, in C) on uvloop (libuv): measured here, pure-Python h11 on
asyncio's loop cost ~25 % more server CPU per request (0.65 against 0.52 ms for ``/healthz``) and per MiB
uploaded (docs/benchmarks.md, "Server vs MLflow"). uvloop has no Windows build; there uvicorn's "auto" loop
is asyncio's, with the same TCP_NODELAY guarantee.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import logging.config
import os
import socket
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from modelreg.access import Actor
from modelreg.api import Limits, create_app
from modelreg.blobs.presign import PresigningStore
from modelreg.blobs.protocol import ChunkStore
from modelreg.connection import open_stores
from modelreg.errors import InvalidInput
from modelreg.registry.direct import DirectTransfers
from modelreg.registry.policy_source import PolicySource
from modelreg.registry.service import Registry
from modelreg.registry.tokens import has_active_tokens
from modelreg.settings import Settings

__all__ = [
    "LOG_CONFIG",
    "NoDelayH11Protocol",
    "NoDelayHttpToolsProtocol",
    "app_from_environment",
    "build_app",
    "direct_transfers",
    "is_loopback",
    "serve",
]

_log = logging.getLogger("modelreg.server")

# What the workers need to rebuild the same app from the environment (MODELREG_<NAME>).
_EXPORTED = (
    "registry",
    "storage",
    "host",
    "port",
    "max_json_bytes",
    "max_chunk_bytes",
    "max_artifact_bytes",
    "insecure",
    "gc_grace_seconds",
    "direct_transfers",
    "presign_expiry_seconds",
    "verify_file_digests",
)

LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "message": {"format": "%(message)s"},
        "default": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        # One JSON document per request on stdout; everything else (start-up, warnings, tracebacks) on stderr.
        "access": {"class": "logging.StreamHandler", "formatter": "message", "stream": "ext://sys.stdout"},
        "default": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"},
    },
    "loggers": {
        "modelreg.api.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "modelreg": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},  # ours replaces it
    },
}


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with Nagle's algorithm off on the accepted socket (module docstring)."""

    def connection_made(self, transport: Any) -> None:
        _no_delay(transport)
        super().connection_made(transport)


class NoDelayH11Protocol(H11Protocol):
    """The same over uvicorn's pure-Python h11 protocol, for an app run with h11 (slower: see above)."""

    def connection_made(self, transport: Any) -> None:
        _no_delay(transport)
        super().connection_made(transport)


def _no_delay(transport: Any) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        # The peer may already be gone: the protocol notices that next.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def build_app(settings: Settings) -> FastAPI:
    """The API app over the registry ``settings`` name; its database pool closes at shutdown."""
    policies = PolicySource(settings.policy_file)  # first: an invalid policy file stops the start
    metadata, chunks = open_stores(settings.registry, storage=settings.storage)
    try:
        direct = direct_transfers(settings, chunks)
    except BaseException:
        metadata.close()  # refused: no pool left open behind the error
        raise
    # The base actor can do nothing: every request replaces it with the authenticated caller.
    registry = Registry(
        metadata,
        chunks,
        actor=Actor("server", role="none"),
        gc_grace_seconds=settings.gc_grace_seconds,
        verify_file_digests=settings.verify_file_digests,
        direct=direct,
        audit_production_pulls=settings.audit_production_pulls,
        policies=policies,
    )
    return create_app(
        registry,
        limits=Limits(
            max_json_bytes=settings.max_json_bytes,
            max_chunk_bytes=settings.max_chunk_bytes,
            max_artifact_bytes=settings.max_artifact_bytes,
        ),
        allow_anonymous=is_loopback(settings.host) or settings.insecure,
        on_close=metadata.close,
    )


def direct_transfers(settings: Settings, chunks: ChunkStore) -> DirectTransfers | None:
    """The registry's direct-transfer configuration, or None when off; refuses a store that cannot presign.

    Asks the store once whether it enforces the sha256 a presigned PUT carries (a probe PUT), and says in
    the log how commits will verify what clients upload: by the store's checksum, or by reading it back.
    """
    if not settings.direct_transfers:
        return None
    if not isinstance(chunks, PresigningStore):
        raise InvalidInput(
            f"cannot serve with direct transfers: the chunk store {chunks.url} cannot presign URLs for "
            "clients; use an s3:// store, or serve without --direct-transfers"
        )
    how = (
        "the sha256 checksum the store computed (a HEAD per new chunk)"
        if chunks.enforces_checksums()
        else "reading each new chunk back: the store does not refuse a body that mismatches its sha256"
    )
    _log.info(
        "direct transfers: clients move chunk bytes to and from %s; commits verify them by %s",
        chunks.url,
        how,
    )
    return DirectTransfers(chunks, expires_in=settings.presign_expiry_seconds)


def app_from_environment() -> FastAPI:
    """uvicorn's app factory: each worker process builds its app from ``MODELREG_*`` (set by ``serve``)."""
    return build_app(Settings.load())


def serve(settings: Settings) -> None:
    """Check the exposure, then run uvicorn until interrupted. Raises ``InvalidInput`` when refusing."""
    logging.config.dictConfig(LOG_CONFIG)
    _check_direct(settings)
    _check_exposure(settings)
    _export(settings)
    _log.info(
        "modelreg serving registry %s on http://%s:%d with %d worker(s); API docs at /docs",
        _redacted(settings.registry),
        settings.host,
        settings.port,
        settings.server_workers,
    )
    uvicorn.run(
        "modelreg.server:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.server_workers,
        http=NoDelayHttpToolsProtocol,
        loop="auto",  # uvloop where it is installed (not on Windows), else asyncio's own loop
        log_config=LOG_CONFIG,
        access_log=False,
        server_header=False,
    )


def _check_exposure(settings: Settings) -> None:
    metadata, _ = open_stores(settings.registry, storage=settings.storage)
    try:
        tokens_exist = has_active_tokens(metadata, now=datetime.now(UTC))
    finally:
        metadata.close()
    if tokens_exist:
        return
    if is_loopback(settings.host):
        _log.warning("anonymous access: no tokens exist; listening on loopback only")
    elif settings.insecure:
        _log.warning(
            "anonymous access: no tokens exist and --insecure is set: anyone who can reach %s is admin",
            settings.host,
        )
    else:
        raise InvalidInput(
            f"refusing to listen on {settings.host}: no API token exists, so anyone could act as admin. "
            "Create one first ('modelreg token create --name admin --role admin'), listen on 127.0.0.1, "
            "or pass --insecure"
        )


def _check_direct(settings: Settings) -> None:
    """Refuse --direct-transfers before uvicorn starts (a worker's failure would be far less clear)."""
    if not settings.direct_transfers:
        return
    metadata, chunks = open_stores(settings.registry, storage=settings.storage)
    metadata.close()
    direct_transfers(settings, chunks)


def _export(settings: Settings) -> None:
    for name in _EXPORTED:
        value = getattr(settings, name)
        variable = f"MODELREG_{name.upper()}"
        if value is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = str(value).lower() if isinstance(value, bool) else str(value)


def _redacted(location: str) -> str:
    """A database URL without its password, for the log."""
    head, at, tail = location.rpartition("@")
    if not at or "://" not in head:
        return location
    scheme, _, credentials = head.partition("://")
    return f"{scheme}://{credentials.split(':', 1)[0]}@{tail}"

"""The composition root: the one place that names concrete backends and wires them to the registry."""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from modelreg.blobs.file import FileChunkStore
from modelreg.blobs.memory import MemoryChunkStore
from modelreg.blobs.protocol import ChunkStore
from modelreg.client.client import Client
from modelreg.errors import InvalidInput
from modelreg.metadata.store import SqlMetadataStore
from modelreg.registry.policy_source import PolicySource
from modelreg.registry.principals import local_actor
from modelreg.registry.service import Registry
from modelreg.settings import Settings
from modelreg.transfer.cache import ChunkCache, default_cache_dir
from modelreg.transfer.statcache import StatCache
from modelreg.types import MigrationReport

__all__ = ["connect", "migrate", "open_chunk_store", "open_stores"]

_DATABASE_SCHEMES = ("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")


def open_chunk_store(url: str, *, settings: Settings | None = None) -> ChunkStore:
    """``file:///abs/path`` (or a plain path), ``s3://bucket/prefix`` or ``memory://``.

    An ``s3://`` store takes its endpoint and region from ``settings`` (``MODELREG_S3_*``) and its
    credentials from the standard AWS chain.
    """
    if url == "memory://":
        return MemoryChunkStore()
    if url.startswith("s3://"):
        return _open_s3(url, settings or Settings.load())
    if url.startswith("file://"):
        parsed = urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInput(f"invalid storage URL {url!r}: file URLs take no host (file:///abs/path)")
        return FileChunkStore(Path(unquote(parsed.path)))
    if "://" in url:
        raise InvalidInput(
            f"unsupported storage URL {url!r}: use file:///path, s3://bucket/prefix or memory://"
        )
    return FileChunkStore(Path(url).resolve())


def _open_s3(url: str, settings: Settings) -> ChunkStore:
    # Imported here: boto3 and an S3 client take ~0.4 s to load; boto3 is an optional extra (modelreg[s3]).
    try:
        from modelreg.blobs import s3  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        if exc.name not in ("boto3", "botocore"):
            raise
        raise InvalidInput(f"storage URL {url!r} needs boto3: pip install 'modelreg[s3]'") from exc
    bucket, prefix = s3.parse_s3_url(url)
    client = s3.make_client(endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)
    return s3.S3ChunkStore(bucket, prefix, client=client)


def connect(
    target: str | os.PathLike[str] | None = None,
    *,
    storage: str | None = None,
    token: str | None = None,
    actor: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
) -> Client:
    """Open a registry: a directory (created on first use), a sqlite:/postgresql: database URL, or a server.

    >>> reg = modelreg.connect("./registry")
    >>> reg = modelreg.connect("postgresql://postgres@127.0.0.1/test", storage="file:///srv/chunks")
    >>> reg = modelreg.connect("http://127.0.0.1:8080", token="mrt_…")
    """
    settings = settings or Settings.load()
    location = os.fspath(target) if target is not None else settings.registry
    if location.startswith(("http://", "https://")):
        return _connect_http(
            location, token=token, storage=storage, actor=actor, cache_dir=cache_dir, settings=settings
        )
    if token is not None:
        raise InvalidInput(
            "a token is only used with an HTTP registry; embedded registries act as the local user"
        )
    policies = PolicySource(settings.policy_file)  # first: an invalid policy file is refused before opening
    metadata, chunks = open_stores(location, storage=storage or settings.storage)
    cache_root = cache_dir if cache_dir is not None else settings.cache_dir
    # Embedded use: the local user acts as admin (it can write the database anyway), unless the registry
    # defines a user of that name: then it holds that user's bindings. Advisory: see registry/principals.py.
    try:
        acting = local_actor(metadata, actor or settings.actor or _os_user())
    except BaseException:
        metadata.close()
        raise
    registry = Registry(
        metadata,
        chunks,
        actor=acting,
        verify_file_digests=False,  # this process hashed the files itself (see Registry)
        verify_chunks=False,
        gc_grace_seconds=settings.gc_grace_seconds,
        audit_production_pulls=settings.audit_production_pulls,
        policies=policies,
    )
    stat_root = cache_root if cache_root is not None else _registry_dir(location)
    return Client(
        registry,
        cache=ChunkCache(cache_root, max_bytes=settings.cache_max_bytes) if cache_root is not None else None,
        stat_cache=StatCache(stat_root) if stat_root is not None else None,
        workers=settings.workers,
        on_close=metadata.close,
        location=location,
    )


def _connect_http(
    url: str,
    *,
    token: str | None,
    storage: str | None,
    actor: str | None,
    cache_dir: str | os.PathLike[str] | None,
    settings: Settings,
) -> Client:
    """The HTTP SDK, with a local pull cache by default: its chunks are not on this machine otherwise."""
    # Imported here: httpx alone takes ~120 ms to import, which embedded registries never need.
    from modelreg.client.http import HttpBackend  # noqa: PLC0415

    if storage is not None or actor is not None:
        raise InvalidInput(
            "storage and actor apply to embedded registries; a server has its own chunk store and acts "
            "as the token's owner"
        )
    backend = HttpBackend(
        url, token=token if token is not None else settings.token, pool_size=settings.workers
    )
    cache_root = cache_dir if cache_dir is not None else settings.cache_dir
    root = cache_root if cache_root is not None else default_cache_dir()
    return Client(
        backend,
        cache=ChunkCache(root, max_bytes=settings.cache_max_bytes),
        stat_cache=StatCache(root),
        workers=settings.workers,
        on_close=backend.close,
        location=backend.base_url,
    )


def open_stores(location: str, *, storage: str | None = None) -> tuple[SqlMetadataStore, ChunkStore]:
    """The metadata database and chunk store of a registry directory or database URL.

    The one place that locates a registry's stores, for the embedded SDK and the server alike: a directory
    holds ``registry.db`` and ``chunks/``; a SQLite URL's chunks default to ``chunks/`` beside the file;
    PostgreSQL needs ``storage``. The database schema is migrated to the current head on open.
    """
    database_url, default_storage = _locate(location)
    chunk_url = storage or default_storage
    if chunk_url is None:
        raise InvalidInput(f"a chunk store is required with {location.split(':', 1)[0]}: pass storage=…")
    chunks = open_chunk_store(chunk_url)
    return SqlMetadataStore(database_url), chunks


def _locate(location: str) -> tuple[str, str | None]:
    """(database URL, default chunk store URL) for a directory or a database URL."""
    if location.startswith(_DATABASE_SCHEMES):
        if location.startswith("sqlite:"):
            database = urlparse(location).path.lstrip("/")
            if database and database != ":memory:":
                return location, str(Path("/" + database).parent / "chunks")
        return location, None
    root = Path(location).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"registry location {location!r} exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'registry.db'}", f"file://{root / 'chunks'}"


def _registry_dir(location: str) -> Path | None:
    """Where an embedded registry without a cache directory keeps its stat cache: the registry directory
    (or the SQLite file's), which is on this machine like the files pushed; PostgreSQL has none."""
    database_url, _ = _locate(location)
    if not database_url.startswith("sqlite:"):
        return None
    database = urlparse(database_url).path.lstrip("/")
    return Path("/" + database).parent if database and database != ":memory:" else None


def migrate(
    source: str,
    *,
    storage: str | None = None,
    to_database: str,
    to_storage: str,
    batch_size: int = 1_000,
    verify_content: bool = True,
    workers: int = 8,
    progress: Callable[[str, int], None] | None = None,
) -> MigrationReport:
    """Copy the embedded registry at ``source`` (a directory or a database URL, chunks in ``storage``) to
    the ``to_database`` + ``to_storage`` stores, and verify the copy (``registry.migration``). The source
    is only read; the target's schema is built by Alembic. Run it again to resume an interrupted one."""
    # Imported here: the copy loads both SQL dialects, which nothing else needs.
    from modelreg.metadata.copy import MetadataCopy, check_revision  # noqa: PLC0415
    from modelreg.metadata.engine import make_engine  # noqa: PLC0415
    from modelreg.registry.migration import Migration, check_batch_size  # noqa: PLC0415

    check_batch_size(batch_size)
    source_url, source_storage = _existing(source, storage)
    if not to_database.startswith(_DATABASE_SCHEMES):
        raise InvalidInput(
            f"invalid target database URL {to_database!r}: use sqlite:///path or postgresql://…"
        )
    if to_database == source_url:
        raise InvalidInput("the target database is the source database")
    target_chunks = open_chunk_store(to_storage)
    if to_database.startswith("sqlite:"):
        database = urlparse(to_database).path.lstrip("/")
        if not database or database == ":memory:":
            raise InvalidInput(f"invalid target database URL {to_database!r}: a migration needs a file")
        try:
            Path("/" + database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InvalidInput(
                f"cannot create the target database {to_database!r}: {error.strerror}"
            ) from None
    for url, role in ((source_url, "source"), (to_database, "target")):
        engine = make_engine(url)  # checked before the stores open: opening one migrates its schema
        try:
            check_revision(engine, role=role, empty_ok=role == "target")
        finally:
            engine.dispose()
    with contextlib.ExitStack() as stack:
        source_metadata = SqlMetadataStore(source_url)
        stack.callback(source_metadata.close)
        target_metadata = SqlMetadataStore(to_database)
        stack.callback(target_metadata.close)
        copier = MetadataCopy(source_url, to_database)
        stack.callback(copier.close)
        return Migration(
            copier,
            source_metadata,
            open_chunk_store(source_storage),
            target_metadata,
            target_chunks,
            batch_size=batch_size,
            workers=workers,
            verify_content=verify_content,
            progress=progress,
        ).run()


def _existing(location: str, storage: str | None) -> tuple[str, str]:
    """(database URL, chunk store URL) of a registry that must already exist (nothing is created)."""
    if location.startswith(("http://", "https://")):
        raise InvalidInput(
            "migrate copies an embedded registry (a directory or a database URL), not a server: "
            "run it where the registry's database and chunk store are reachable"
        )
    if (
        not location.startswith(_DATABASE_SCHEMES)
        and not (Path(location).expanduser() / "registry.db").is_file()
    ):
        raise InvalidInput(f"no registry at {location!r} (no registry.db there)")
    if location.startswith("sqlite:"):
        database = urlparse(location).path.lstrip("/")
        if not database or database == ":memory:" or not Path("/" + database).is_file():
            raise InvalidInput(f"no registry at {location!r}")
    database_url, default_storage = _locate(location)
    chunk_url = storage or default_storage
    if chunk_url is None:
        raise InvalidInput(f"a chunk store is required with {location.split(':', 1)[0]}: pass --storage")
    return database_url, chunk_url


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no LOGNAME/USER
        return f"uid:{os.getuid()}"

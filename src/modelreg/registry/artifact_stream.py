"""Streaming an artifact into the chunk store, and back out verified.

In: the body arrives in pieces of any size. ``StreamCutter`` cuts it with FastCDC over a sliding window:
whenever ``_WINDOW`` bytes are buffered they are cut, every span but the last is final, and the last is
carried over to be cut again with what follows. A FastCDC cut depends only on the bytes from the chunk's
start up to the cut (at most ``MAX_CHUNK``), and every span but a buffer's last ended at a cut found inside
the buffer, so the chunks equal those of cutting the whole file at once, whatever the pieces. Memory stays
bounded by the window plus the chunks in flight.

``ChunkWriter`` hashes each chunk and stores the ones the store lacks in a small thread pool (hashlib and
the store release the GIL), at most ``_IN_FLIGHT`` at a time, while the caller goes on reading, cutting and
hashing the whole file.

Out: ``verified_chunks`` reads ahead a few chunks in a pool; the store checks each chunk's sha256, and the
whole-file digest is checked at the end. Any mismatch, or a chunk gone, is ``CorruptFile``.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from modelreg.blobs.protocol import ChunkStore
from modelreg.chunking import MAX_CHUNK, split_fastcdc
from modelreg.digest import Digest, sha256_bytes
from modelreg.errors import ChunkNotFound, CorruptFile, DigestMismatch, InvalidInput

__all__ = ["ChunkWriter", "StreamCutter", "store_stream", "verified_chunks"]

_WINDOW = 4 * MAX_CHUNK  # bytes buffered before a cut: large enough that cutting is rare, small in memory
_WORKERS = 4
_IN_FLIGHT = 8  # chunks hashed or written at once (each at most MAX_CHUNK)
_READ_AHEAD = 4

Piece = bytes | bytearray | memoryview


class StreamCutter:
    """Content-defined chunks of a stream, equal to those of ``split_fastcdc`` over the whole of it."""

    def __init__(self) -> None:
        self._carry = b""  # the unfinished last span of the previous window
        self._pieces: list[Piece] = []
        self._buffered = 0

    def feed(self, piece: Piece) -> list[memoryview]:
        """The chunks final once ``piece`` is added (maybe none)."""
        self._pieces.append(piece)
        self._buffered += len(piece)
        if len(self._carry) + self._buffered < _WINDOW:
            return []
        return self._cut(final=False)

    def finish(self) -> list[memoryview]:
        """The remaining chunks (none for an empty stream)."""
        return self._cut(final=True)

    def _cut(self, *, final: bool) -> list[memoryview]:
        buffer = b"".join([self._carry, *self._pieces])  # immutable: chunk views stay valid while in flight
        self._pieces, self._buffered = [], 0
        view = memoryview(buffer)
        spans = split_fastcdc(view, workers=1)
        done = spans if final else spans[:-1]
        self._carry = b"" if final or not spans else bytes(view[spans[-1].offset :])
        return [view[span.offset : span.offset + span.size] for span in done]


class ChunkWriter:
    """Hash and store chunks in a pool, in order; ``finish`` gives the chunk list ``[(digest, size), …]``."""

    def __init__(self, store: ChunkStore) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="modelreg-artifact")
        self._pending: deque[Future[tuple[str, int]]] = deque()
        self._done: list[tuple[str, int]] = []

    def submit(self, chunk: memoryview) -> None:
        while len(self._pending) >= _IN_FLIGHT:
            self._done.append(self._pending.popleft().result())
        self._pending.append(self._pool.submit(self._put, chunk))

    def finish(self) -> list[tuple[str, int]]:
        while self._pending:
            self._done.append(self._pending.popleft().result())
        return self._done

    def close(self) -> None:
        """Stop: chunks not started are dropped (unreferenced: garbage collection takes any written)."""
        for future in self._pending:
            future.cancel()
        self._pool.shutdown(wait=True)

    def _put(self, chunk: memoryview) -> tuple[str, int]:
        digest = sha256_bytes(chunk)
        if not self._store.exists(digest):
            # This process hashed these bytes an instant ago: the store need not hash them again.
            self._store.put(digest, chunk, verified=True)
        return digest, len(chunk)


def store_stream(store: ChunkStore, pieces: Iterable[Piece]) -> tuple[str, int, list[tuple[str, int]]]:
    """Store a stream's chunks; (whole-file digest, size, chunk list)."""
    if isinstance(pieces, bytes | bytearray | memoryview | str):
        raise InvalidInput("an artifact's content must be an iterable of byte strings (chunks of any size)")
    cutter, writer, whole, size = StreamCutter(), ChunkWriter(store), hashlib.sha256(), 0
    try:
        for piece in pieces:
            if not isinstance(piece, bytes | bytearray | memoryview):
                raise InvalidInput(f"an artifact's content must be byte strings, got {type(piece).__name__}")
            whole.update(piece)
            size += len(piece)
            for chunk in cutter.feed(piece):
                writer.submit(chunk)
        for chunk in cutter.finish():
            writer.submit(chunk)
        chunks = writer.finish()
    finally:
        writer.close()
    return "sha256:" + whole.hexdigest(), size, chunks


def verified_chunks(
    store: ChunkStore, path: str, digest: str, chunks: Sequence[tuple[str, int]]
) -> Iterator[bytes]:
    """The file's bytes, chunk by chunk, each verified, then the whole; ``CorruptFile`` on any mismatch."""
    whole = hashlib.sha256()
    pool = ThreadPoolExecutor(max_workers=_READ_AHEAD, thread_name_prefix="modelreg-artifact-read")
    try:
        ahead: deque[tuple[Future[bytes], int]] = deque()
        queue = iter(chunks)
        for chunk_digest, chunk_size in queue:
            ahead.append((pool.submit(store.get, Digest(chunk_digest)), chunk_size))
            if len(ahead) >= _READ_AHEAD:
                break
        while ahead:
            future, expected = ahead.popleft()
            following = next(queue, None)
            if following is not None:
                ahead.append((pool.submit(store.get, Digest(following[0])), following[1]))
            data = _chunk(future, path, expected)
            whole.update(data)
            yield data
        if "sha256:" + whole.hexdigest() != digest:
            raise CorruptFile(
                f"artifact {path!r}: its content does not hash to {digest}", details={"path": path}
            )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _chunk(future: Future[bytes], path: str, expected: int) -> bytes:
    try:
        data = future.result()
    except (DigestMismatch, ChunkNotFound) as error:
        raise CorruptFile(
            f"artifact {path!r} cannot be read intact: {error}", details={"path": path}
        ) from None
    if len(data) != expected:
        raise CorruptFile(
            f"artifact {path!r}: a chunk has {len(data)} bytes, {expected} expected", details={"path": path}
        )
    return data

"""Serving one file of a version over plain HTTP: ranges, validators and a verified byte stream.

For curl, browsers and tools that know nothing of chunks. The file is rebuilt from its manifest's chunk list;
the chunks are read through ``Registry.read_chunks``, which authorises the read through the version (once
per request) and verifies each chunk's sha256 (DESIGN invariant 3). The first chunk is read before the
response starts, so a missing or corrupt start is a proper JSON error; a later failure can only cut the
stream short (the ``Content-Length`` then tells the client the body is incomplete), never deliver wrong
bytes.

Semantics (RFC 9110): ``ETag`` is the quoted sha256 hex of the whole file, strong (committed files never
change); ``If-None-Match`` → 304; one ``Range: bytes=a-b`` / ``a-`` / ``-n`` → 206 with ``Content-Range``;
``If-Range`` with another validator serves the whole file; a syntactically bad or unsatisfiable byte range →
416 RANGE_NOT_SATISFIABLE; other range units, and several ranges at once, are ignored (200, whole file), as
the RFC allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from modelreg.digest import digest_hex
from modelreg.errors import RangeNotSatisfiable
from modelreg.registry.manifest import ChunkRef, FileRecord
from modelreg.registry.service import Registry

__all__ = ["ByteRange", "eager", "etag_matches", "file_headers", "parse_range", "stream"]

_BYTES_RANGE = re.compile(r"\s*bytes\s*=\s*(.*)", re.IGNORECASE)
_SPEC = re.compile(r"([0-9]*)-([0-9]*)")


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``start`` to ``end``, both included (as in ``Content-Range``)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range asked for, or None for the whole file. Raises ``RangeNotSatisfiable``."""
    if header is None:
        return None
    matched = _BYTES_RANGE.fullmatch(header)
    if matched is None or "," in matched.group(1):
        return None
    spec = _SPEC.fullmatch(matched.group(1).strip())
    if spec is None or spec.group(1) == spec.group(2) == "":
        raise _unsatisfiable(header, size)
    first, last = spec.groups()
    if first == "":  # a suffix: the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(header, size)
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    end = size - 1 if last == "" else int(last)
    if end < start or start >= size:
        raise _unsatisfiable(header, size)
    return ByteRange(start, min(end, size - 1))


def _unsatisfiable(header: str, size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"range {header[:100]!r} selects no byte of the file ({size} bytes)", details={"size": size}
    )


def etag_of(record: FileRecord) -> str:
    return f'"{digest_hex(record.digest)}"'


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` / ``If-Range`` value names this file (weak comparison: W/ ignored)."""
    if header is None:
        return False
    candidates = [value.strip().removeprefix("W/") for value in header.split(",")]
    return "*" in candidates or etag in candidates


def file_headers(record: FileRecord, media_type: str) -> dict[str, str]:
    filename = record.path.rsplit("/", 1)[-1]
    return {
        "ETag": etag_of(record),
        "Accept-Ranges": "bytes",
        "Content-Type": media_type,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
        # Committed files never change; a private cache may keep them as long as it likes.
        "Cache-Control": "private, max-age=31536000, immutable",
    }


def stream(registry: Registry, ref: str, record: FileRecord, window: ByteRange) -> Iterator[bytes]:
    """The bytes of ``window``, chunk by chunk; the first chunk is read before this returns."""
    pieces = list(_pieces(record, window))
    chunks = registry.read_chunks(ref, [chunk for chunk, _, _ in pieces])  # authorised once, not per chunk
    return eager(_cut(data, low, high) for data, (_, low, high) in zip(chunks, pieces, strict=True))


def eager(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks`` with the first one read now, so that a failure there is still a proper error response."""
    first = next(chunks, None)
    return iter(()) if first is None else _chain(first, chunks)


def _chain(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield head
    yield from rest


def _pieces(record: FileRecord, window: ByteRange) -> Iterator[tuple[ChunkRef, int, int]]:
    """(chunk, first byte, end byte exclusive) within each chunk that overlaps ``window``."""
    offset = 0
    for chunk in record.chunks:
        start, end = offset, offset + chunk.size
        offset = end
        if end <= window.start or chunk.size == 0:
            continue
        if start > window.end:
            return
        yield chunk, max(window.start - start, 0), min(window.end + 1 - start, chunk.size)


def _cut(data: bytes, low: int, high: int) -> bytes:
    return data if low == 0 and high == len(data) else data[low:high]

"""Manifests: the canonical, sorted list of a version's files, whose sha256 is the version's digest.

    {"schema": 1,
     "files": [{"path": "model/weights.safetensors", "size": 1048576, "digest": "sha256:…",
                "media_type": "application/vnd.safetensors",
                "chunks": [["sha256:…", 1048576], …]}, …]}

Canonical JSON (sorted keys, no spaces, UTF-8) so the same files always give the same digest, whatever the
order they were pushed in and whichever database stored them. Only content is covered: two versions with
identical files share a digest (like two tags of one OCI image).
"""

from __future__ import annotations

import json
import mimetypes
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from modelreg.digest import Digest, parse_digest, sha256_bytes
from modelreg.errors import InvalidInput, InvalidPath, PayloadTooLarge

__all__ = ["ChunkRef", "FileRecord", "Manifest", "canonical_json", "check_path", "media_type"]

MAX_PATH = 1024
MAX_SEGMENT = 255
MAX_FILES = 100_000
MAX_CHUNK = 64 * 1024 * 1024

_MEDIA_TYPES = {
    ".safetensors": "application/vnd.safetensors",
    ".onnx": "application/vnd.onnx",
    ".pt": "application/vnd.pytorch",
    ".pth": "application/vnd.pytorch",
    ".pkl": "application/vnd.python.pickle",
    ".pickle": "application/vnd.python.pickle",
    ".joblib": "application/vnd.joblib",
    ".gguf": "application/vnd.gguf",
    ".parquet": "application/vnd.apache.parquet",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".md": "text/markdown",
}


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def check_path(path: Any) -> str:
    """A manifest path: relative, '/'-separated, normalised; nothing that could escape a destination."""
    if not isinstance(path, str) or not path:
        raise InvalidPath(f"invalid file path {str(path)[:200]!r}: must be a non-empty string")
    shown = repr(path[:200])
    if any(ord(char) < 32 or char == "\x7f" for char in path):
        raise InvalidPath(f"invalid file path {shown}: control characters (NUL included) are not allowed")
    if "\\" in path:
        raise InvalidPath(f"invalid file path {shown}: backslashes are not allowed; use '/'")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise InvalidPath(f"invalid file path {shown}: absolute paths are not allowed")
    if len(path.encode()) > MAX_PATH:
        raise InvalidPath(f"invalid file path {shown}: longer than {MAX_PATH} bytes")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidPath(f"invalid file path {shown}: empty, '.' and '..' segments are not allowed")
        if len(segment.encode()) > MAX_SEGMENT:
            raise InvalidPath(f"invalid file path {shown}: a segment is longer than {MAX_SEGMENT} bytes")
    if unicodedata.normalize("NFC", path) != path:
        raise InvalidPath(f"invalid file path {shown}: not in Unicode NFC form")
    return path


def media_type(path: str) -> str:
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    guessed = _MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path, strict=False)[0]
    return guessed or "application/octet-stream"


@dataclass(frozen=True, slots=True)
class ChunkRef:
    digest: Digest
    size: int


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One file: its path in the version, its whole-file digest and the chunks that rebuild it."""

    path: str
    size: int
    digest: Digest
    chunks: tuple[ChunkRef, ...]

    def check(self) -> FileRecord:
        """Sizes must add up; the content digests themselves are verified against the chunk store."""
        check_path(self.path)
        if any(chunk.size < 0 or chunk.size > MAX_CHUNK for chunk in self.chunks):
            raise InvalidInput(f"file {self.path!r}: a chunk size is out of range (0..{MAX_CHUNK})")
        if sum(chunk.size for chunk in self.chunks) != self.size:
            raise InvalidInput(f"file {self.path!r}: chunk sizes do not add up to the file size {self.size}")
        return self


@dataclass(frozen=True, slots=True)
class Manifest:
    files: tuple[FileRecord, ...]

    @classmethod
    def build(cls, files: Iterable[FileRecord]) -> Manifest:
        ordered = sorted((record.check() for record in files), key=lambda record: record.path)
        if len(ordered) > MAX_FILES:
            raise PayloadTooLarge(f"too many files: {len(ordered)} (at most {MAX_FILES})")
        paths: set[str] = set()
        for record in ordered:
            if record.path in paths:
                raise InvalidPath(f"duplicate file path {record.path!r}")
            paths.add(record.path)
        for path in paths:
            parts = path.split("/")
            for depth in range(1, len(parts)):
                if "/".join(parts[:depth]) in paths:
                    raise InvalidPath(
                        f"file path {'/'.join(parts[:depth])!r} is also a directory in {path!r}"
                    )
        return cls(tuple(ordered))

    @property
    def size(self) -> int:
        return sum(record.size for record in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "files": [
                {
                    "path": record.path,
                    "size": record.size,
                    "digest": record.digest,
                    "media_type": media_type(record.path),
                    "chunks": [[chunk.digest, chunk.size] for chunk in record.chunks],
                }
                for record in self.files
            ],
        }

    def canonical(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def digest(self) -> Digest:
        return sha256_bytes(self.canonical())

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Manifest:
        return cls.build(
            FileRecord(
                path=entry["path"],
                size=entry["size"],
                digest=parse_digest(entry["digest"]),
                chunks=tuple(ChunkRef(parse_digest(d), size) for d, size in entry["chunks"]),
            )
            for entry in document["files"]
        )

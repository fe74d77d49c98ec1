"""sha256 digests: the one content name used for chunks, files and versions.

A digest is written ``sha256:<64 lowercase hex>`` everywhere it crosses a boundary (manifests, the API, the
CLI), like an OCI digest. Inside stores the bare hex is used for object keys.
"""

from __future__ import annotations

import hashlib
import re
from typing import NewType

from modelreg.errors import InvalidDigest

__all__ = ["Digest", "digest_hex", "parse_digest", "sha256_bytes"]

Digest = NewType("Digest", str)

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def parse_digest(text: str) -> Digest:
    """Validate ``sha256:<hex>``. Raises ``InvalidDigest`` for anything else (upper-case hex included)."""
    if not isinstance(text, str) or not _DIGEST.fullmatch(text):
        raise InvalidDigest(f"invalid digest {str(text)[:80]!r}: expected sha256:<64 lowercase hex>")
    return Digest(text)


def sha256_bytes(data: bytes | memoryview) -> Digest:
    """Digest of a buffer. hashlib releases the GIL for buffers over 2 KiB, so threads hash in parallel."""
    return Digest("sha256:" + hashlib.sha256(data).hexdigest())


def digest_hex(digest: Digest) -> str:
    """The 64 hex characters of a digest, for object keys and file names."""
    return digest[len("sha256:") :]

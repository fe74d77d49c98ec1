"""The digest a directory would get as a version of a given registry, computed without registering it.

An import compares a source version's files with what the target holds at that number by digest. The
digest covers the chunk lists, so it must be computed exactly as a push computes it: the same scan, the
same chunking, and the target's known files (a file the target already stores keeps its stored chunk
list). So this runs the SDK's own push (``transfer.push.push``) against a probe that answers the target's
``known_files``, claims every chunk is stored (nothing is uploaded) and captures the manifest at commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from modelreg.client.client import Client
from modelreg.digest import Digest
from modelreg.registry.manifest import Manifest
from modelreg.transfer import push as pushing
from modelreg.transfer.push import PushBackend

__all__ = ["local_digest"]


class _Captured(Exception):
    """Not an error: how the probe hands the manifest back through ``push``."""

    def __init__(self, manifest: Manifest) -> None:
        super().__init__("manifest captured")
        self.manifest = manifest


class _Probe:
    """A ``PushBackend`` that stores nothing: chunks are "present", the commit hands its manifest back."""

    def __init__(self, target: PushBackend) -> None:
        self._target = target

    def known_files(self, digests: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
        return self._target.known_files(digests)

    def missing_chunks(self, digests: Sequence[str]) -> list[str]:
        return []

    def put_chunks(self, chunks: Sequence[tuple[str, bytes | memoryview]]) -> list[bool]:
        return [False] * len(chunks)  # never called: no chunk is ever reported missing

    def commit(self, name: str, manifest: Manifest, **metadata: Any) -> NoReturn:
        raise _Captured(manifest)


def local_digest(client: Client, path: Path, *, workers: int = 4) -> Digest:
    """The version digest ``client.push(name, path)`` would produce now, with nothing stored."""
    # The SDK keeps its backend private; an import is the one caller that needs a push without a commit.
    probe = _Probe(client._backend)
    try:
        pushing.push(probe, "probe", str(path), workers=workers)
    except _Captured as captured:
        return captured.manifest.digest
    raise AssertionError("the probe's commit always raises")  # pragma: no cover

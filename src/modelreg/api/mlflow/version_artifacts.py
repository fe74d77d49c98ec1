"""A model version's files as MLflow artifacts: the read-only ``registry/<name>/<N>/…`` namespace.

MLflow's ``model-versions/get-download-uri`` answers ``mlflow-artifacts:/registry/<name>/<N>`` for every
version, however it was created, so ``mlflow.pyfunc.load_model("models:/churn/3")`` lists and downloads the
version's files through the artifact proxy. They come from the version's manifest, never from a copy: the
listing is the manifest's paths, and a download is the file's chunks, each verified by ``read_chunks``.
Reading needs ``version:pull`` on the model (``Registry.manifest`` checks it, and records the pull of a
production version when the registry audits those). Versions are immutable, so nothing here writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from modelreg.errors import ArtifactNotFound, InvalidInput
from modelreg.registry.service import Registry
from modelreg.types import ArtifactEntry

__all__ = ["NAMESPACE", "VersionPath", "is_version_path", "list_version", "open_version_file"]

NAMESPACE = "registry"
_NUMBER = re.compile(r"[1-9][0-9]{0,11}")


@dataclass(frozen=True, slots=True)
class VersionPath:
    """``registry/<name>/<N>/<file>`` split: the version reference ``name/N``, its root, the file path."""

    ref: str
    root: str  # registry/<name>/<N>
    inner: str  # the path inside the version; "" for its root


def is_version_path(path: str) -> bool:
    return path == NAMESPACE or path.startswith(f"{NAMESPACE}/")


def parse(path: str) -> VersionPath:
    """The version a ``registry/…`` path names; ``InvalidInput`` unless it is ``registry/<name>/<N>[/…]``."""
    parts = path.split("/", 3)
    if len(parts) < 3 or not _NUMBER.fullmatch(parts[2]):
        raise InvalidInput(
            f"invalid artifact path {path[:200]!r}: a model version's files are at "
            f"{NAMESPACE}/<model>/<version number>/<file>",
            details={"path": path[:200]},
        )
    name, number = parts[1], parts[2]
    return VersionPath(ref=f"{name}/{number}", root=f"{NAMESPACE}/{name}/{number}", inner=_rest(parts))


def list_version(registry: Registry, where: VersionPath) -> list[ArtifactEntry]:
    """One level of the version's files under ``where.inner``, as the artifact store lists a directory
    (paths from the namespace root; nothing for a file or a directory the version does not have)."""
    _, manifest = registry.manifest(where.ref)
    prefix = f"{where.inner}/" if where.inner else ""
    files: list[ArtifactEntry] = []
    directories: set[str] = set()
    for record in manifest.files:
        if not record.path.startswith(prefix):
            continue
        head, slash, _ = record.path[len(prefix) :].partition("/")
        if slash:
            directories.add(head)
        else:
            entry_path = f"{where.root}/{record.path}"
            files.append(ArtifactEntry(entry_path, is_dir=False, size=record.size, digest=record.digest))
    folders = [ArtifactEntry(f"{where.root}/{prefix}{name}", True, None, None) for name in directories]
    return sorted(files + folders, key=lambda entry: entry.path)


def open_version_file(registry: Registry, where: VersionPath) -> tuple[ArtifactEntry, Iterator[bytes]]:
    """The file's entry and its verified bytes, chunk by chunk (read lazily)."""
    version, manifest = registry.manifest(where.ref)
    record = next((item for item in manifest.files if item.path == where.inner), None)
    if record is None:
        shown = f"{where.root}/{where.inner}".rstrip("/")
        if not where.inner or any(item.path.startswith(f"{where.inner}/") for item in manifest.files):
            raise InvalidInput(f"artifact path refers to a directory, not a file: {shown!r}")
        raise ArtifactNotFound(f"artifact {shown!r} not found: {version.ref} has no such file")
    chunks = registry.read_chunks(version.ref, [chunk for chunk in record.chunks if chunk.size])
    entry = ArtifactEntry(f"{where.root}/{record.path}", is_dir=False, size=record.size, digest=record.digest)
    return entry, chunks


def _rest(parts: list[str]) -> str:
    return parts[3] if len(parts) == 4 else ""

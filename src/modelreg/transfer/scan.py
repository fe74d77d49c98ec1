"""Walking what the user pushes, refusing anything that could escape or surprise a later pull."""

from __future__ import annotations

import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from modelreg.errors import EmptyModel, InvalidPath, PathNotFound
from modelreg.registry.manifest import check_path

__all__ = ["LocalFile", "scan"]


@dataclass(frozen=True, slots=True)
class LocalFile:
    path: str  # the manifest path: relative, '/'-separated
    source: Path  # where to read it
    size: int
    mtime_ns: int
    # The rest of the stat fields that tell an unchanged file (see ``transfer.statcache``).
    ctime_ns: int = 0
    inode: int = 0
    device: int = 0


def scan(root: str | os.PathLike[str]) -> list[LocalFile]:
    """The files to push: a single file, or every regular file under a directory, sorted by path.

    Symlinks are followed only when they stay inside the pushed directory; symlinked directories,
    devices, sockets and FIFOs are refused, as are names that are not valid manifest paths.
    """
    base = Path(root)
    try:
        info = base.stat()
    except FileNotFoundError:
        raise PathNotFound(f"no such file or directory: {str(root)!r}") from None
    except OSError as error:
        raise InvalidPath(f"cannot read {str(root)!r}: {error.strerror}") from None
    if stat.S_ISREG(info.st_mode):
        files = [_file(check_path(base.name), base, info)]
    elif stat.S_ISDIR(info.st_mode):
        files = _walk(base)
    else:
        raise InvalidPath(f"{str(root)!r} is neither a regular file nor a directory")
    if not files:
        raise EmptyModel(f"nothing to push: {str(root)!r} holds no files")
    return sorted(files, key=lambda local: local.path)


def _file(path: str, source: Path, info: os.stat_result) -> LocalFile:
    return LocalFile(
        path=path,
        source=source,
        size=info.st_size,
        mtime_ns=info.st_mtime_ns,
        ctime_ns=info.st_ctime_ns,
        inode=info.st_ino,
        device=info.st_dev,
    )


def _walk(base: Path) -> list[LocalFile]:
    real_base = base.resolve()
    found: list[LocalFile] = []
    for directory, dirnames, filenames in os.walk(base, followlinks=False, onerror=_raise):
        for name in dirnames:
            if (Path(directory) / name).is_symlink():
                raise InvalidPath(f"symlinked directory {str(Path(directory) / name)!r} is not supported")
        for name in filenames:
            source = Path(directory) / name
            relative = source.relative_to(base).as_posix()
            if unicodedata.normalize("NFC", relative) != relative:
                raise InvalidPath(f"file name {relative!r} is not in Unicode NFC form; rename it first")
            check_path(relative)
            if source.is_symlink():
                target = source.resolve()
                if not target.is_relative_to(real_base):
                    raise InvalidPath(f"symlink {relative!r} points outside the pushed directory")
            info = source.stat()
            if not stat.S_ISREG(info.st_mode):
                raise InvalidPath(f"{relative!r} is not a regular file (device, socket, FIFO or broken link)")
            found.append(_file(relative, source, info))
    return found


def _raise(error: OSError) -> None:
    raise InvalidPath(f"cannot read {error.filename!r}: {error.strerror}")

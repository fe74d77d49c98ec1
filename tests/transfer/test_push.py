"""Large files: whole-file hash overlapped with chunking, known content reused, failures clean; many small
files uploaded together."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import modelreg
from modelreg import errors
from modelreg.transfer import push as pushing

SIZE = 40 * 1024 * 1024 + 12_345  # above the overlap threshold (32 MiB), not a multiple of anything


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("large") / "model" / "weights.bin"
    path.parent.mkdir()
    path.write_bytes(os.urandom(SIZE))
    return path


def test_a_new_large_file_round_trips(large: Path, tmp_path: Path) -> None:
    with modelreg.connect(tmp_path / "registry", actor="alice") as reg:
        version = reg.push("m", large.parent)
        stats = reg.last_push
        assert stats is not None
        assert (stats.bytes_hashed, stats.bytes_stored) == (SIZE, SIZE)
        assert stats.chunks_stored == stats.chunks_total > 10
        expected = "sha256:" + hashlib.sha256(large.read_bytes()).hexdigest()
        assert [(f.path, f.size, f.digest) for f in version.files] == [("weights.bin", SIZE, expected)]
        pulled = Path(reg.pull("m/1", dest=tmp_path / "out"))
        assert (pulled / "weights.bin").read_bytes() == large.read_bytes()


def test_a_known_large_file_at_a_new_path_stores_nothing(large: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy" / "renamed.bin"
    copy.parent.mkdir()
    shutil.copyfile(large, copy)
    with modelreg.connect(tmp_path / "registry", actor="alice") as reg:
        first = reg.push("m", large.parent)
        second = reg.push("other", copy.parent)
        stats = reg.last_push
        assert stats is not None and (stats.bytes_stored, stats.bytes_hashed) == (0, SIZE)
        assert stats.chunks_total == 0  # its first chunk was stored: hashed first, found known, not chunked
        assert second.files[0].digest == first.files[0].digest
        pulled = Path(reg.pull("other", dest=tmp_path / "out"))
        assert (pulled / "renamed.bin").read_bytes() == large.read_bytes()


def test_a_store_failure_during_a_large_push_registers_nothing(large: Path, tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    with modelreg.connect(registry, actor="alice") as reg:
        (registry / "chunks").mkdir(exist_ok=True)
        for name in ("tmp", "sha256"):  # files where the store's directories go: every put fails
            (registry / "chunks" / name).write_text("in the way")
        with pytest.raises(errors.StorageUnavailable) as caught:
            reg.push("m", large.parent)
        assert caught.value.code == "STORAGE_UNAVAILABLE"
        with pytest.raises(errors.ModelNotFound):
            reg.get_model("m")


def test_a_large_file_sharing_only_its_start_with_a_stored_one_stores_the_rest(
    large: Path, tmp_path: Path
) -> None:
    edited = tmp_path / "edited" / "weights.bin"
    edited.parent.mkdir()
    data = bytearray(large.read_bytes())
    data[-1000:] = os.urandom(1000)  # the same first chunks, a different file
    edited.write_bytes(data)
    with modelreg.connect(tmp_path / "registry", actor="alice") as reg:
        reg.push("m", large.parent)
        version = reg.push("m", edited.parent)
        stats = reg.last_push
        assert stats is not None and stats.bytes_hashed == SIZE
        assert 0 < stats.bytes_stored < 8 * 1024 * 1024  # the last chunk or two, not the file
        assert version.files[0].digest == "sha256:" + hashlib.sha256(data).hexdigest()
        pulled = Path(reg.pull("m/2", dest=tmp_path / "out"))
        assert (pulled / "weights.bin").read_bytes() == bytes(data)


class Counting:
    """A registry backend that counts the calls a push makes on it (and makes them)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.backend, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted


def test_many_small_new_files_are_uploaded_together_in_a_few_calls(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    parts = {f"part-{n:03}.bin": os.urandom(1000 + n) for n in range(300)}
    for name, data in parts.items():
        (model / name).write_bytes(data)
    (model / "empty.txt").write_bytes(b"")
    with modelreg.connect(tmp_path / "registry", actor="alice") as reg:
        counting = Counting(reg._backend)  # the embedded registry itself
        version, stats = pushing.push(counting, "many", str(model))
        # 300 one-chunk files: two batches of chunks (256 + 44), each asked about once and uploaded in
        # calls of at most 64 chunks; before, each file cost one question and one upload of its own.
        assert dict(counting.calls) == {"known_files": 1, "missing_chunks": 2, "put_chunks": 5, "commit": 1}
        assert (stats.files, stats.chunks_total, stats.chunks_stored) == (301, 300, 300)
        assert stats.bytes_stored == sum(len(data) for data in parts.values())
        assert {f.path: f.size for f in version.files} == {"empty.txt": 0} | {
            name: len(data) for name, data in parts.items()
        }
        pulled = Path(reg.pull("many/1", dest=tmp_path / "out"))
        assert {p.name: p.read_bytes() for p in pulled.iterdir()} == {"empty.txt": b""} | parts
        again = Counting(reg._backend)
        pushing.push(again, "many", str(model))  # all known now: nothing cut, asked about or uploaded
        assert again.calls["put_chunks"] == 0 and again.calls["known_files"] == 1

"""Content is stored once: re-pushes move nothing; edits re-store only the chunks they touch (DESIGN §3)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from modelreg.client.client import Client
from tests.conftest import tree_bytes

MiB = 1024 * 1024


def store_usage(storage_url: str) -> tuple[int, int]:
    """(files, bytes) of everything in the chunk store directory, temp area included."""
    paths = [path for path in Path(storage_url.removeprefix("file://")).rglob("*") if path.is_file()]
    return len(paths), sum(path.stat().st_size for path in paths)


def test_pushing_the_same_directory_twice_stores_nothing(
    reg: Client, model_dir: Path, storage_url: str
) -> None:
    first = reg.push("twice", model_dir)
    assert reg.last_push is not None
    assert reg.last_push.bytes_stored > 3_000_000
    usage = store_usage(storage_url)

    second = reg.push("twice", model_dir)
    stats = reg.last_push
    assert stats is not None
    assert (stats.bytes_stored, stats.chunks_stored) == (0, 0)
    assert stats.bytes_total == sum(len(data) for data in tree_bytes(model_dir).values())
    assert store_usage(storage_url) == usage
    assert (second.version, second.digest) == (2, first.digest)

    reg.push("another-model", model_dir)  # dedup is across models too
    assert reg.last_push is not None and reg.last_push.bytes_stored == 0
    assert store_usage(storage_url) == usage


def test_one_byte_edit_in_a_plain_file_restores_few_chunks(reg: Client, tmp_path: Path) -> None:
    data = bytearray(os.urandom(20 * 1000 * 1000))
    source = tmp_path / "src" / "model.onnx"
    source.parent.mkdir()
    source.write_bytes(data)
    reg.push("plain", source)
    assert reg.last_push is not None
    assert reg.last_push.chunks_total >= 10  # content-defined chunks of about 1 MiB, not one blob

    data[len(data) // 2] ^= 0x01
    source.write_bytes(data)
    edited = reg.push("plain", source)
    stats = reg.last_push
    assert stats is not None
    assert 1 <= stats.chunks_stored <= 3
    assert 0 < stats.bytes_stored <= 3 * 4 * MiB
    assert edited.version == 2

    pulled = Path(reg.pull("plain/2", dest=tmp_path / "v2")) / "model.onnx"
    assert pulled.read_bytes() == data
    data[len(data) // 2] ^= 0x01
    pulled = Path(reg.pull("plain/1", dest=tmp_path / "v1")) / "model.onnx"
    assert pulled.read_bytes() == data


def write_safetensors(path: Path, tensors: dict[str, bytes], metadata: dict[str, str]) -> int:
    """Write the format by hand (8-byte LE header length, JSON header, raw data); returns the header size."""
    header: dict[str, object] = {"__metadata__": metadata}
    offset = 0
    for name, data in tensors.items():
        header[name] = {
            "dtype": "F32",
            "shape": [len(data) // 4],
            "data_offsets": [offset, offset + len(data)],
        }
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    with open(path, "wb") as handle:
        handle.write(len(encoded).to_bytes(8, "little") + encoded)
        for data in tensors.values():
            handle.write(data)
    return 8 + len(encoded)


def tensor_sizes(pick: random.Random) -> list[int]:
    """64 float32 tensors of varied sizes: 8 small ones (biases, norms) and 56 between 0.5 and 2 MiB."""
    small = [4 * pick.randint(256, 16 * 1024) for _ in range(8)]
    large = [4 * pick.randint(128 * 1024, 512 * 1024) for _ in range(56)]
    sizes = small + large
    pick.shuffle(sizes)
    return sizes


@pytest.mark.slow
# Where to cut is decided client-side, the same for both SDKs; the cheaper tests above cover dedup over HTTP.
@pytest.mark.parametrize("reg", ["embedded"], indirect=True)
def test_rewriting_three_tensors_restores_only_those_tensors(reg: Client, tmp_path: Path) -> None:
    pick = random.Random(2024)
    tensors = {f"layers.{i}.weight": os.urandom(size) for i, size in enumerate(tensor_sizes(pick))}
    assert len(tensors) == 64 and sum(map(len, tensors.values())) >= 64 * MiB
    (tmp_path / "v1").mkdir()
    write_safetensors(tmp_path / "v1" / "model.safetensors", tensors, {"step": "900"})
    reg.push("llm", tmp_path / "v1")

    # A fine-tuning step: three tensors (of chunkable size) change, and the metadata grows by one byte,
    # which moves every tensor in the file by one byte.
    changed = pick.sample([name for name, data in tensors.items() if len(data) >= MiB // 2], 3)
    tensors_v2 = {name: os.urandom(len(data)) if name in changed else data for name, data in tensors.items()}
    (tmp_path / "v2").mkdir()
    header_size = write_safetensors(tmp_path / "v2" / "model.safetensors", tensors_v2, {"step": "1000"})
    reg.push("llm", tmp_path / "v2")

    stats = reg.last_push
    assert stats is not None
    changed_bytes = sum(len(tensors_v2[name]) for name in changed)
    assert changed_bytes <= stats.bytes_stored <= 1.1 * changed_bytes + header_size
    assert stats.chunks_stored < stats.chunks_total / 10

    for number, folder in [(1, "v1"), (2, "v2")]:
        pulled = Path(reg.pull(f"llm/{number}", dest=tmp_path / f"pulled-{number}"))
        assert tree_bytes(pulled) == tree_bytes(tmp_path / folder)

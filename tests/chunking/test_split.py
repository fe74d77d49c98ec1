"""Cutting files into chunks: exact coverage, stable cuts, and re-storing little after an edit.

Safetensors files are written here by hand (8-byte little-endian header length, JSON header, raw tensor
bytes), exactly as the format specifies, so the tests need no safetensors package.
"""

from __future__ import annotations

import array
import hashlib
import json
import mmap
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from modelreg.chunking import (
    BLOCK_SIZE,
    MAX_CHUNK,
    MIN_CHUNK,
    Span,
    split,
    split_fastcdc,
    split_safetensors,
)

MiB = 1024 * 1024
Tensor = tuple[str, bytes]


def random_bytes(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(rng.randbytes(min(MiB, size - start)) for start in range(0, size, MiB))


def safetensors(tensors: Sequence[Tensor], *, gaps: Sequence[int] = (), trailer: bytes = b"") -> bytes:
    """A safetensors file holding ``tensors`` in order; ``gaps[i]`` unclaimed bytes before tensor i."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    body = bytearray()
    for index, (name, data) in enumerate(tensors):
        body += b"\xee" * (gaps[index] if index < len(gaps) else 0)
        dtype, shape = ("F32", [len(data) // 4]) if len(data) % 4 == 0 else ("U8", [len(data)])
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(body), len(body) + len(data)]}
        body += data
    raw = json.dumps(header, sort_keys=True).encode()
    raw += b" " * (-len(raw) % 8)  # the reference writer pads the header to 8 bytes
    return len(raw).to_bytes(8, "little") + raw + bytes(body) + trailer


def header_size(data: bytes) -> int:
    return 8 + int.from_bytes(data[:8], "little")


def assert_exact_cover(spans: list[Span], size: int) -> None:
    position = 0
    for span in spans:
        assert span.offset == position and span.size > 0, span
        position += span.size
    assert position == size


def content_ids(data: bytes, spans: list[Span]) -> list[bytes]:
    return [hashlib.sha256(data[s.offset : s.offset + s.size]).digest() for s in spans]


def new_bytes(before: bytes, after: bytes, cut: object = split) -> int:
    """Bytes of ``after`` in chunks that ``before`` did not already have: what a push would upload."""
    assert callable(cut)
    known = set(content_ids(before, cut(before)))
    spans = cut(after)
    return sum(s.size for s, cid in zip(spans, content_ids(after, spans), strict=True) if cid not in known)


# --- FastCDC ---------------------------------------------------------------------------------------------


def test_empty_and_tiny_buffers() -> None:
    assert split(b"") == []
    assert split_fastcdc(b"") == []
    assert split(b"abc") == [Span(0, 3)]


def test_fastcdc_covers_exactly_with_bounded_sizes_near_1_mib() -> None:
    data = random_bytes(64 * MiB, seed=1)
    spans = split(data)
    assert_exact_cover(spans, len(data))
    assert all(MIN_CHUNK <= s.size <= MAX_CHUNK for s in spans[:-1])
    assert 0 < spans[-1].size <= MAX_CHUNK
    assert 0.75 * MiB <= len(data) / len(spans) <= 1.3 * MiB


def test_fastcdc_is_deterministic_and_the_same_on_any_number_of_threads() -> None:
    data = random_bytes(100 * MiB, seed=2)
    serial = split_fastcdc(data, workers=1)
    assert split_fastcdc(data, workers=1) == serial
    for workers in (2, 3):
        assert split_fastcdc(data, workers=workers) == serial


@pytest.mark.parametrize(
    "data",
    [bytes(80 * MiB), b"0123456789abcdef-" * (5 * MiB), random_bytes(3 * MiB, seed=10) + bytes(130 * MiB)],
    ids=["zeros", "periodic", "random_then_zeros"],
)
def test_parallel_cuts_match_serial_on_degenerate_content(data: bytes) -> None:
    # Zeros have no cut points, so every chunk is MAX_CHUNK long. After a random prefix the serial cuts sit
    # off the segments' grid and never meet them: stitching must walk serially and still agree.
    serial = split_fastcdc(data, workers=1)
    assert split_fastcdc(data, workers=2) == serial
    assert split_fastcdc(data, workers=4) == serial
    assert_exact_cover(serial, len(data))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("shape", ["random", "zeros", "periodic"])
def test_the_first_cut_needs_only_the_first_max_chunk_bytes(seed: int, shape: str) -> None:
    """A push probes a large file's first chunk from its first MAX_CHUNK bytes (``transfer.push``)."""
    data = {
        "random": random_bytes(12 * MiB, seed=seed),
        "zeros": bytes(12 * MiB),
        "periodic": (b"%d-abcdefghijklmnop" % seed) * (12 * MiB // 19),
    }[shape]
    assert split_fastcdc(data[:MAX_CHUNK], workers=1)[0] == split_fastcdc(data)[0]


def test_a_shifting_insert_changes_only_nearby_chunks() -> None:
    before = random_bytes(32 * MiB, seed=3)
    after = before[: 10 * MiB] + b"inserted!" * 11 + before[10 * MiB :]
    spans = split(after)
    changed = len(set(content_ids(after, spans)) - set(content_ids(before, split(before))))
    assert 1 <= changed <= 3
    assert new_bytes(before, after) <= 3 * MAX_CHUNK
    deleted = before[: 20 * MiB] + before[20 * MiB + 5000 :]
    assert new_bytes(before, deleted) <= 3 * MAX_CHUNK


def test_accepts_bytearray_memoryview_and_mmap_without_holding_them(tmp_path: Path) -> None:
    data = random_bytes(8 * MiB, seed=4)
    expected = split(data)
    assert split(bytearray(data)) == expected
    assert split(memoryview(data)) == expected
    ints = array.array("i", data)  # a non-byte buffer format is cut by its bytes
    assert split(memoryview(ints)) == expected
    path = tmp_path / "weights.bin"
    path.write_bytes(data)
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert split(mapped) == expected
    # Leaving the with-block closed the map: that raises BufferError if a view of it were still alive.
    big = random_bytes(70 * MiB, seed=11)
    path.write_bytes(big)
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert split_fastcdc(mapped, workers=2) == split_fastcdc(big, workers=1)  # threads, then close


# --- safetensors: layout ---------------------------------------------------------------------------------


def model(seed: int = 5) -> list[Tensor]:
    """64 tensors like a small transformer: large matrices (0.5–3 MiB) interleaved with tiny biases/norms."""
    rng = random.Random(seed)
    tensors: list[Tensor] = []
    for index in range(64):
        layer, kind = divmod(index, 8)
        matrix = kind < 5
        size = rng.randrange(MiB // 2, 3 * MiB) if matrix else rng.randrange(64, 64 * 1024)
        tensors.append(
            (f"layers.{layer}.{kind}.{'weight' if matrix else 'bias'}", rng.randbytes(size // 4 * 4))
        )
    return tensors


def test_safetensors_spans_follow_tensors() -> None:
    tensors = model()
    data = safetensors(tensors)
    spans = split(data)
    assert spans == split_safetensors(data)
    assert_exact_cover(spans, len(data))
    assert spans[0] == Span(0, header_size(data))
    assert all(s.size <= MAX_CHUNK for s in spans)
    starts = {s.offset for s in spans}
    offset = header_size(data)
    for _, tensor in tensors:
        if len(tensor) >= MIN_CHUNK:
            blocks = [s for s in spans if offset <= s.offset < offset + len(tensor)]
            assert blocks[0].offset == offset and offset in starts
            assert all(b.size == BLOCK_SIZE for b in blocks[:-1])
            assert MIN_CHUNK <= blocks[-1].size < BLOCK_SIZE + MIN_CHUNK
            assert sum(b.size for b in blocks) == len(tensor)
        offset += len(tensor)


def test_tensor_tails_shorter_than_min_chunk_join_the_previous_block() -> None:
    data = safetensors([("a", bytes(3 * MiB + 1000)), ("b", bytes(2 * MiB + MIN_CHUNK)), ("c", bytes(MiB))])
    start = header_size(data)
    assert split(data)[1:] == [
        Span(start, MiB),
        Span(start + MiB, MiB),
        Span(start + 2 * MiB, MiB + 1000),
        Span(start + 3 * MiB + 1000, MiB),
        Span(start + 4 * MiB + 1000, MiB),
        Span(start + 5 * MiB + 1000, MIN_CHUNK),
        Span(start + 5 * MiB + 1000 + MIN_CHUNK, MiB),
    ]


def test_gaps_and_trailing_bytes_are_covered() -> None:
    tensors = [("a", bytes(2 * MiB)), ("b", bytes(100)), ("c", bytes(MiB)), ("d", bytes(500_000))]
    data = safetensors(tensors, gaps=[0, 64, 2 * MiB + 7, 13], trailer=b"\x01" * 99)
    spans = split_safetensors(data)
    assert spans is not None
    assert_exact_cover(spans, len(data))
    assert all(s.size <= MAX_CHUNK for s in spans)
    # The 2 MiB hole is cut like a tensor, so "c" still starts a span of its own.
    c_start = header_size(data) + 2 * MiB + 64 + 100 + 2 * MiB + 7
    assert Span(c_start, MiB) in spans or Span(c_start, MiB + 13) in spans


def test_headers_without_tensors_and_empty_tensors() -> None:
    only_header = safetensors([])
    assert split(only_header) == [Span(0, len(only_header))]
    data = safetensors([("empty", b""), ("big", bytes(MiB)), ("also_empty", b""), ("small", b"1234")])
    spans = split_safetensors(data)
    assert spans is not None
    assert_exact_cover(spans, len(data))


def test_a_long_run_of_small_tensors_is_packed_into_groups() -> None:
    rng = random.Random(6)
    small = [(f"norm.{i}", rng.randbytes(rng.randrange(1024, 64 * 1024))) for i in range(600)]
    data = safetensors(small)
    spans = split(data)[1:]
    assert_exact_cover(split(data), len(data))
    assert all(MIN_CHUNK <= s.size <= MAX_CHUNK for s in spans[:-1])
    assert 0.6 * MiB <= sum(s.size for s in spans) / len(spans) <= 1.6 * MiB


@pytest.mark.parametrize("position", [3, 50, 150, 290, 420, 555])
def test_inserting_a_small_tensor_changes_only_its_own_group(position: int) -> None:
    rng = random.Random(7)
    small = [(f"norm.{i}", rng.randbytes(rng.randrange(1024, 64 * 1024))) for i in range(600)]
    before = safetensors(small)
    after = safetensors([*small[:position], ("inserted.bias", rng.randbytes(3000)), *small[position:]])
    header = header_size(after)
    # Its group, maybe the next: ~1–2 MiB of ~20 MiB, where a fixed grouping would re-store everything after.
    assert new_bytes(before, after) - header <= 2 * MAX_CHUNK
    assert new_bytes(before, after) - header < (len(after) - header) // 4


# --- safetensors: dedup after an edit ----------------------------------------------------------------------


def test_rewriting_tensors_and_inserting_one_restores_about_the_changed_bytes() -> None:
    tensors = model()
    before = safetensors(tensors)
    assert len(before) >= 64 * MiB
    rng = random.Random(8)
    edited = list(tensors)
    for index in (3, 17, 42):  # fine-tune three matrices: same names and sizes, new values
        edited[index] = (tensors[index][0], rng.randbytes(len(tensors[index][1])))
    inserted = ("layers.4.extra.bias", rng.randbytes(12_288))
    edited.insert(37, inserted)
    after = safetensors(edited)
    changed = sum(len(tensors[i][1]) for i in (3, 17, 42)) + len(inserted[1])

    restored = new_bytes(before, after)
    assert restored <= 1.1 * changed + header_size(after)
    assert restored >= changed  # every changed byte has to travel
    # For comparison, the same edit cut by content alone: the shifts cost FastCDC many more bytes.
    assert new_bytes(before, after, split_fastcdc) > restored


# --- safetensors: anything else falls back to FastCDC ----------------------------------------------------


def header_of(entries: object) -> bytes:
    raw = json.dumps(entries).encode()
    return len(raw).to_bytes(8, "little") + raw


JUNK = {
    "random": random_bytes(3 * MiB, seed=9),
    "too_short": b"\x05\x00\x00",
    "length_past_end": (10**6).to_bytes(8, "little") + b'{"a": 1}',
    "huge_length": (2**64 - 1).to_bytes(8, "little") + b"{}" + bytes(2 * MiB),
    "not_json": (6).to_bytes(8, "little") + b"{oops}" + bytes(MiB),
    "not_utf8": (4).to_bytes(8, "little") + b'{"\xff"' + bytes(MiB),
    "json_list": header_of([1, 2]),
    "deep_nesting": (200_003).to_bytes(8, "little") + b'{"a":' + b"[" * 199_998 + bytes(MiB),
    "offsets_past_end": header_of({"t": {"dtype": "U8", "shape": [9], "data_offsets": [0, 2 * MiB]}})
    + bytes(MiB),
    "negative_offset": header_of({"t": {"data_offsets": [-5, 10]}}) + bytes(MiB),
    "reversed_offsets": header_of({"t": {"data_offsets": [10, 5]}}) + bytes(MiB),
    "float_offsets": header_of({"t": {"data_offsets": [0.0, 5.0]}}) + bytes(MiB),
    "bool_offsets": header_of({"t": {"data_offsets": [False, True]}}) + bytes(MiB),
    "missing_offsets": header_of({"t": {"dtype": "F32", "shape": [1]}}) + bytes(MiB),
    "entry_not_a_dict": header_of({"t": [0, 4]}) + bytes(MiB),
    "overlapping": header_of({"t": {"data_offsets": [0, 600]}, "u": {"data_offsets": [500, 900]}})
    + bytes(MiB),
}


@pytest.mark.parametrize("name", sorted(JUNK))
def test_junk_and_broken_headers_fall_back_to_fastcdc(name: str) -> None:
    data = JUNK[name]
    assert split_safetensors(data) is None
    spans = split(data)
    assert spans == split_fastcdc(data)
    assert_exact_cover(spans, len(data))


def test_a_truncated_safetensors_file_falls_back() -> None:
    data = safetensors(model()[:8])
    assert split_safetensors(data) is not None
    for cut_at in (4, 8, header_size(data) - 1, header_size(data) + 10, len(data) - 1):
        truncated = data[:cut_at]
        assert split_safetensors(truncated) is None
        assert_exact_cover(split(truncated), len(truncated))

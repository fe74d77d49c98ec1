"""Safetensors-aware cutting: chunks that follow tensors, so an edit re-stores only the tensors it touched.

Layout (https://github.com/huggingface/safetensors)::

    [8 bytes: N, little-endian u64][N bytes: JSON header][data section]
    header = {"__metadata__": {…},
              "<tensor name>": {"dtype": "F16", "shape": [4096, 4096], "data_offsets": [begin, end]}, …}

Offsets are relative to the data section. Inserting a tensor shifts every later tensor in the file, so a
fixed grid or even FastCDC would re-store chunks around every shift; cutting relative to each tensor's own
start keeps every unchanged tensor's chunks byte-identical. The rules, in order:

- the header (8 bytes + JSON) is its own span (or several BLOCK_SIZE ones if huge): it changes on any edit;
- a tensor of at least MIN_CHUNK bytes is cut into BLOCK_SIZE blocks from its first byte; a tail shorter
  than MIN_CHUNK joins the block before it instead of becoming a tiny object;
- consecutive smaller tensors (biases, norms) are packed into groups. A group closes after a tensor chosen
  by a hash of its *name*, with probability proportional to its size (like a CDC cut at one of its bytes),
  once the group holds MIN_CHUNK bytes; a group never exceeds MAX_CHUNK. Inserting or rewriting one small
  tensor therefore changes its own group (rarely the next one too), never all the following groups. Names,
  not bytes, drive the choice so that cutting reads only the header: no page of tensor data is touched;
- bytes no tensor claims (padding, trailing data) join the span before them when small, else are cut in
  blocks like a tensor. Every span is non-empty and at most MAX_CHUNK bytes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field

from modelreg.chunking.fastcdc import AVG_CHUNK, MAX_CHUNK, MIN_CHUNK, Buffer, Span

__all__ = ["BLOCK_SIZE", "split_safetensors"]

BLOCK_SIZE = 1024 * 1024

# The reference implementation refuses larger headers; so do we, rather than parse 100 MB of JSON.
_MAX_HEADER = 100_000_000
# Mean bytes between group cuts once a group reached MIN_CHUNK, so groups average about AVG_CHUNK.
_GROUP_CUT_BYTES = AVG_CHUNK - MIN_CHUNK


@dataclass(frozen=True, slots=True)
class _Tensor:
    begin: int  # absolute offsets in the file
    end: int
    name: str


def split_safetensors(data: Buffer) -> list[Span] | None:
    """Spans for a safetensors buffer, or None when it is not one (never raises on junk)."""
    view = memoryview(data).cast("B")
    parsed = _parse(view)
    if parsed is None:
        return None
    data_start, tensors = parsed
    cutter = _Cutter()
    cutter.blocks(data_start)
    for tensor in tensors:
        cutter.unclaimed(tensor.begin)
        if tensor.end - tensor.begin >= MIN_CHUNK:
            cutter.blocks(tensor.end)
        else:
            cutter.small(tensor.end, tensor.name)
    cutter.unclaimed(len(view))
    cutter.close_group()
    return cutter.spans


def _parse(view: memoryview) -> tuple[int, list[_Tensor]] | None:
    """(start of the data section, tensors sorted by offset), or None if the layout is not valid."""
    header = _header(view)
    if header is None:
        return None
    data_start = 8 + int.from_bytes(view[:8], "little")
    tensors: list[_Tensor] = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        tensor = _tensor(name, entry, data_start, len(view))
        if tensor is None:
            return None
        tensors.append(tensor)
    tensors.sort(key=lambda tensor: (tensor.begin, tensor.end))
    if any(later.begin < earlier.end for earlier, later in itertools.pairwise(tensors)):
        return None  # overlapping tensors: not something a safetensors writer produces
    return data_start, tensors


def _header(view: memoryview) -> dict[str, object] | None:
    if len(view) < 10:
        return None
    header_size = int.from_bytes(view[:8], "little")
    if header_size < 2 or header_size > min(_MAX_HEADER, len(view) - 8) or view[8] != ord("{"):
        return None
    try:
        header = json.loads(bytes(view[8 : 8 + header_size]))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return header if isinstance(header, dict) else None


def _tensor(name: str, entry: object, data_start: int, size: int) -> _Tensor | None:
    if not isinstance(entry, dict):
        return None
    offsets = entry.get("data_offsets")
    if not (isinstance(offsets, list) and len(offsets) == 2):
        return None
    begin, end = offsets
    # bool is an int subclass; true/false offsets are junk, not 1 and 0.
    if type(begin) is not int or type(end) is not int or not 0 <= begin <= end <= size - data_start:
        return None
    return _Tensor(data_start + begin, data_start + end, name)


def _closes_group(name: str, size: int) -> bool:
    # A uniform 64-bit value from the name, below size/_GROUP_CUT_BYTES of the range: P(cut) ∝ size.
    key = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(key, "little") * _GROUP_CUT_BYTES < size << 64


@dataclass(slots=True)
class _Cutter:
    """Covers the buffer left to right; ``pos`` is the first byte no span or open group covers yet."""

    spans: list[Span] = field(default_factory=list)
    pos: int = 0
    group_start: int | None = None

    def blocks(self, end: int) -> None:
        """Cover [pos, end) with BLOCK_SIZE blocks aligned to pos; a tail under MIN_CHUNK joins the last."""
        self.close_group()
        full, tail = divmod(end - self.pos, BLOCK_SIZE)
        if full and 0 < tail < MIN_CHUNK:
            full -= 1
            tail += BLOCK_SIZE
        for _ in range(full):
            self._emit(self.pos + BLOCK_SIZE)
        if tail:
            self._emit(self.pos + tail)

    def small(self, end: int, name: str) -> None:
        """Add a tensor under MIN_CHUNK to the open group, maybe closing it after this tensor."""
        size = end - self.pos
        group_start = self._join_group(end)
        if end - group_start >= MIN_CHUNK and _closes_group(name, size):
            self.close_group()

    def unclaimed(self, end: int) -> None:
        """Cover bytes no tensor claims: small runs ride along with the span before, large ones get blocks."""
        size = end - self.pos
        if size >= MIN_CHUNK:
            self.blocks(end)
        elif size and self.group_start is None and self.spans and self.spans[-1].size + size <= MAX_CHUNK:
            last = self.spans.pop()
            self.spans.append(Span(last.offset, last.size + size))
            self.pos = end
        elif size:
            self._join_group(end)

    def close_group(self) -> None:
        if self.group_start is not None and self.pos > self.group_start:  # empty tensors make no span
            self.spans.append(Span(self.group_start, self.pos - self.group_start))
        self.group_start = None

    def _join_group(self, end: int) -> int:
        """Extend the open group (or open one) to ``end``; returns where the group starts."""
        if self.group_start is not None and end - self.group_start > MAX_CHUNK:
            self.close_group()
        if self.group_start is None:
            self.group_start = self.pos
        self.pos = end
        return self.group_start

    def _emit(self, end: int) -> None:
        self.spans.append(Span(self.pos, end - self.pos))
        self.pos = end

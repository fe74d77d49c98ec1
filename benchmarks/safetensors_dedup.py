"""Deduplication of an edited safetensors file: how many bytes a second version stores, against what changed.

The file is written by hand in the safetensors layout (8-byte little-endian header length, a JSON header
``{name: {"dtype", "shape", "data_offsets"}}``, then the raw tensor bytes), 512 MiB in 64 tensors shaped
like a small transformer: 9 blocks of 7 tensors (two F32 norms, an F16 bias, four F16 weight matrices of
4.5–18 MiB) plus an F16 embedding. Tensor bytes are random, so nothing dedups by accident.

Each run (default 3, each with its own seed, so different tensors and bytes) pushes, to a fresh registry:

1. v1, the original file;
2. v2, v1 with 3 of the 64 tensors rewritten (three weight matrices, same shape, new random bytes);
3. v3, v1 with 3 other rewrites of the same tensors *and* one small tensor (an F16 bias of 9 KiB) inserted
   in the middle of the file, which shifts the offset of every tensor after it.

The figure is ``reg.last_push.bytes_stored`` of v2 (and of v3) divided by the bytes of the tensors that
changed (rewritten + inserted); the target is ≤ 1.1. The header, which changes on any edit, counts as
stored. v3's rewrites use different bytes from v2's, so nothing v3 stores was already stored by v2.

Data lives in ``benchmarks/.data/`` (about 1.5 GiB of files + 0.6 GiB of chunks) and is removed at the end.

Run:  .venv/bin/python benchmarks/safetensors_dedup.py [--runs 3]
"""

from __future__ import annotations

import json
import os
import random
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import modelreg
from _common import Report, banner, parse_args, require, scratch_dir, summarise

TARGET_RATIO = 1.1
HIDDEN = 1536
BLOCKS = 9
FILE_SIZE = 512 * 1024 * 1024
_DTYPE_SIZE = {"F16": 2, "F32": 4}


@dataclass(frozen=True, slots=True)
class Tensor:
    name: str
    dtype: str
    shape: tuple[int, ...]
    key: int  # identity of the bytes: tensors with the same key hold the same bytes (see ``_Bytes``)

    @property
    def nbytes(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count * _DTYPE_SIZE[self.dtype]


class _Bytes(dict[int, bytes]):
    """Tensor bytes by key, drawn from os.urandom on first use (random.randbytes is 5x slower here)."""

    def of(self, tensor: Tensor) -> bytes:
        if tensor.key not in self:
            self[tensor.key] = os.urandom(tensor.nbytes)
        return self[tensor.key]


def main() -> int:
    args = parse_args(__doc__ or "", runs=3)
    banner(f"safetensors_dedup: 512 MiB, 64 tensors, {args.runs} runs")
    report = Report("safetensors_dedup", args.json)
    results: dict[str, list[float]] = {"rewrite": [], "insert": [], "rewrite_pct": [], "insert_pct": []}
    with scratch_dir("safetensors") as root:
        for run in range(args.runs):
            figures = _one_run(root / f"run{run}", seed=run + 1)
            for key, value in figures.items():
                results[key].append(value)
    for key, label in (
        ("rewrite", "3 of 64 tensors rewritten"),
        ("insert", "3 rewritten + 1 small inserted"),
    ):
        ratio = summarise(results[key])
        report.add(
            f"{label}: stored / changed bytes",
            f"{ratio.median:.4f}",
            ratio.spread(".4f"),
            f"≤ {TARGET_RATIO}",
            ratio.median <= TARGET_RATIO,
        )
        share = summarise(results[f"{key}_pct"])
        report.add(f"{label}: stored / file size (%)", f"{share.median:.2f}", share.spread(".2f"))
    return report.finish()


def _one_run(work: Path, *, seed: int) -> dict[str, float]:
    work.mkdir()
    rng = random.Random(seed)
    v1 = _layout(rng)
    # Rewrite three weight matrices (never the first or last tensor, so the edits sit inside the file).
    matrices = [i for i, tensor in enumerate(v1) if tensor.nbytes >= 1024 * 1024 and 0 < i < len(v1) - 1]
    picked = sorted(rng.sample(matrices, 3))
    v2 = [replace(t, key=rng.getrandbits(64)) if i in picked else t for i, t in enumerate(v1)]
    v3 = [replace(t, key=rng.getrandbits(64)) if i in picked else t for i, t in enumerate(v1)]
    middle = len(v3) // 2
    inserted = Tensor(f"blocks.{middle // 7}.inserted.bias", "F16", (4608,), rng.getrandbits(64))
    v3.insert(middle, inserted)
    rewritten = sum(v1[i].nbytes for i in picked)
    files = {name: work / f"{name}.safetensors" for name in ("v1", "v2", "v3")}
    blobs = _Bytes()
    for name, tensors in (("v1", v1), ("v2", v2), ("v3", v3)):
        _write(files[name], tensors, blobs)
    blobs.clear()
    with modelreg.connect(work / "registry", actor="bench") as reg:
        stored = {}
        for name in ("v1", "v2", "v3"):
            reg.push("llm", files[name])
            require(reg.last_push is not None, "push reported no stats")
            stored[name] = reg.last_push.bytes_stored if reg.last_push else 0
        pulled = reg.pull("llm/3", dest=work / "pulled")
        require(
            (Path(pulled) / files["v3"].name).read_bytes() == files["v3"].read_bytes(),
            "v3 pulled back differs",
        )
    require(
        stored["v1"] == files["v1"].stat().st_size,
        f"v1 stored {stored['v1']} of {files['v1'].stat().st_size} B",
    )
    changed_v3 = rewritten + inserted.nbytes
    print(
        f"  run seed={seed}: rewrote {[v1[i].name for i in picked]} ({rewritten} B); "
        f"v2 stored {stored['v2']} B, v3 stored {stored['v3']} B (changed {changed_v3} B)",
        flush=True,
    )
    size = files["v1"].stat().st_size
    for path in files.values():
        path.unlink()
    return {
        "rewrite": stored["v2"] / rewritten,
        "insert": stored["v3"] / changed_v3,
        "rewrite_pct": 100 * stored["v2"] / size,
        "insert_pct": 100 * stored["v3"] / size,
    }


def _layout(rng: random.Random) -> list[Tensor]:
    """64 tensors, 512 MiB of data: 9 transformer blocks of 7 tensors, then an embedding filling the rest."""
    block = [
        ("ln1.weight", "F32", (HIDDEN,)),
        ("attn.qkv.weight", "F16", (3 * HIDDEN, HIDDEN)),
        ("attn.out.weight", "F16", (HIDDEN, HIDDEN)),
        ("ln2.weight", "F32", (HIDDEN,)),
        ("mlp.up.weight", "F16", (4 * HIDDEN, HIDDEN)),
        ("mlp.up.bias", "F16", (4 * HIDDEN,)),
        ("mlp.down.weight", "F16", (HIDDEN, 4 * HIDDEN)),
    ]
    tensors = [
        Tensor(f"blocks.{index}.{name}", dtype, shape, rng.getrandbits(64))
        for index in range(BLOCKS)
        for name, dtype, shape in block
    ]
    used = sum(tensor.nbytes for tensor in tensors)
    rows = (FILE_SIZE - used) // (HIDDEN * 2)
    return [Tensor("embed.weight", "F16", (rows, HIDDEN), rng.getrandbits(64)), *tensors]


def _write(path: Path, tensors: list[Tensor], blobs: _Bytes) -> None:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for tensor in tensors:
        header[tensor.name] = {
            "dtype": tensor.dtype,
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + tensor.nbytes],
        }
        offset += tensor.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the reference writer pads the header to 8 bytes with spaces
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(text)))
        handle.write(text)
        for tensor in tensors:
            handle.write(blobs.of(tensor))
        handle.flush()
        os.fsync(handle.fileno())


if __name__ == "__main__":
    raise SystemExit(main())

"""Where to cut a file into chunks: pure logic over a buffer, no hashing and no I/O.

``split(buffer)`` returns spans that cover the buffer exactly, in order. Safetensors files are cut at tensor
boundaries (``split_safetensors``); anything else, and anything that only looks like safetensors, is cut
with FastCDC (``split_fastcdc``). Pass an ``mmap`` for large files: nothing is copied, and safetensors
cutting reads only the header. Sizes and the reasons behind them: DESIGN §3.
"""

from __future__ import annotations

from modelreg.chunking.fastcdc import AVG_CHUNK, MAX_CHUNK, MIN_CHUNK, Buffer, Span, split_fastcdc
from modelreg.chunking.safetensors import BLOCK_SIZE, split_safetensors

__all__ = [
    "AVG_CHUNK",
    "BLOCK_SIZE",
    "MAX_CHUNK",
    "MIN_CHUNK",
    "Buffer",
    "Span",
    "split",
    "split_fastcdc",
    "split_safetensors",
]


def split(data: Buffer) -> list[Span]:
    """Spans covering ``data`` exactly, in order; ``[]`` for an empty buffer. Each is at most MAX_CHUNK."""
    spans = split_safetensors(data)
    return spans if spans is not None else split_fastcdc(data)

"""Manifests: canonical bytes, stable digests, and the path rules that keep pulls inside their destination."""

from __future__ import annotations

import pytest

from modelreg.digest import Digest, sha256_bytes
from modelreg.errors import InvalidInput, InvalidPath
from modelreg.registry.manifest import ChunkRef, FileRecord, Manifest, check_path, media_type


def record(path: str, content: bytes = b"x") -> FileRecord:
    digest = sha256_bytes(content)
    return FileRecord(path, len(content), digest, (ChunkRef(digest, len(content)),))


def test_digest_is_independent_of_push_order() -> None:
    a, b = record("a.bin", b"a"), record("dir/b.bin", b"b")
    assert Manifest.build([b, a]).digest == Manifest.build([a, b]).digest
    assert Manifest.build([a]).digest != Manifest.build([b]).digest
    assert Manifest.build([a, b]).canonical().startswith(b'{"files":[{"chunks":')


def test_json_round_trip() -> None:
    manifest = Manifest.build([record("a.bin"), record("d/e.onnx")])
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert manifest.to_json()["files"][1]["media_type"] == "application/vnd.onnx"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../etc/passwd", "'..'"),
        ("a/../../b", "'..'"),
        ("/etc/passwd", "absolute"),
        ("C:/windows", "absolute"),
        ("a\\b", "backslashes"),
        ("a\x00b", "control"),
        ("a//b", "empty"),
        ("./a", "'.'"),
        ("a/", "empty"),
        ("", "non-empty"),
        ("x" * 256, "segment"),
        ("/".join(["d"] * 600), "1024"),
        ("cafe\u0301", "NFC"),
    ],
)
def test_bad_paths_are_refused(path: str, reason: str) -> None:
    with pytest.raises(InvalidPath) as caught:
        check_path(path)
    assert caught.value.code == "INVALID_PATH" and reason in caught.value.message


def test_duplicate_paths_and_file_directory_clashes() -> None:
    with pytest.raises(InvalidPath, match="duplicate"):
        Manifest.build([record("a"), record("a", b"y")])
    with pytest.raises(InvalidPath, match="also a directory"):
        Manifest.build([record("a"), record("a-x"), record("a/b")])


def test_sizes_must_add_up() -> None:
    digest = Digest("sha256:" + "0" * 64)
    with pytest.raises(InvalidInput, match="do not add up"):
        Manifest.build([FileRecord("a", 10, digest, (ChunkRef(digest, 4),))])


def test_media_types() -> None:
    assert media_type("model.safetensors") == "application/vnd.safetensors"
    assert media_type("weights/model.PT") == "application/vnd.pytorch"
    assert media_type("README.md") == "text/markdown"
    assert media_type("noext") == "application/octet-stream"

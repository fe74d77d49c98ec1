"""Time travel: ``resolve(ref, at=…)`` answers what a reference named at any past instant, on both SDKs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from modelreg import errors
from modelreg.client.client import Client
from modelreg.types import AliasChange


def _instants(moves: list[AliasChange]) -> list[tuple[object, int]]:
    """(instant, expected version) at each move and halfway to the next one."""
    expected = []
    for move, following in zip(moves, [*moves[1:], None], strict=True):
        expected.append((move.since, move.version))
        if following is not None and following.since > move.since:
            expected.append((move.since + (following.since - move.since) / 2, move.version))
    return expected


def test_fifty_alias_moves_resolve_at_every_instant(reg: Client, model_dir: Path) -> None:
    for _ in range(3):
        reg.push("churn", model_dir)
    moves = [reg.set_alias("churn", "champion", 1 + i % 3) for i in range(50)]
    assert [change.until for change in reg.alias_history("churn", "champion")][-1] is None
    for instant, version in _instants(moves):
        assert reg.resolve("churn@champion", at=instant).version == version, instant
        assert reg.resolve("churn@champion", at=instant.isoformat()).version == version
    with pytest.raises(errors.AliasNotFound, match="pointed to no version"):
        reg.resolve("churn@champion", at=moves[0].since - timedelta(microseconds=1))
    assert reg.resolve("churn@champion").version == moves[-1].version


def test_deleted_alias_and_iso_strings(reg: Client, model_dir: Path) -> None:
    reg.push("churn", model_dir)
    moved = reg.set_alias("churn", "candidate", 1)
    reg.delete_alias("churn", "candidate")
    ended = reg.alias_history("churn", "candidate")[0].until
    assert ended is not None
    assert reg.resolve("churn@candidate", at=moved.since).version == 1
    zulu = ended.isoformat().replace("+00:00", "Z")
    with pytest.raises(errors.AliasNotFound):
        reg.resolve("churn@candidate", at=zulu)  # the interval is half-open: at its end it is gone


def test_stage_names_resolve_through_stage_history(reg: Client, model_dir: Path) -> None:
    reg.push("churn", model_dir)
    reg.push("churn", model_dir)
    first = reg.set_stage("churn/1", "production")
    one_in_production = reg.stage_history("churn/1")[-1].since
    reg.set_stage("churn/2", "production")
    both = reg.stage_history("churn/2")[-1].since
    reg.set_stage("churn/1", "archived")
    assert first.stage == "production"
    assert reg.resolve("churn@production", at=one_in_production).version == 1
    assert reg.resolve("churn@production", at=both).version == 2  # the one that entered last
    assert reg.resolve("churn@production").version == 2
    assert reg.resolve("churn@archived").version == 1
    with pytest.raises(errors.VersionNotFound, match="stage production"):
        reg.resolve("churn@production", at=one_in_production - timedelta(microseconds=1))


def test_an_alias_named_like_a_stage_wins(reg: Client, model_dir: Path) -> None:
    reg.push("churn", model_dir)
    reg.push("churn", model_dir)
    reg.set_stage("churn/2", "production")
    reg.set_alias("churn", "production", 1)
    assert reg.resolve("churn@production").version == 1


def test_latest_and_pinned_references_at_an_instant(reg: Client, model_dir: Path) -> None:
    v1 = reg.push("churn", model_dir)
    v2 = reg.push("churn", model_dir)
    assert reg.resolve("churn", at=v1.created_at).version == 1
    assert reg.resolve("churn", at=v2.created_at).version == 2
    reg.delete_version("churn/2")
    deleted_at = reg.get_version("churn/2").updated_at
    assert reg.resolve("churn", at=deleted_at - timedelta(microseconds=1)).version == 2
    assert reg.resolve("churn", at=deleted_at).version == 1
    assert reg.resolve("churn/1", at=v1.created_at).digest == v1.digest
    assert reg.resolve(f"churn@{v1.digest}", at=v2.created_at).version == 1
    with pytest.raises(errors.VersionNotFound, match="did not exist"):
        reg.resolve("churn/2", at=v1.created_at)
    with pytest.raises(errors.VersionNotFound, match="no live versions"):
        reg.resolve("churn", at=v1.created_at - timedelta(seconds=1))


@pytest.mark.parametrize(
    "at", ["2026-03-01T12:00:00", "yesterday", "2026-13-01T00:00:00Z", "", "2026-03-01 12:00"]
)
def test_bad_instants_are_refused(reg: Client, model_dir: Path, at: str) -> None:
    reg.push("churn", model_dir)
    with pytest.raises(errors.InvalidInput, match="ISO 8601"):
        reg.resolve("churn", at=at)


def test_unknown_model_or_alias(reg: Client, model_dir: Path) -> None:
    reg.push("churn", model_dir)
    with pytest.raises(errors.ModelNotFound):
        reg.resolve("nope@champion", at="2026-01-01T00:00:00Z")
    with pytest.raises(errors.AliasNotFound):
        reg.resolve("churn@never", at="2030-01-01T00:00:00Z")
    with pytest.raises(errors.InvalidReference):
        reg.resolve("churn//2")

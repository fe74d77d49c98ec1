"""Policy documents: parsing and validation (field and line of the first problem, unknown keys refused),
rules combined per (model, target), and the policy file: read at start, reloaded on change, an invalid edit
logged while the last valid policy keeps serving."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from modelreg import errors
from modelreg.access import Actor
from modelreg.blobs.memory import MemoryChunkStore
from modelreg.metadata.store import SqlMetadataStore
from modelreg.registry.policy import DEFAULT_POLICY, Gate, check_target, parse_policy
from modelreg.registry.policy_source import PolicySource
from modelreg.registry.service import Registry

FULL = """
protected_aliases = ["champion", "prod"]

[[rule]]
models = "risk-*"
target = "production"
approvals = 2
expires_hours = 72
require = ["signature", "dataset:train"]
gates = ["metrics.auc >= 0.85"]

[[rule]]
approvals = 1
expires_hours = 24
archive_previous = false
require = ["description", "dataset:train"]
gates = ["metrics.auc >= production", "metrics.auc>=0.85"]

[[rule]]
target = "@champion"
models = "*"
approvals = 3
"""


def test_rules_combine_per_model_and_target() -> None:
    policy = parse_policy(FULL)
    risk = policy.requirements("risk-score", "production")
    assert (risk.governed, risk.approvals, risk.expires_hours, risk.archive_previous) == (
        True,
        2,
        24.0,
        False,
    )
    assert risk.require == ("signature", "dataset:train", "description")
    assert [g.text for g in risk.gates] == ["metrics.auc >= 0.85", "metrics.auc >= production"]
    assert risk.gates[1] == Gate("metrics.auc >= production", "auc", ">=", None)
    other = policy.requirements("churn", "production")
    assert (other.approvals, other.require, other.archive_previous) == (
        1,
        ("description", "dataset:train"),
        False,
    )
    assert policy.requirements("churn", "@champion").approvals == 3
    prod_alias = policy.requirements("churn", "@prod")
    assert (prod_alias.governed, prod_alias.approvals) == (True, 0)
    assert not policy.requirements("churn", "@shadow").governed
    assert not policy.requirements("churn", "staging").governed
    default = DEFAULT_POLICY.requirements("x", "production")
    assert (default.governed, default.approvals, default.expires_hours, default.archive_previous) == (
        True,
        0,
        168.0,
        True,
    )
    assert DEFAULT_POLICY.requirements("x", "@champion").governed


@pytest.mark.parametrize(
    ("text", "field", "line", "words"),
    [
        ("[[rule]\n", None, 1, "not valid TOML"),
        ("approvals = 2\n", "approvals", None, "unknown key"),
        ("\n\n[[rule]]\napprovls = 2\n", "rule[1].approvls", 3, "unknown key"),
        ('[[rule]]\n[[rule]]\ntarget = "prod"\n', "rule[2].target", 2, "invalid target"),
        ('[[rule]]\ntarget = "@latest"\n', "rule[1].target", 1, "reserved"),
        ("[[rule]]\napprovals = -1\n", "rule[1].approvals", 1, "integer from 0 to 100"),
        ("[[rule]]\napprovals = true\n", "rule[1].approvals", 1, "integer"),
        ("[[rule]]\nexpires_hours = 0\n", "rule[1].expires_hours", 1, "above 0"),
        (
            '[[rule]]\ntarget = "staging"\narchive_previous = true\n',
            "rule[1].archive_previous",
            1,
            "production",
        ),
        ('[[rule]]\nrequire = ["signatur"]\n', "rule[1].require[0]", 1, "unknown check"),
        ('[[rule]]\ngates = ["auc >= 0.9"]\n', "rule[1].gates[0]", 1, "invalid gate"),
        ('[[rule]]\ngates = ["metrics.auc => 0.9"]\n', "rule[1].gates[0]", 1, "invalid gate"),
        ('[[rule]]\ngates = ["metrics.auc >= best"]\n', "rule[1].gates[0]", 1, "neither a finite number"),
        ('[[rule]]\ngates = ["metrics.auc >= nan"]\n', "rule[1].gates[0]", 1, "neither a finite number"),
        ('[[rule]]\ngates = "metrics.auc >= 1"\n', "rule[1].gates", 1, "list"),
        ('protected_aliases = "champion"\n', "protected_aliases", None, "list"),
        ('protected_aliases = ["sha256"]\n', "protected_aliases", None, "reserved"),
        ("rule = 3\n", "rule", None, "[[rule]]"),
    ],
)
def test_invalid_documents_name_the_field_and_line(
    text: str, field: str | None, line: int | None, words: str
) -> None:
    with pytest.raises(errors.InvalidPolicy) as refused:
        parse_policy(text)
    assert isinstance(refused.value, errors.InvalidInput) and refused.value.code == "INVALID_POLICY"
    assert (refused.value.details["field"], refused.value.details["line"]) == (field, line)
    assert words in refused.value.message


def test_targets() -> None:
    assert [check_target(t) for t in ("production", "staging", "archived", "@champion")] == [
        "production",
        "staging",
        "archived",
        "@champion",
    ]
    for bad in ("none", "Production", "@", "@v2", "", None, 3):
        with pytest.raises(errors.InvalidInput):
            check_target(bad)


def test_an_oversized_or_non_text_document_is_refused() -> None:
    for bad in ("#" * 70_000, b"[[rule]]", None):
        with pytest.raises(errors.InvalidPolicy):
            parse_policy(bad)


def _touch_later(path: Path, text: str) -> None:
    """Write and move the modification time forward, so a coarse file system clock cannot hide the edit."""
    path.write_text(text)
    stamp = path.stat().st_mtime_ns + 5_000_000_000
    os.utime(path, ns=(stamp, stamp))


def test_policy_file_reloads_and_keeps_the_last_valid_policy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[[rule]]\napprovals = 2\n")
    source = PolicySource(path)
    store = SqlMetadataStore(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        registry = Registry(store, MemoryChunkStore(), actor=Actor("root"), policies=source)
        with store.session() as session:
            assert source.current(session).requirements("m", "production").approvals == 2
            _touch_later(path, "[[rule]]\napprovals = 3\n")
            assert source.current(session).requirements("m", "production").approvals == 3
            with caplog.at_level(logging.ERROR, logger="modelreg.policy"):
                _touch_later(path, "[[rule]]\napprovals = many\n")
                assert source.current(session).requirements("m", "production").approvals == 3
            assert "keeping the last valid promotion policy" in caplog.text
            path.unlink()
            assert source.current(session).requirements("m", "production").approvals == 3
        shown = registry.get_policy()
        assert (shown.source, shown.rules) == ("file", 1)
        for change in (lambda: registry.set_policy("[[rule]]\n"), registry.delete_policy):
            with pytest.raises(errors.PolicyFromFile):
                change()
    finally:
        store.close()


def test_an_invalid_policy_file_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[[rule]]\nunknown = 1\n")
    with pytest.raises(errors.InvalidPolicy, match=r"policy\.toml"):
        PolicySource(path)
    with pytest.raises(errors.InvalidPolicy, match="cannot read"):
        PolicySource(tmp_path / "missing.toml")

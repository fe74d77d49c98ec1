"""``modelreg model create | rename | delete`` and ``modelreg push --version`` on an embedded registry, in
process through ``main()``: output, --json, exit statuses and one-line errors, and that refusals change
nothing (the behaviour on every SDK and database is in tests/contracts/test_catalog.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli_runs import run_in

import modelreg


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return tmp_path / "reg"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    (root / "w.bin").write_bytes(b"weights")
    return root


def models(capsys: pytest.CaptureFixture[str], registry: Path) -> list[str]:
    return [m["name"] for m in json.loads(run_in(capsys, registry, "--json", "models")[1])]


def test_create_with_description_and_tags(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_in(capsys, registry, "model", "create", "churn")[:2] == (0, "created churn\n")
    status, out, _ = run_in(
        capsys, registry, "model", "create", "fraud", "--description", "card fraud", "--tag", "team=risk",
        "--tag", "tier=1", "--json",
    )  # fmt: skip
    model = json.loads(out)
    assert status == 0
    assert (model["name"], model["description"], model["tags"], model["latest_version"]) == (
        "fraud",
        "card fraud",
        {"team": "risk", "tier": "1"},
        None,
    )
    status, _, err = run_in(capsys, registry, "model", "create", "churn")
    assert (status, err) == (4, "error: MODEL_ALREADY_EXISTS: model 'churn' already exists\n")
    for args, code in (
        (("model", "create", "a b"), "INVALID_NAME"),
        (("model", "create", "x", "--tag", "novalue"), "INVALID_INPUT"),
        (("model", "create", "x", "--tag", "k=v", "--tag", "k=w"), "INVALID_INPUT"),
        (("model", "create"), "INVALID_INPUT"),
    ):
        status, out, err = run_in(capsys, registry, *args)
        assert (status, out, err.startswith(f"error: {code}: ")) == (2, "", True), (args, err)
    assert models(capsys, registry) == ["churn", "fraud"]


def test_rename(registry: Path, source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_in(capsys, registry, "push", "churn", str(source), "--alias", "champion")
    run_in(capsys, registry, "model", "create", "taken")
    assert run_in(capsys, registry, "model", "rename", "churn", "churn2")[:2] == (
        0,
        "renamed churn to churn2\n",
    )
    shown = json.loads(run_in(capsys, registry, "--json", "show", "churn2@champion")[1])
    assert (shown["name"], shown["version"]) == ("churn2", 1)
    status, out, _ = run_in(capsys, registry, "model", "rename", "churn2", "churn3", "--json")
    assert status == 0 and json.loads(out)["aliases"] == {"champion": 1}
    status, _, err = run_in(capsys, registry, "model", "rename", "churn3", "taken")
    assert (status, err) == (4, "error: MODEL_ALREADY_EXISTS: model 'taken' already exists\n")
    status, _, err = run_in(capsys, registry, "model", "rename", "churn", "x")
    assert (status, err) == (3, "error: MODEL_NOT_FOUND: model 'churn' not found\n")
    status, _, err = run_in(capsys, registry, "model", "rename", "churn3", "x y")
    assert status == 2 and err.startswith("error: INVALID_NAME: invalid model name 'x y'")
    assert models(capsys, registry) == ["churn3", "taken"]


def test_delete_asks_first_then_the_name_revives(
    registry: Path, source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        (source / "w.bin").write_bytes((source / "w.bin").read_bytes() + b"!")
        run_in(capsys, registry, "push", "churn", str(source))
    status, _, err = run_in(capsys, registry, "model", "delete", "churn")  # stdin is not a terminal
    assert (status, err) == (
        2,
        "error: INVALID_INPUT: refusing to delete model churn (latest 3) and every version of it without "
        "confirmation: pass --yes\n",
    )
    assert models(capsys, registry) == ["churn"]
    with modelreg.connect(registry) as client:
        client.set_hold("churn/2", reason="case 5")
    status, _, err = run_in(capsys, registry, "model", "delete", "churn", "--yes")
    assert (status, err) == (
        4,
        "error: VERSION_PROTECTED: model 'churn' cannot be deleted: churn/2 under legal hold\n",
    )
    run_in(capsys, registry, "hold", "rm", "churn/2")
    assert run_in(capsys, registry, "model", "delete", "churn", "--yes")[:2] == (0, "deleted model churn\n")
    assert models(capsys, registry) == []
    status, _, err = run_in(capsys, registry, "show", "churn/1")
    assert (status, err) == (3, "error: MODEL_NOT_FOUND: model 'churn' not found\n")
    status, _, err = run_in(capsys, registry, "model", "delete", "churn", "--yes")
    assert (status, err) == (3, "error: MODEL_NOT_FOUND: model 'churn' not found\n")
    status, out, _ = run_in(capsys, registry, "--json", "push", "churn", str(source))
    assert (status, json.loads(out)["version"]) == (0, 4)  # revived: numbers go on
    status, out, _ = run_in(capsys, registry, "model", "delete", "churn", "-y", "--json")
    assert (status, json.loads(out)) == (0, {"name": "churn", "deleted": True})


def test_push_under_an_explicit_number(
    registry: Path, source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run_in(capsys, registry, "--json", "push", "m", str(source), "--version", "7")
    assert (status, json.loads(out)["version"]) == (0, 7)
    status, out, _ = run_in(capsys, registry, "push", "m", str(source))
    assert status == 0 and out.startswith("pushed m/8 sha256:")
    status, _, err = run_in(capsys, registry, "push", "m", str(source), "--version", "8")
    assert (status, err) == (
        4,
        "error: VERSION_EXISTS: model 'm' has had versions up to 8: an imported version needs a number "
        "above 8, not 8\n",
    )
    for bad in ("0", "seven", "-3"):
        status, out, err = run_in(capsys, registry, "push", "m", str(source), "--version", bad)
        assert (status, out, err.startswith("error: INVALID_INPUT: ")) == (2, "", True), (bad, err)
    versions = json.loads(run_in(capsys, registry, "--json", "versions", "m")[1])
    assert [v["version"] for v in versions] == [8, 7]
    assert run_in(capsys, registry, "--version")[1].startswith("modelreg ")  # the global option still works

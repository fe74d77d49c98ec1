"""The ``modelreg`` command end to end: real subprocesses, a real embedded registry in tmp_path, no mocks."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelreg.cli.app import main

ERROR_LINE = r"error: (?P<code>[A-Z_]+): (?P<message>.+)"


@dataclass(frozen=True)
class Run:
    """One finished ``modelreg`` process."""

    args: tuple[str, ...]
    status: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.status == 0, self
        return json.loads(self.stdout)

    def ok(self) -> Run:
        assert self.status == 0, self
        assert "Traceback" not in self.stderr
        return self


class Cli:
    """Runs ``python -W error -m modelreg.cli.app --registry <tmp>/reg …`` in ``cwd``."""

    def __init__(self, registry: Path, cwd: Path) -> None:
        self.registry = registry
        self.cwd = cwd

    def argv(self, *args: str, registry: bool = True) -> list[str]:
        command = [sys.executable, "-W", "error", "-m", "modelreg.cli.app"]
        return [*command, *(["--registry", str(self.registry)] if registry else []), *args]

    def __call__(self, *args: str, registry: bool = True, env: dict[str, str] | None = None) -> Run:
        process = subprocess.run(
            self.argv(*args, registry=registry),
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env={**_clean_environment(), **(env or {})},
            stdin=subprocess.DEVNULL,  # never a terminal: confirmation prompts must not block
            timeout=120,
            check=False,
        )
        return Run(tuple(args), process.returncode, process.stdout, process.stderr)

    def version_numbers(self, name: str, *extra: str) -> list[int]:
        return [version["version"] for version in self("versions", name, "--json", *extra).json()]


def _clean_environment() -> dict[str, str]:
    """The caller's MODELREG_* settings must not leak into a test."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MODELREG_")}
    env["PYTHONWARNINGS"] = "error"
    return env


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    work = tmp_path / "work"
    work.mkdir()
    return Cli(tmp_path / "reg", work)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return make_model_dir(tmp_path / "model")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, Path]:
    """One registry holding churn/1, shared by the error cases (each checks that it still holds only that)."""
    root = tmp_path_factory.mktemp("seeded")
    (root / "work").mkdir()
    cli, model_dir = Cli(root / "reg", root / "work"), make_model_dir(root / "model")
    push_churn(cli, model_dir)
    (root / "empty").mkdir()
    return cli, model_dir


def make_model_dir(root: Path) -> Path:
    """Three files, one of several MiB so that it spans many chunks."""
    (root / "tokenizer").mkdir(parents=True)
    (root / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 123))
    (root / "config.json").write_text('{"layers": 4}\n', encoding="utf-8")
    (root / "tokenizer" / "vocab.txt").write_text("a\nb\nc\n", encoding="utf-8")
    return root


@pytest.fixture
def lineage_file(tmp_path: Path) -> Path:
    path = tmp_path / "lineage.json"
    lineage = {
        "run_id": "run-42",
        "code": {"repo": "git@example.com:ml/churn.git", "commit": "abc123"},
        "datasets": [{"name": "customers", "uri": "s3://data/customers.parquet", "role": "train"}],
        "environment": {"python": "3.11"},
    }
    path.write_text(json.dumps(lineage), encoding="utf-8")
    return path


DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MODEL_FILES = ["config.json", "tokenizer/vocab.txt", "weights.bin"]


def push_churn(cli: Cli, model_dir: Path, *extra: str) -> dict[str, object]:
    result: dict[str, object] = cli("push", "churn", str(model_dir), "--json", *extra).json()
    return result


def assert_error(run: Run, code: str, status: int) -> re.Match[str]:
    """The one-line error contract: nothing on stdout, exactly one stderr line, no traceback."""
    assert run.status == status, run
    assert run.stdout == "", run
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run
    match = re.fullmatch(ERROR_LINE, lines[0])
    assert match is not None, run
    assert match["code"] == code, run
    return match


# --- push -------------------------------------------------------------------------------------------------


def test_push_json_records_every_piece_of_metadata(cli: Cli, model_dir: Path, lineage_file: Path) -> None:
    signature = lineage_file.with_name("signature.json")
    signature.write_text('{"inputs": [{"name": "age", "type": "long"}]}', encoding="utf-8")
    version = push_churn(
        cli,
        model_dir,
        *("--metric", "auc=0.91", "--metric", "f1=0.8", "--param", "lr=0.01", "--param", "expr=a=b"),
        *("--tag", "team=ml", "--alias", "champion", "--alias", "candidate"),
        *("--description", "first cut", "--lineage", str(lineage_file), "--signature", str(signature)),
    )
    assert version["name"] == "churn"
    assert version["version"] == 1
    assert DIGEST.fullmatch(str(version["digest"]))
    assert version["metrics"] == {"auc": 0.91, "f1": 0.8}
    assert version["params"] == {"lr": "0.01", "expr": "a=b"}  # only the first '=' splits
    assert version["tags"] == {"team": "ml"}
    assert sorted(version["aliases"]) == ["candidate", "champion"]  # type: ignore[call-overload]
    assert version["description"] == "first cut"
    assert version["signature"] == {"inputs": [{"name": "age", "type": "long"}]}
    lineage = version["lineage"]
    assert isinstance(lineage, dict)
    assert lineage["run_id"] == "run-42"
    assert lineage["code"] == {"repo": "git@example.com:ml/churn.git", "commit": "abc123"}
    assert lineage["datasets"][0]["name"] == "customers"
    assert lineage["environment"] == {"python": "3.11"}
    files = version["files"]
    assert isinstance(files, list)
    assert [entry["path"] for entry in files] == MODEL_FILES
    sizes = {entry["path"]: entry["size"] for entry in files}
    assert sizes["weights.bin"] == (model_dir / "weights.bin").stat().st_size
    assert version["size_bytes"] == sum(sizes.values())
    assert version["stage"] == "none"
    assert version["deleted"] is False


def test_push_summary_shows_that_a_repush_stores_nothing_new(cli: Cli, model_dir: Path) -> None:
    first = cli("push", "churn", str(model_dir)).ok()
    match = re.fullmatch(
        r"pushed churn/1 (sha256:[0-9a-f]{64}) "
        r"\(3 files, ([0-9.]+) MB, ([0-9.]+) MB new, 0.0 MB deduplicated\)\n",
        first.stdout,
    )
    assert match is not None, first
    assert float(match[2]) == pytest.approx(3.1, abs=0.05)  # 3 MiB + a few bytes, printed in decimal MB
    assert match[3] == match[2]  # a new registry stores everything

    again = cli("push", "churn", str(model_dir)).ok()
    assert again.stdout.startswith(f"pushed churn/2 {match[1]} (3 files")  # same files, same digest
    assert again.stdout.endswith(f", 0.0 MB new, {match[2]} MB deduplicated)\n")  # no byte stored twice


def test_push_a_single_file(cli: Cli, model_dir: Path) -> None:
    version = cli("push", "tiny", str(model_dir / "config.json"), "--json").json()
    assert [entry["path"] for entry in version["files"]] == ["config.json"]


# --- read -------------------------------------------------------------------------------------------------


def test_show_resolves_every_reference_form(cli: Cli, model_dir: Path) -> None:
    first = push_churn(cli, model_dir, "--alias", "champion")
    (model_dir / "config.json").write_text('{"layers": 5}\n', encoding="utf-8")
    second = push_churn(cli, model_dir)
    digest = str(first["digest"])
    expected = {
        "churn": 2,
        "churn/1": 1,
        "churn/2": 2,
        "churn/latest": 2,
        "churn@champion": 1,
        f"churn@{digest}": 1,
        "models:/churn/1": 1,
        "models:/churn@champion": 1,
    }
    for ref, number in expected.items():
        shown = cli("show", ref, "--json").json()
        assert (ref, shown["version"]) == (ref, number)
        assert shown["digest"] == (digest if number == 1 else second["digest"])

    human = cli("show", "churn@champion").ok().stdout
    assert digest in human
    assert "churn/1" in human
    for path in MODEL_FILES:
        assert path in human


def test_models_and_versions_list_what_was_pushed(cli: Cli, model_dir: Path) -> None:
    push_churn(cli, model_dir, "--alias", "champion")
    push_churn(cli, model_dir)
    cli("push", "fraud", str(model_dir / "config.json")).ok()

    models = {model["name"]: model for model in cli("models", "--json").json()}
    assert sorted(models) == ["churn", "fraud"]
    assert models["churn"]["latest_version"] == 2
    assert models["churn"]["aliases"] == {"champion": 1}
    assert models["fraud"]["latest_version"] == 1

    assert cli.version_numbers("churn") == [2, 1]  # newest first
    assert "churn" in cli("models").ok().stdout
    table = cli("versions", "churn").ok().stdout
    assert "@champion" in table
    assert table.count("churn") == 2


def test_json_is_accepted_before_or_after_the_command(cli: Cli, model_dir: Path) -> None:
    push_churn(cli, model_dir)
    assert cli("--json", "models").json() == cli("models", "--json").json()


def test_registry_comes_from_the_environment(cli: Cli, model_dir: Path) -> None:
    push_churn(cli, model_dir)
    run = cli("versions", "churn", "--json", registry=False, env={"MODELREG_REGISTRY": str(cli.registry)})
    assert [version["version"] for version in run.json()] == [1]


def test_empty_registry_lists_nothing(cli: Cli) -> None:
    assert cli("models", "--json").json() == []
    run = cli("models").ok()
    assert run.stdout == ""
    assert "no models" in run.stderr


# --- aliases, tags, descriptions, stages --------------------------------------------------------------------


def test_alias_set_history_and_rm(cli: Cli, model_dir: Path) -> None:
    push_churn(cli, model_dir, "--alias", "champion")
    push_churn(cli, model_dir)

    change = cli("alias", "set", "churn", "champion", "2", "--json").json()
    assert (change["name"], change["alias"], change["version"], change["until"]) == (
        "churn",
        "champion",
        2,
        None,
    )
    assert cli("alias", "set", "churn", "champion", "1").ok().stdout == "churn@champion -> churn/1\n"

    history = cli("alias", "history", "churn", "champion", "--json").json()
    assert [entry["version"] for entry in history] == [1, 2, 1]
    assert [entry["until"] is None for entry in history] == [False, False, True]
    assert "churn@champion" in cli("alias", "history", "churn", "champion").ok().stdout

    model = cli("alias", "rm", "churn", "champion", "--json").json()
    assert model["aliases"] == {}
    assert_error(cli("show", "churn@champion"), "ALIAS_NOT_FOUND", 3)
    assert len(cli("alias", "history", "churn", "champion", "--json").json()) == 3  # history outlives it


def test_tags_on_models_and_versions(cli: Cli, model_dir: Path) -> None:
    push_churn(cli, model_dir, "--alias", "champion")

    model = cli("tag", "set", "churn", "team", "ml", "--json").json()
    assert model["tags"] == {"team": "ml"}
    version = cli("tag", "set", "churn@champion", "reviewed", "yes", "--json").json()
    assert (version["version"], version["tags"]) == (1, {"reviewed": "yes"})
    assert cli("tag", "set", "churn/1", "reviewed", "no").ok().stdout == "tagged churn/1 reviewed=no\n"
    assert cli("show", "churn/1", "--json").json()["tags"] == {"reviewed": "no"}

    assert cli("tag", "rm", "churn/1", "reviewed", "--json").json()["tags"] == {}
    assert cli("tag", "rm", "churn", "team", "--json").json()["tags"] == {}
    assert_error(cli("tag", "rm", "churn", "team"), "TAG_NOT_FOUND", 3)


def test_describe_a_model_and_a_version(cli: Cli, model_dir: Path) -> None:
    push_churn(cli, model_dir, "--description", "old")
    assert cli("describe", "churn", "Predicts churn", "--json").json()["description"] == "Predicts churn"
    assert cli("describe", "churn/1", "[bold]v1[/bold]", "--json").json()["description"] == "[bold]v1[/bold]"
    assert "[bold]v1[/bold]" in cli("show", "churn/1").ok().stdout  # shown as typed, not as Rich markup
    assert cli("describe", "churn", "x").ok().stdout == "described churn\n"
    # MLflow's URI form always names a version (the latest), never the model itself.
    described = cli("describe", "models:/churn", "via the URI form", "--json").json()
    assert (described["version"], described["description"]) == (1, "via the URI form")
    assert cli("models", "--json").json()[0]["description"] == "x"


def test_stage_moves_a_version(cli: Cli, model_dir: Path) -> None:
    push_churn(cli, model_dir)
    assert cli("stage", "churn/1", "staging", "--json").json()["stage"] == "staging"
    assert cli("stage", "churn", "production").ok().stdout == "moved churn/1 to production\n"
    assert cli("show", "churn/1", "--json").json()["stage"] == "production"

    match = assert_error(cli("stage", "churn/1", "live"), "INVALID_INPUT", 2)
    assert "live" in match["message"]
    assert cli("show", "churn/1", "--json").json()["stage"] == "production"


# --- search -----------------------------------------------------------------------------------------------


def test_search_versions_and_models(cli: Cli, model_dir: Path) -> None:
    push_churn(cli, model_dir, "--metric", "auc=0.85", "--tag", "team=ml")
    push_churn(cli, model_dir, "--metric", "auc=0.93", "--tag", "team=ml")
    cli("push", "fraud", str(model_dir), "--metric", "auc=0.97", "--tag", "team=risk").ok()

    found = cli("search", "metrics.auc > 0.9", "--json").json()
    assert sorted((version["name"], version["version"]) for version in found) == [("churn", 2), ("fraud", 1)]

    found = cli("search", "tags.team = 'ml' AND metrics.auc > 0.9", "--json").json()
    assert [(version["name"], version["version"]) for version in found] == [("churn", 2)]

    ordered = cli("search", "metrics.auc > 0", "--order-by", "metrics.auc DESC", "--json").json()
    assert [version["metrics"]["auc"] for version in ordered] == [0.97, 0.93, 0.85]

    limited = cli("search", "metrics.auc > 0", "--order-by", "metrics.auc DESC", "--limit", "2")
    assert "fraud" in limited.ok().stdout
    assert "raise --limit" in limited.stderr

    models = cli("search", "name = 'fraud'", "--models", "--json").json()
    assert [model["name"] for model in models] == ["fraud"]


# --- pull -------------------------------------------------------------------------------------------------


def test_pull_reproduces_the_files_byte_for_byte(cli: Cli, model_dir: Path, tmp_path: Path) -> None:
    version = push_churn(cli, model_dir, "--alias", "champion")
    out = tmp_path / "deploy"

    pulled = cli("pull", "churn@champion", "-o", str(out), "--json").json()
    assert Path(pulled["path"]).resolve() == out.resolve()
    assert pulled["version"]["digest"] == version["digest"]
    assert pulled["bytes_total"] == version["size_bytes"]
    for path in MODEL_FILES:
        assert (out / path).read_bytes() == (model_dir / path).read_bytes()

    assert_error(cli("pull", "churn", "-o", str(out)), "DESTINATION_EXISTS", 4)
    (out / "weights.bin").write_bytes(b"tampered")
    run = cli("pull", "churn", "-o", str(out), "--force").ok()
    assert run.stdout.startswith(f"pulled churn/1 {version['digest']} to ")
    assert (out / "weights.bin").read_bytes() == (model_dir / "weights.bin").read_bytes()


def test_pull_defaults_to_name_dash_version_in_the_working_directory(cli: Cli, model_dir: Path) -> None:
    push_churn(cli, model_dir)
    cli("pull", "models:/churn/1").ok()
    assert (cli.cwd / "churn-v1" / "weights.bin").read_bytes() == (model_dir / "weights.bin").read_bytes()


def test_push_and_pull_draw_progress_on_a_terminal(cli: Cli, model_dir: Path) -> None:
    status, screen = run_on_terminal(cli, "push", "churn", str(model_dir))
    assert status == 0, screen
    assert "hashing" in screen
    assert "new" in screen
    assert "pushed churn/1 sha256:" in screen

    status, screen = run_on_terminal(cli, "pull", "churn")
    assert status == 0, screen
    assert "fetched" in screen
    assert "pulled churn/1 sha256:" in screen


def run_on_terminal(cli: Cli, *args: str) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal, as a person would: (status, all that was shown)."""
    controller, terminal = pty.openpty()
    env = {**_clean_environment(), "COLUMNS": "120", "TERM": "xterm-256color"}
    with subprocess.Popen(
        cli.argv(*args), stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, cwd=cli.cwd, env=env
    ) as process:
        os.close(terminal)
        shown = bytearray()
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not data:
                break
            shown += data
        status = process.wait(timeout=120)
    os.close(controller)
    return status, shown.decode("utf-8", errors="replace")


# --- delete -----------------------------------------------------------------------------------------------


def test_delete_needs_yes_when_nobody_can_confirm(cli: Cli, model_dir: Path) -> None:
    push_churn(cli, model_dir)
    push_churn(cli, model_dir)

    match = assert_error(cli("delete", "churn/2"), "INVALID_INPUT", 2)
    assert "--yes" in match["message"]
    assert cli.version_numbers("churn") == [2, 1]

    deleted = cli("delete", "churn/2", "--yes", "--json").json()
    assert (deleted["version"], deleted["deleted"]) == (2, True)
    assert cli.version_numbers("churn") == [1]
    assert cli.version_numbers("churn", "--all") == [2, 1]
    assert cli("show", "churn/2", "--json").json()["deleted"] is True  # metadata and history stay
    assert "(deleted)" in cli("show", "churn/2").ok().stdout
    assert_error(cli("pull", "churn/2"), "VERSION_DELETED", 4)
    assert push_churn(cli, model_dir)["version"] == 3  # numbers are never reused


# --- errors -----------------------------------------------------------------------------------------------

BAD_PUSH_INPUT = [
    (["--metric", "auc"], "INVALID_INPUT", "expected KEY=VALUE"),
    (["--metric", "auc=high"], "INVALID_METADATA", "not a number"),
    (["--metric", "auc=nan"], "INVALID_METADATA", "not a finite number"),
    (["--metric", "auc=1", "--metric", "auc=2"], "INVALID_INPUT", "more than once"),
    (["--tag", "=x"], "INVALID_INPUT", "expected KEY=VALUE"),
    (["--lineage", "missing.json"], "INVALID_INPUT", "not found"),
    (["--lineage", "{bad}"], "INVALID_INPUT", "not valid JSON"),
    (["--lineage", '{"run": "x"}'], "INVALID_METADATA", "unknown field 'run'"),
    (["--lineage", '{"datasets": [{"uri": "s3://x"}]}'], "INVALID_METADATA", "needs a 'name'"),
    (["--signature", "[1, 2]"], "INVALID_INPUT", "must hold a JSON object"),
    (["--no-such-option"], "INVALID_INPUT", "No such option"),
]


# The error tables run in-process through the same ``main()`` the console script calls: a subprocess per
# case would cost ~1 s of interpreter and SQLAlchemy start-up each. The scenarios above cover the process.


def run_main(capsys: pytest.CaptureFixture[str], registry: Path, *args: str) -> Run:
    """``modelreg --registry REGISTRY ARGS…`` in this process, through ``main()``."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["--registry", str(registry), *args])
    out, err = capsys.readouterr()
    status = exited.value.code
    return Run(args, status if isinstance(status, int) else 0, out, err)


def live_versions(capsys: pytest.CaptureFixture[str], registry: Path) -> list[int]:
    run = run_main(capsys, registry, "versions", "churn", "--json")
    return [version["version"] for version in run.json()]


@pytest.mark.parametrize(("extra", "code", "fragment"), BAD_PUSH_INPUT)
def test_bad_push_input_stores_nothing(
    seeded: tuple[Cli, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    extra: list[str],
    code: str,
    fragment: str,
) -> None:
    cli, model_dir = seeded
    extra = [_as_file(tmp_path, value) if value.startswith(("{", "[")) else value for value in extra]
    extra = [str(tmp_path / value) if value == "missing.json" else value for value in extra]
    match = assert_error(run_main(capsys, cli.registry, "push", "churn", str(model_dir), *extra), code, 2)
    assert fragment in match["message"]
    assert live_versions(capsys, cli.registry) == [1]


def test_bad_input_does_not_even_create_the_registry(cli: Cli, model_dir: Path) -> None:
    assert_error(cli("push", "churn", str(model_dir), "--metric", "auc"), "INVALID_INPUT", 2)
    assert not cli.registry.exists()


ERRORS_FROM_THE_SDK = [
    (["push", "bad name", "{model}"], "INVALID_NAME", 2),
    (["push", "churn", "{missing}"], "PATH_NOT_FOUND", 3),
    (["push", "churn", "{empty}"], "EMPTY_MODEL", 2),
    (["show", "churn//1"], "INVALID_REFERENCE", 2),
    (["show", "nope"], "MODEL_NOT_FOUND", 3),
    (["show", "churn/9"], "VERSION_NOT_FOUND", 3),
    (["show", "churn@nobody"], "ALIAS_NOT_FOUND", 3),
    (["versions", "nope"], "MODEL_NOT_FOUND", 3),
    (["search", "metrics.auc >"], "INVALID_FILTER", 2),
    (["alias", "set", "churn", "champion", "9"], "VERSION_NOT_FOUND", 3),
    (["alias", "set", "churn", "latest", "1"], "INVALID_ALIAS", 2),
    (["alias", "set", "churn", "champion", "one"], "INVALID_INPUT", 2),
    (["alias", "rm", "churn", "nobody"], "ALIAS_NOT_FOUND", 3),
    (["pull", "churn/9"], "VERSION_NOT_FOUND", 3),
    (["show"], "INVALID_INPUT", 2),
    (["frobnicate"], "INVALID_INPUT", 2),
]


@pytest.mark.parametrize(("args", "code", "status"), ERRORS_FROM_THE_SDK)
def test_errors_print_one_line_and_exit_with_their_status(
    seeded: tuple[Cli, Path], capsys: pytest.CaptureFixture[str], *, args: list[str], code: str, status: int
) -> None:
    cli, model_dir = seeded
    root = model_dir.parent
    paths = {"{model}": model_dir, "{missing}": root / "missing", "{empty}": root / "empty"}
    assert_error(run_main(capsys, cli.registry, *[str(paths.get(arg, arg)) for arg in args]), code, status)
    assert live_versions(capsys, cli.registry) == [1]


def test_one_sdk_error_through_a_real_process(seeded: tuple[Cli, Path]) -> None:
    cli, _ = seeded
    assert_error(cli("show", "churn/9"), "VERSION_NOT_FOUND", 3)


def _as_file(tmp_path: Path, content: str) -> str:
    path = tmp_path / f"input-{abs(hash(content))}.json"
    path.write_text(content, encoding="utf-8")
    return str(path)


# --- help and version -------------------------------------------------------------------------------------


def test_version_and_help(cli: Cli) -> None:
    assert re.fullmatch(r"modelreg \S+\n", cli("--version").ok().stdout)
    help_text = cli("--help").ok().stdout
    for command in ("push", "pull", "models", "versions", "show", "alias", "tag", "describe", "stage"):
        assert command in help_text
    for command in ("search", "delete"):
        assert command in help_text


def test_help_imports_no_heavy_module() -> None:
    """``--help`` must stay fast (< 300 ms cold): the SDK, SQLAlchemy and rich.progress load only on use."""
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "modelreg.cli.app", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    imported = {line.split("|")[-1].strip() for line in process.stderr.splitlines() if "|" in line}
    heavy = {"sqlalchemy", "alembic", "modelreg.client", "rich.progress", "httpx", "pydantic"}
    assert not heavy & imported


def test_no_json_noise_on_stdout(cli: Cli, model_dir: Path) -> None:
    """With --json, stdout is exactly one JSON document, even for push and pull."""
    run = cli("push", "churn", str(model_dir), "--json").ok()
    json.loads(run.stdout)
    run = cli("pull", "churn", "--json").ok()
    json.loads(run.stdout)

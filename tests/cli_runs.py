"""The CLI run in this process, as the tests of the CLI drive it."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelreg.cli.app import main


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """``modelreg *args``: (exit status, stdout, stderr); output captured before the call is dropped."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def run_in(capsys: pytest.CaptureFixture[str], registry: Path, *args: str | Path) -> tuple[int, str, str]:
    """``modelreg --registry <registry> *args``, as ``run``."""
    return run(capsys, "--registry", registry, *args)

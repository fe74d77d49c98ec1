"""Reference pages generated from the code, so they cannot drift: ``docs/errors.md``, ``docs/settings.md``
and ``docs/permissions.md``.

python -m modelreg.reference_docs          # rewrite the pages
tests/test_reference_docs.py               # fails when a page is out of date or something is undocumented
"""

from __future__ import annotations

import sys
from pathlib import Path

from modelreg.access import PERMISSION_HELP, ROLES, Permission
from modelreg.errors import ModelregError
from modelreg.settings import Settings

__all__ = ["PAGES", "errors_page", "permissions_page", "settings_page"]


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def errors_page() -> str:
    lines = [
        "# Error codes",
        "",
        "Generated from `src/modelreg/errors.py` by `python -m modelreg.reference_docs`; do not edit.",
        "",
        "Every error has a stable code. The HTTP API returns it as "
        '`{"error": {"code": …, "message": …, "details": …}}` with the status below; the SDK raises the '
        "class of the same name (embedded or over HTTP); the CLI prints `error: CODE: message` and exits "
        "with the status.",
        "",
        "| code | class | parent | HTTP | CLI exit | retryable |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for code, error_class in ModelregError.all_codes().items():
        parent = error_class.__mro__[1].__name__
        lines.append(
            f"| `{code}` | `{error_class.__name__}` | `{parent}` | {error_class.http_status} | "
            f"{error_class.exit_status} | {'yes' if error_class.retryable else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def settings_page() -> str:
    lines = [
        "# Settings",
        "",
        "Generated from `src/modelreg/settings.py` by `python -m modelreg.reference_docs`; do not edit.",
        "",
        "Read from the environment when the SDK or CLI starts (never at import time); explicit arguments to",
        "`modelreg.connect()` and CLI options win over them.",
        "",
        "| variable | type | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise ValueError(f"setting {name!r} has no description")
        annotation = (
            str(field.annotation).replace("typing.", "").replace("pathlib.", "").replace("<class '", "")
        )
        annotation = annotation.replace("'>", "").replace("|", "\\|")  # a bare | would split the table cell
        default = "unset" if field.default is None else f"`{field.default}`"
        lines.append(f"| `MODELREG_{name.upper()}` | `{annotation}` | {default} | {field.description} |")
    return "\n".join(lines) + "\n"


def permissions_page() -> str:
    roles = list(ROLES)
    lines = [
        "# Permissions and roles",
        "",
        "Generated from `src/modelreg/access/__init__.py` by `python -m modelreg.reference_docs`; "
        "do not edit.",
        "",
        "Every use case checks one permission inside the registry, for every surface (SDK, REST, CLI); a",
        "caller without it gets `PERMISSION_DENIED` (HTTP 403, CLI exit 6). Tokens carry one role; the",
        "embedded SDK acts as the local user with the admin role.",
        "",
        f"| permission | allows | {' | '.join(roles)} |",
        f"| --- | --- | {' | '.join('---' for _ in roles)} |",
    ]
    for permission in Permission:
        if permission not in PERMISSION_HELP:
            raise ValueError(f"permission {permission} has no entry in PERMISSION_HELP")
        held = " | ".join("yes" if permission in ROLES[role] else "" for role in roles)
        lines.append(f"| `{permission}` | {PERMISSION_HELP[permission]} | {held} |")
    return "\n".join(lines) + "\n"


PAGES = {"errors.md": errors_page, "settings.md": settings_page, "permissions.md": permissions_page}


def main(argv: list[str]) -> None:
    docs = Path(argv[1]) if len(argv) > 1 else Path("docs")
    for name, render in PAGES.items():
        (docs / name).write_text(render())


if __name__ == "__main__":
    main(sys.argv)

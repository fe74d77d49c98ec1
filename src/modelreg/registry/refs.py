"""References to models and versions, in every form a user types.

name                      latest live version
name/3                    version 3            (also name/latest)
name@champion             the version the alias points to
name@sha256:<hex>         the version whose manifest digest this is (what a deployment pins)
models:/name/3            MLflow's URI form, likewise models:/name@champion and models:/name/latest
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelreg.digest import Digest, parse_digest
from modelreg.errors import InvalidDigest, InvalidInput, InvalidReference
from modelreg.registry.names import check_alias, check_model_name

__all__ = ["MAX_VERSION", "Ref", "model_of", "parse_ref"]

_VERSION = re.compile(r"[1-9][0-9]{0,9}")
MAX_VERSION = 2**31 - 1  # version numbers are 32-bit integers in both databases


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed reference; at most one of ``version``, ``alias`` and ``digest`` is set (none = latest)."""

    name: str
    version: int | None = None
    alias: str | None = None
    digest: Digest | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        if self.digest is not None:
            return f"{self.name}@{self.digest}"
        return self.name


def parse_ref(text: object) -> Ref:
    """Parse any reference form. Raises ``InvalidReference`` naming the text and the accepted forms."""
    if not isinstance(text, str) or not text or len(text) > 512:
        raise InvalidReference(_message(text))
    body = text.removeprefix("models:/")
    try:
        return _parse_body(body)
    except InvalidReference:
        raise
    except (InvalidInput, InvalidDigest) as error:
        raise InvalidReference(f"{_message(text)} ({error.message})") from None


def _parse_body(body: str) -> Ref:
    if "@" in body:
        name, _, target = body.partition("@")
        if target.startswith("sha256:"):
            return Ref(check_model_name(name), digest=parse_digest(target))
        return Ref(check_model_name(name), alias=check_alias(target))
    if "/" in body:
        name, _, number = body.partition("/")
        if number == "latest":
            return Ref(check_model_name(name))
        if not _VERSION.fullmatch(number) or int(number) > MAX_VERSION:
            raise InvalidReference(_message(body))
        return Ref(check_model_name(name), version=int(number))
    return Ref(check_model_name(body))


def _message(text: object) -> str:
    return (
        f"invalid reference {str(text)[:200]!r}: expected NAME, NAME/VERSION, NAME@ALIAS, "
        "NAME@sha256:<hex> or models:/NAME/VERSION"
    )


def model_of(ref: str) -> str:
    """The model a reference names, for a permission check (which precedes any lookup)."""
    return parse_ref(ref).name

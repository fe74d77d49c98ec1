"""Promotion policies as code: a TOML document, parsed and validated once, then asked per (model, target).

    protected_aliases = ["champion", "production"]   # the default; the production stage is always governed
    [[rule]]
    models = "risk-*"            # glob on model names; default "*"
    target = "production"        # a stage (staging, production, archived) or "@alias"; default production
    approvals = 2                # distinct approvers, none of them the requester; default 0
    expires_hours = 72           # a pending request expires; default 168 (a week)
    archive_previous = true      # entering production archives the previous production version(s)
    require = ["signature", "description", "run", "dataset:train", "card:intended_use"]
    gates = ["metrics.auc >= 0.85", "metrics.auc >= production"]

Every rule matching (model, target) applies: approvals and archiving take the strictest value (max, any),
expiry the shortest, requirements and gates the union. TOML only (stdlib ``tomllib``): one format keeps the
error messages precise, and YAML adds nothing a policy needs. Unknown keys are refused, so a typo never
silently weakens a policy. The checks themselves are in ``registry.policy_checks``.
"""

from __future__ import annotations

import fnmatch
import math
import re
import tomllib
from dataclasses import dataclass
from typing import Any

from modelreg.errors import InvalidAlias, InvalidInput, InvalidPolicy
from modelreg.registry.names import check_alias
from modelreg.types import STAGES

__all__ = [
    "DEFAULT_POLICY",
    "Gate",
    "Policy",
    "Requirements",
    "Rule",
    "check_target",
    "parse_policy",
]

MAX_POLICY_CHARS = 65536
MAX_APPROVALS = 100
DEFAULT_EXPIRES_HOURS = 168.0
_MAX_EXPIRES_HOURS = 24.0 * 366
_TOP_KEYS = frozenset({"protected_aliases", "rule"})
_RULE_KEYS = frozenset(
    {"models", "target", "approvals", "expires_hours", "archive_previous", "require", "gates"}
)
_GATE = re.compile(r"\s*metrics\.([A-Za-z0-9_][A-Za-z0-9_.:/ -]{0,249}?)\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*")
_REQUIRE = re.compile(
    r"signature|description|run|(dataset|card|tag|metric|param):[A-Za-z0-9_][\w.:/ -]{0,249}"
)
_RULE_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*rule[ \t]*\]\]", re.MULTILINE)
_GOVERNABLE_STAGES = tuple(stage for stage in STAGES if stage != "none")


def check_target(target: object) -> str:
    """A promotion target: a stage other than 'none' ("production") or an alias ("@champion")."""
    if isinstance(target, str) and target.startswith("@"):
        try:
            return "@" + check_alias(target[1:])
        except InvalidAlias as error:
            raise InvalidInput(f"invalid target {target[:60]!r}: {error.message}") from None
    if not isinstance(target, str) or target not in _GOVERNABLE_STAGES:
        raise InvalidInput(
            f"invalid target {str(target)[:60]!r}: expected a stage ({', '.join(_GOVERNABLE_STAGES)}) "
            "or '@alias' (e.g. @champion)"
        )
    return target


@dataclass(frozen=True, slots=True)
class Gate:
    """``metrics.KEY OP VALUE``; ``value`` None compares with the versions currently in production."""

    text: str
    metric: str
    op: str
    value: float | None


@dataclass(frozen=True, slots=True)
class Rule:
    models: str
    target: str
    approvals: int
    expires_hours: float | None
    archive_previous: bool | None
    require: tuple[str, ...]
    gates: tuple[Gate, ...]


@dataclass(frozen=True, slots=True)
class Requirements:
    """What moving a version of one model to one target takes, all matching rules combined."""

    governed: bool  # False: an ordinary move (no rule and not a protected target)
    approvals: int
    expires_hours: float
    archive_previous: bool  # only for target 'production'
    require: tuple[str, ...]
    gates: tuple[Gate, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    protected_aliases: tuple[str, ...]
    rules: tuple[Rule, ...]
    text: str = ""

    def requirements(self, model: str, target: str) -> Requirements:
        matching = [r for r in self.rules if r.target == target and fnmatch.fnmatchcase(model, r.models)]
        protected = target == "production" or target.removeprefix("@") in self.protected_aliases
        archive = target == "production" and all(r.archive_previous is not False for r in matching)
        hours = [r.expires_hours for r in matching if r.expires_hours is not None]
        return Requirements(
            governed=protected or bool(matching),
            approvals=max((r.approvals for r in matching), default=0),
            expires_hours=min(hours, default=DEFAULT_EXPIRES_HOURS),
            archive_previous=archive,
            require=tuple(dict.fromkeys(item for r in matching for item in r.require)),
            gates=tuple({gate.text: gate for r in matching for gate in r.gates}.values()),
        )


DEFAULT_POLICY = Policy(protected_aliases=("champion", "production"), rules=())


def parse_policy(text: object) -> Policy:
    """The policy ``text`` describes; ``InvalidPolicy`` naming the field (and line) of the first problem."""
    if not isinstance(text, str) or len(text) > MAX_POLICY_CHARS:
        raise InvalidPolicy(f"invalid policy: expected TOML text of at most {MAX_POLICY_CHARS} characters")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"line (\d+)", str(error))
        raise InvalidPolicy(
            f"invalid policy: not valid TOML: {error}",
            details={"field": None, "line": int(line.group(1)) if line else None},
        ) from None
    _no_unknown_keys(document, _TOP_KEYS, "", text, None)
    aliases = _protected_aliases(
        document.get("protected_aliases", list(DEFAULT_POLICY.protected_aliases)), text
    )
    rules = document.get("rule", [])
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise _bad("rule", "expected [[rule]] tables", text, None)
    parsed = tuple(_rule(rule, index, text) for index, rule in enumerate(rules, start=1))
    return Policy(protected_aliases=aliases, rules=parsed, text=text)


def _protected_aliases(value: Any, text: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _bad("protected_aliases", "expected a list of alias names", text, None)
    try:
        return tuple(dict.fromkeys(check_alias(item) for item in value))
    except InvalidAlias as error:
        raise _bad("protected_aliases", error.message, text, None) from None


def _rule(rule: dict[str, Any], index: int, text: str) -> Rule:
    where = f"rule[{index}]"
    _no_unknown_keys(rule, _RULE_KEYS, where + ".", text, index)
    models = rule.get("models", "*")
    if not isinstance(models, str) or not 0 < len(models) <= 256:
        raise _bad(f"{where}.models", "expected a glob on model names, e.g. 'risk-*'", text, index)
    try:
        target = check_target(rule.get("target", "production"))
    except InvalidInput as error:
        raise _bad(f"{where}.target", error.message, text, index) from None
    approvals = rule.get("approvals", 0)
    if isinstance(approvals, bool) or not isinstance(approvals, int) or not 0 <= approvals <= MAX_APPROVALS:
        raise _bad(f"{where}.approvals", f"expected an integer from 0 to {MAX_APPROVALS}", text, index)
    archive = rule.get("archive_previous")
    if archive is not None and (not isinstance(archive, bool) or target != "production"):
        raise _bad(f"{where}.archive_previous", "expected true or false, on target 'production'", text, index)
    return Rule(
        models=models,
        target=target,
        approvals=approvals,
        expires_hours=_hours(rule.get("expires_hours"), f"{where}.expires_hours", text, index),
        archive_previous=archive,
        require=_requirements(rule.get("require", []), f"{where}.require", text, index),
        gates=_gates(rule.get("gates", []), f"{where}.gates", text, index),
    )


def _hours(value: Any, field: str, text: str, index: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= _MAX_EXPIRES_HOURS:
        raise _bad(
            field, f"expected a number of hours above 0, at most {_MAX_EXPIRES_HOURS:.0f}", text, index
        )
    return float(value)


def _requirements(value: Any, field: str, text: str, index: int) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _bad(field, "expected a list of checks", text, index)
    for position, item in enumerate(value):
        if not isinstance(item, str) or not _REQUIRE.fullmatch(item):
            raise _bad(
                f"{field}[{position}]",
                f"unknown check {str(item)[:60]!r}: expected signature, description, run, dataset:ROLE, "
                "card:FIELD, tag:KEY, metric:KEY or param:KEY",
                text,
                index,
            )
    return tuple(dict.fromkeys(value))


def _gates(value: Any, field: str, text: str, index: int) -> tuple[Gate, ...]:
    if not isinstance(value, list):
        raise _bad(field, "expected a list of gate expressions", text, index)
    return tuple(_gate(item, f"{field}[{position}]", text, index) for position, item in enumerate(value))


def _gate(item: Any, field: str, text: str, index: int) -> Gate:
    found = _GATE.fullmatch(item) if isinstance(item, str) else None
    if found is None:
        raise _bad(
            field,
            f"invalid gate {str(item)[:60]!r}: expected 'metrics.KEY OP NUMBER|production' "
            "with OP one of >= > <= < == !=",
            text,
            index,
        )
    metric, op, operand = found.groups()
    if operand == "production":
        return Gate(text=f"metrics.{metric} {op} production", metric=metric, op=op, value=None)
    try:
        number = float(operand)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise _bad(
            field,
            f"invalid gate {item[:60]!r}: {operand[:30]!r} is neither a finite number nor 'production'",
            text,
            index,
        )
    return Gate(text=f"metrics.{metric} {op} {operand}", metric=metric, op=op, value=number)


def _no_unknown_keys(
    table: dict[str, Any], known: frozenset[str], prefix: str, text: str, index: int | None
) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise _bad(
            prefix + unknown[0], f"unknown key (expected one of {', '.join(sorted(known))})", text, index
        )


def _bad(field: str, problem: str, text: str, rule_index: int | None) -> InvalidPolicy:
    """An error naming the field and, for a rule's field, the line of that rule's [[rule]] header."""
    line = None
    if rule_index is not None:
        headers = list(_RULE_HEADER.finditer(text))
        if len(headers) >= rule_index:
            line = text.count("\n", 0, headers[rule_index - 1].start()) + 1
    at = f" (rule at line {line})" if line is not None else ""
    return InvalidPolicy(f"invalid policy: {field}{at}: {problem}", details={"field": field, "line": line})

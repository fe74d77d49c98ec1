"""The checks a policy asks of a version before it enters a target, each failure named and explained.

    signature         the version has an input/output signature
    description       its description is not empty
    run               its lineage names a training run
    dataset:ROLE      its lineage lists a dataset with that role (dataset:train)
    card:FIELD        its model card has that field: the version tag ``card.FIELD`` is not empty
    tag:KEY, metric:KEY, param:KEY    the version has that tag, metric or param
    metrics.KEY OP N  its metric compares so with N (a missing metric fails)
    metrics.KEY OP production   … and with each version now in stage production other than itself (no
                      production version, or one without that metric: nothing to compare, the gate holds)

Every check runs, so a refusal lists every failure at once (``PolicyCheckFailed.details.failed``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

from modelreg.errors import PolicyCheckFailed
from modelreg.registry.policy import Gate, Requirements
from modelreg.types import ModelVersion

__all__ = ["failures", "raise_failures"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


def failures(
    version: ModelVersion, requirements: Requirements, production: Sequence[ModelVersion]
) -> list[dict[str, str]]:
    """Every failed check as ``{"check", "reason"}``, in policy order; [] when the version passes."""
    failed = [
        {"check": item, "reason": reason}
        for item in requirements.require
        if (reason := _requirement(version, item)) is not None
    ]
    for gate in requirements.gates:
        reason = _gate(version, gate, [v for v in production if v.version != version.version])
        if reason is not None:
            failed.append({"check": gate.text, "reason": reason})
    return failed


def raise_failures(version: ModelVersion, target: str, failed: list[dict[str, str]]) -> None:
    if failed:
        checks = ", ".join(item["check"] for item in failed)
        raise PolicyCheckFailed(
            f"{version.ref} fails {len(failed)} policy check(s) for {target}: {checks}",
            details={"failed": failed, "version": version.ref, "target": target},
        )


def _requirement(version: ModelVersion, item: str) -> str | None:
    kind, _, key = item.partition(":")
    lineage = version.lineage
    present = {
        "signature": lambda: version.signature is not None,
        "description": lambda: bool(version.description.strip()),
        "run": lambda: bool(lineage.run_id),
        "dataset": lambda: any(dataset.role == key for dataset in lineage.datasets),
        "card": lambda: bool(version.tags.get(f"card.{key}", "").strip()),
        "tag": lambda: key in version.tags,
        "metric": lambda: key in version.metrics,
        "param": lambda: key in version.params,
    }[kind]()
    if present:
        return None
    return {
        "signature": "the version has no signature",
        "description": "the version has no description",
        "run": "its lineage names no training run",
        "dataset": f"its lineage lists no dataset with role {key!r}",
        "card": f"its model card has no {key!r} field (version tag 'card.{key}')",
        "tag": f"the version has no tag {key!r}",
        "metric": f"the version has no metric {key!r}",
        "param": f"the version has no param {key!r}",
    }[kind]


def _gate(version: ModelVersion, gate: Gate, production: Sequence[ModelVersion]) -> str | None:
    value = version.metrics.get(gate.metric)
    if value is None:
        return f"the version has no metric {gate.metric!r}"
    compare = _OPS[gate.op]
    if gate.value is not None:
        return None if compare(value, gate.value) else f"{gate.metric} is {value:g}"
    for current in production:
        theirs = current.metrics.get(gate.metric)
        if theirs is not None and not compare(value, theirs):
            return f"{gate.metric} is {value:g}; production version {current.ref} has {theirs:g}"
    return None

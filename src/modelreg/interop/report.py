"""What an import did and how the two registries compare: the data behind the reconciliation table.

Plain frozen dataclasses with ``to_dict`` (the ``--json`` shape), like ``modelreg.types``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["Action", "ImportReport", "ModelReconciliation", "Side", "VersionOutcome"]

Action = Literal["imported", "present", "would import", "conflict", "failed"]


@dataclass(frozen=True, slots=True)
class VersionOutcome:
    """One source version: what the import did with it, and the digests compared."""

    name: str
    version: int
    action: Action
    source_digest: str | None = None  # the manifest digest of the source's files, as modelreg computes it
    target_digest: str | None = None
    detail: str = ""

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"


@dataclass(frozen=True, slots=True)
class Side:
    """Counts on one side: live versions, tags (the model's and its versions'), aliases, and versions per
    stage other than none."""

    versions: int = 0
    tags: int = 0
    aliases: int = 0
    stages: tuple[tuple[str, int], ...] = ()

    @property
    def staged(self) -> int:
        return sum(count for _, count in self.stages)


@dataclass(frozen=True, slots=True)
class ModelReconciliation:
    name: str
    source: Side
    target: Side
    digests_matching: int
    digests_compared: int
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class ImportReport:
    source: str
    target: str
    dry_run: bool
    models: tuple[ModelReconciliation, ...]
    outcomes: tuple[VersionOutcome, ...]
    problems: tuple[str, ...]  # every mismatch and failure, model by model; empty = the target matches
    notes: tuple[str, ...] = ()  # lossy but expected (e.g. a non-finite metric MLflow took and we refuse)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, action: Action) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action == action)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for model in data["models"]:
            for side in ("source", "target"):
                model[side]["stages"] = dict(model[side]["stages"])
        data["ok"] = self.ok
        return data

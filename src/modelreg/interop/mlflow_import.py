"""``import_mlflow``: copy an MLflow registry into a modelreg registry through both public APIs.

    MLflow client (any tracking URI)                  modelreg SDK (embedded or HTTP)
    registered model: description, tags ────────────► create_model (or bring an existing one in line)
    versions, in number order:
      files (artifact API → local dir) ─────────────► push(..., version=N): numbers kept, gaps stay gaps
      tags, description ────────────────────────────► the version's tags and description
      source, run_link, model_id ───────────────────► reserved tags modelreg.mlflow.source, …
      run id; the run's latest metrics and params ──► lineage.run_id; the version's metrics and params
    stages ─────────────────────────────────────────► set_stage (governed: see below)
    aliases, last ──────────────────────────────────► set_alias
    then both sides are read again and compared: reconcile.reconcile

Idempotent: a version already at its number with the same digest is left as it is (only its mutable
metadata, tags and description, is brought in line), so a re-run writes nothing new. A number the target
uses for other files, or has deleted, or can no longer take (``VERSION_EXISTS``: a higher number exists) is a
conflict: reported, never overwritten.

Governance: the import does not bypass the promotion policy. It needs ``version:import`` (admins), and its
stage and alias moves are ordinary direct moves, so they succeed where the policy asks for no approvals
(with no policy at all, always) and run the policy's checks. A move the policy wants approved is refused and
reported: import into a registry before writing its policy, or promote those versions afterwards through
``request_promotion``. An import copies history; it must not be a way around approvals.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from modelreg.client.client import Client
from modelreg.errors import Conflict, ModelNotFound, ModelregError, PermissionDenied
from modelreg.interop.digests import local_digest
from modelreg.interop.mlflow_source import MlflowSource, SourceModel, SourceVersion
from modelreg.interop.reconcile import RESERVED_PREFIX, live_versions, reconcile
from modelreg.interop.report import Action, ImportReport, VersionOutcome
from modelreg.registry.names import check_model_name
from modelreg.types import Model, ModelVersion

__all__ = ["OnOutcome", "import_mlflow"]

OnOutcome = Callable[[VersionOutcome], None]


def import_mlflow(
    client: Client,
    source_uri: str,
    *,
    artifact_root: str | None = None,
    models: Sequence[str] | None = None,
    dry_run: bool = False,
    on_outcome: OnOutcome | None = None,
) -> ImportReport:
    """Import every registered model of the MLflow registry at ``source_uri`` (or only ``models``) into
    ``client``'s registry, then compare the two. ``dry_run`` reads both sides (the source's files too, to
    know their digests) and writes nothing. ``report.problems`` lists every conflict, failure and
    difference left; empty means the target now matches the source."""
    started = time.perf_counter()
    source = MlflowSource(source_uri, artifact_root=artifact_root)
    listed = source.models(list(models) if models else None)
    run = _Import(client, source, dry_run=dry_run, on_outcome=on_outcome)
    for model in listed:
        run.model(model)
    rows = reconcile(client, source, listed, run.outcomes, compare=not dry_run, skipped=run.skipped)
    problems = [problem for row in rows for problem in row.problems]
    return ImportReport(
        source=source_uri,
        target=client.location,
        dry_run=dry_run,
        models=tuple(rows),
        outcomes=tuple(run.outcomes),
        problems=tuple(run.problems + problems),
        notes=tuple(run.notes),
        seconds=time.perf_counter() - started,
    )


class _Import:
    """One import run: writes (unless a dry run) and records each version's outcome."""

    def __init__(
        self, client: Client, source: MlflowSource, *, dry_run: bool, on_outcome: OnOutcome | None
    ) -> None:
        self.client = client
        self.source = source
        self.dry_run = dry_run
        self.on_outcome = on_outcome
        self.outcomes: list[VersionOutcome] = []
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.skipped: dict[str, str] = {}  # models that cannot be imported at all → why

    def model(self, model: SourceModel) -> None:
        try:
            check_model_name(model.name)
            target = self._ensure_model(model)
        except ModelregError as error:  # an invalid name, tags modelreg refuses…: the other models go on
            self.skipped[model.name] = f"{error.code}: {error.message}"
            return
        existing = live_versions(self.client, model.name, include_deleted=True) if target else {}
        stages = {number: version.stage for number, version in existing.items()}
        landed: set[int] = set()  # numbers whose target version now holds the source's files
        for version in model.versions:
            holding = self._version(model, version, existing.get(version.number))
            if holding is not None:
                stages[version.number] = holding.stage
                landed.add(version.number)
        if not self.dry_run:
            self._stages(model, landed, stages)
            self._aliases(model, landed)

    # Models -----------------------------------------------------------------------------------------------
    def _ensure_model(self, model: SourceModel) -> Model | None:
        """The target model, created when absent (None in a dry run); an existing one brought in line."""
        try:
            current = self.client.get_model(model.name)
        except ModelNotFound:
            if self.dry_run:
                return None
            return self.client.create_model(model.name, description=model.description, tags=model.tags)
        if not self.dry_run:
            self._guard(model.name, self._align, model.name, current.description, current.tags, model)
        return current

    def _align(self, target: str, description: str, tags: dict[str, str], wanted: _Described) -> None:
        """Bring a model's or version's mutable metadata in line with the source: description, and every
        source tag (tags only the target has are left alone and show up in the reconciliation)."""
        if description != wanted.description:
            self.client.update_description(target, wanted.description)
        for key, value in wanted.tags.items():
            if tags.get(key) != value:
                self.client.set_tag(target, key, value)

    # Versions ---------------------------------------------------------------------------------------------
    def _version(
        self, model: SourceModel, version: SourceVersion, existing: ModelVersion | None
    ) -> ModelVersion | None:
        """Import one version (or check the one at its number); returns the target's version when it now
        holds the source's files."""
        if version.status != "READY":
            self._record(model.name, version, "failed", detail=f"MLflow status {version.status}")
            return None
        with tempfile.TemporaryDirectory(prefix="modelreg-import-") as scratch:
            try:
                path = self.source.fetch(version, model.name, Path(scratch))
                if existing is not None:
                    return self._compare(model.name, version, existing, local_digest(self.client, path))
                if self.dry_run:
                    self._record(model.name, version, "would import", local_digest(self.client, path))
                    return None
                pushed = self.client.push(model.name, path, version=version.number, **self._metadata(version))
            except Conflict as error:
                self._record(model.name, version, "conflict", detail=f"{error.code}: {error.message}")
                return None
            except ModelregError as error:
                self._record(model.name, version, "failed", detail=f"{error.code}: {error.message}")
                return None
        self._record(model.name, version, "imported", pushed.digest, pushed.digest)
        return pushed

    def _compare(
        self, name: str, version: SourceVersion, existing: ModelVersion, digest: str
    ) -> ModelVersion | None:
        """A number the target already uses: the same files (left as they are) or a conflict."""
        why = ""
        if existing.deleted:
            why = "the target has deleted this version"
        elif existing.digest != digest:
            why = "the target holds other files at this number"
        elif existing.purged:
            why = "the target has purged this version's files"
        if why:
            self._record(name, version, "conflict", digest, existing.digest, detail=why)
            return None
        self._record(name, version, "present", digest, existing.digest)
        if not self.dry_run:
            ref = f"{name}/{version.number}"
            self._guard(ref, self._align, ref, existing.description, existing.tags, _Wanted(version))
        return existing

    def _metadata(self, version: SourceVersion) -> dict[str, Any]:
        """What ``push`` records beside the files: the version's own metadata and its run's."""
        facts = self.source.run_facts(version.run_id)
        if facts.dropped:
            dropped = ", ".join(facts.dropped)
            self.notes.append(
                f"run {version.run_id}: metrics that are not finite numbers were left out: {dropped}"
            )
        return {
            "metrics": facts.metrics,
            "params": facts.params,
            "tags": _Wanted(version).tags,
            "description": version.description,
            "lineage": {"run_id": version.run_id} if version.run_id else None,
        }

    # Stages and aliases -----------------------------------------------------------------------------------
    def _stages(self, model: SourceModel, landed: set[int], current: Mapping[int, str]) -> None:
        for version in model.versions:
            if version.number in landed and current.get(version.number) != version.stage:
                ref = f"{model.name}/{version.number}"
                self._guard(ref, self.client.set_stage, ref, version.stage)

    def _aliases(self, model: SourceModel, landed: set[int]) -> None:
        current = self.client.get_model(model.name).aliases
        for alias, number in sorted(model.aliases.items()):
            if current.get(alias) == number:
                continue
            if number not in landed:
                self.problems.append(f"{model.name}@{alias}: not set: version {number} was not imported")
                continue
            self._guard(f"{model.name}@{alias}", self.client.set_alias, model.name, alias, number)

    # Bookkeeping ------------------------------------------------------------------------------------------
    def _guard(self, what: str, call: Callable[..., Any], *args: Any) -> None:
        """Run one metadata write; a refusal is a reported problem, not the end of the import."""
        try:
            call(*args)
        except PermissionDenied as error:
            self.problems.append(
                f"{what}: refused: {error.message} (the import does not bypass the promotion policy: "
                "import before writing it, or promote through request_promotion)"
            )
        except ModelregError as error:
            self.problems.append(f"{what}: {error.code}: {error.message}")

    def _record(
        self,
        name: str,
        version: SourceVersion,
        action: Action,
        source_digest: str | None = None,
        target_digest: str | None = None,
        *,
        detail: str = "",
    ) -> None:
        outcome = VersionOutcome(name, version.number, action, source_digest, target_digest, detail)
        self.outcomes.append(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)


class _Described(Protocol):
    description: str
    tags: dict[str, str]


class _Wanted:
    """A source version seen as the metadata the target's version should carry: its tags plus the
    MLflow-only fields under reserved keys (the MLflow API shows them as the version's own fields)."""

    def __init__(self, version: SourceVersion) -> None:
        self.description = version.description
        self.tags = dict(version.tags)
        for key, value in (
            ("source", version.source),
            ("run_link", version.run_link),
            ("model_id", version.model_id),
        ):
            if value:
                self.tags[RESERVED_PREFIX + key] = value

"""Reconciliation: read both registries again after an import and list every difference.

Per model it compares the live version numbers, each version's digest (the source's: its files' manifest
digest as modelreg computes it), description, tags, stage, run id, metrics and params (the run's), and the
model's description, tags and aliases. Tags under ``modelreg.mlflow.`` on the target are the MLflow-only
fields the import keeps (source, run_link, model_id): compared as those fields, not counted as tags.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from modelreg.client.client import Client
from modelreg.errors import ModelNotFound
from modelreg.interop.mlflow_source import MlflowSource, SourceModel, SourceVersion
from modelreg.interop.report import ModelReconciliation, Side, VersionOutcome
from modelreg.types import Model, ModelVersion

__all__ = ["RESERVED_PREFIX", "live_versions", "reconcile"]

RESERVED_PREFIX = "modelreg.mlflow."
_PAGE = 1000


def live_versions(client: Client, name: str, *, include_deleted: bool = False) -> dict[int, ModelVersion]:
    """Every version of ``name`` in the target by number (deleted ones too when asked), page by page."""
    found: dict[int, ModelVersion] = {}
    token: str | None = None
    while True:
        page = client.list_versions(name, include_deleted=include_deleted, limit=_PAGE, page_token=token)
        found.update((version.version, version) for version in page.items)
        token = page.next_page_token
        if token is None:
            return found


def reconcile(
    client: Client,
    source: MlflowSource,
    models: Sequence[SourceModel],
    outcomes: Sequence[VersionOutcome],
    *,
    compare: bool = True,
    skipped: dict[str, str] | None = None,
) -> list[ModelReconciliation]:
    """One row per source model. With ``compare=False`` (a dry run) only conflicts and failures are
    problems: the target is expected to differ before the import."""
    by_ref = {outcome.ref: outcome for outcome in outcomes}
    rows = []
    for model in models:
        if skipped and model.name in skipped:
            why = (f"{model.name}: not imported: {skipped[model.name]}",)
            rows.append(ModelReconciliation(model.name, _source_side(model), Side(), 0, 0, why))
            continue
        target, versions = _target(client, model.name)
        problems = _outcome_problems(model, by_ref)
        if compare:
            problems += _model_problems(model, target, versions)
            problems += _version_problems(source, model, versions, by_ref)
        matching, compared = _digests(model, versions, by_ref)
        rows.append(
            ModelReconciliation(
                name=model.name,
                source=_source_side(model),
                target=_target_side(target, versions),
                digests_matching=matching,
                digests_compared=compared,
                problems=tuple(problems),
            )
        )
    return rows


def _target(client: Client, name: str) -> tuple[Model | None, dict[int, ModelVersion]]:
    try:
        model = client.get_model(name)
    except ModelNotFound:
        return None, {}
    return model, live_versions(client, name)


def _outcome_problems(model: SourceModel, by_ref: dict[str, VersionOutcome]) -> list[str]:
    problems = []
    for version in model.versions:
        outcome = by_ref.get(f"{model.name}/{version.number}")
        if outcome is not None and outcome.action in ("conflict", "failed"):
            problems.append(f"{outcome.ref}: {outcome.action}: {outcome.detail}")
    return problems


def _model_problems(model: SourceModel, target: Model | None, versions: dict[int, ModelVersion]) -> list[str]:
    if target is None:
        return [f"{model.name}: missing in the target"]
    problems = _differences(model.name, "description", model.description, target.description)
    problems += _differences(model.name, "tags", model.tags, target.tags)
    problems += _differences(model.name, "aliases", model.aliases, target.aliases)
    extra = sorted(versions.keys() - {version.number for version in model.versions})
    problems += [f"{model.name}/{number}: in the target only" for number in extra]
    return problems


def _version_problems(
    source: MlflowSource,
    model: SourceModel,
    versions: dict[int, ModelVersion],
    by_ref: dict[str, VersionOutcome],
) -> list[str]:
    problems = []
    for version in model.versions:
        ref = f"{model.name}/{version.number}"
        outcome = by_ref.get(ref)
        if outcome is not None and outcome.action in ("conflict", "failed"):
            continue  # already reported with its reason
        target = versions.get(version.number)
        if target is None:
            problems.append(f"{ref}: missing in the target")
            continue
        problems += _version_differences(source, ref, version, target, outcome)
    return problems


def _version_differences(
    source: MlflowSource,
    ref: str,
    version: SourceVersion,
    target: ModelVersion,
    outcome: VersionOutcome | None,
) -> list[str]:
    facts = source.run_facts(version.run_id)
    own_tags, mlflow_fields = _split_tags(target.tags)
    wanted_fields = {
        key: value
        for key, value in (
            ("source", version.source),
            ("run_link", version.run_link),
            ("model_id", version.model_id),
        )
        if value
    }
    problems = []
    if outcome is None or outcome.source_digest is None:
        problems.append(f"{ref}: the source's digest is unknown")
    elif outcome.source_digest != target.digest:
        problems.append(f"{ref}: digest: source {outcome.source_digest}, target {target.digest}")
    problems += _differences(ref, "description", version.description, target.description)
    problems += _differences(ref, "tags", version.tags, own_tags)
    problems += _differences(ref, "MLflow fields", wanted_fields, mlflow_fields)
    problems += _differences(ref, "stage", version.stage, target.stage)
    problems += _differences(ref, "run id", version.run_id, target.lineage.run_id)
    problems += _differences(ref, "metrics", facts.metrics, target.metrics)
    problems += _differences(ref, "params", facts.params, target.params)
    return problems


def _differences(what: str, field: str, source: object, target: object) -> list[str]:
    if source == target:
        return []
    return [f"{what}: {field}: source {source!r}, target {target!r}"]


def _split_tags(tags: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    own = {key: value for key, value in tags.items() if not key.startswith(RESERVED_PREFIX)}
    fields = {
        key[len(RESERVED_PREFIX) :]: value for key, value in tags.items() if key.startswith(RESERVED_PREFIX)
    }
    return own, fields


def _digests(
    model: SourceModel, versions: dict[int, ModelVersion], by_ref: dict[str, VersionOutcome]
) -> tuple[int, int]:
    """(matching, compared): source versions whose digest is known and that the target holds."""
    matching = compared = 0
    for version in model.versions:
        outcome = by_ref.get(f"{model.name}/{version.number}")
        target = versions.get(version.number)
        if outcome is None or outcome.source_digest is None or target is None:
            continue
        compared += 1
        matching += outcome.source_digest == target.digest
    return matching, compared


def _source_side(model: SourceModel) -> Side:
    tags = len(model.tags) + sum(len(version.tags) for version in model.versions)
    stages = Counter(version.stage for version in model.versions if version.stage != "none")
    return Side(len(model.versions), tags, len(model.aliases), tuple(sorted(stages.items())))


def _target_side(model: Model | None, versions: dict[int, ModelVersion]) -> Side:
    if model is None:
        return Side()
    tags = len(model.tags) + sum(len(_split_tags(version.tags)[0]) for version in versions.values())
    stages = Counter(version.stage for version in versions.values() if version.stage != "none")
    return Side(len(versions), tags, len(model.aliases), tuple(sorted(stages.items())))

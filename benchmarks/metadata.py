"""Metadata latency over 100,000 versions: resolving ``name@alias`` and a filtered, sorted search.

For each database (SQLite file, and PostgreSQL in a fresh schema dropped afterwards) it builds a registry of
20 models × 5,000 versions, then measures, in-process through the embedded SDK (no HTTP):

- ``reg.get_version("mNN@champion")``, cycling over the 20 models: ≥ 2,000 calls per run (after 100
  warm-up calls), p50/p95/p99 per run; target p50 < 1 ms;
- ``reg.search_versions("tags.team = 'risk' and metrics.auc > 0.9", order_by=["metrics.auc DESC"],
  limit=20)``: ``--search-calls`` calls per run (default 200; fewer, but at least 50, when a run would
  take more than 20 s), after 5 warm-ups; target p95 < 50 ms. The result is checked against the top 20
  computed in Python from the seeded values.

Reported: the median over ``--runs`` runs (default 3) of each run's percentile, and the range.

Seeding. Every version gets tags ``team`` (10 values, uniform: ``risk`` is 10%), ``framework`` and
``region``, metrics ``auc`` (uniform in [0.8, 1.0), so ``auc > 0.9`` is 50% and the filter matches ~5%),
``loss`` and ``accuracy``, and params ``lr`` and ``max_depth``. All versions hold the same tiny file, so a
push writes no chunk. The first ``--sdk-versions`` versions (default 500, spread over the 20 models) are
pushed through the public SDK, and that rate is reported. When the SDK rate projects the full 100,000 to
more than 3 minutes, the rest are bulk-inserted with SQLAlchemy Core into exactly the rows the registry
writes for a push (a version row copied from a real pushed one, its file, metrics, params and tags, and a
``registry:version:create`` audit event continuing the hash chain; each model's ``last_version``), and the
time that takes is reported too. Each model's ``@champion`` alias is then set through the SDK.

After seeding, PostgreSQL gets ``VACUUM ANALYZE`` (what autovacuum would do minutes later; without it,
autovacuum may re-plan the queries in the middle of a run). SQLite is measured as the registry leaves it:
the registry never runs ``ANALYZE`` there, and SQLite never does it by itself.

Run:  .venv/bin/python benchmarks/metadata.py [--runs 3] [--databases sqlite,postgres]
PostgreSQL: postgresql://postgres@127.0.0.1:5432/test, or set MODELREG_BENCH_POSTGRES_URL.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy
from sqlalchemy import insert, select, update

import modelreg
from _common import (
    Report,
    analyze,
    banner,
    parse_args,
    percentile,
    postgres_schema,
    require,
    scratch_dir,
    summarise,
)
from modelreg.metadata.engine import normalise_url
from modelreg.metadata.tables import (
    audit_events,
    audit_head,
    models,
    version_files,
    version_metrics,
    version_params,
    version_tags,
    versions,
)
from modelreg.registry.audit import event_hash
from modelreg.registry.manifest import canonical_json

MODELS = 20
TEAMS = ("risk", "fraud", "growth", "search", "ads", "infra", "vision", "speech", "nlp", "pricing")
FILTER = "tags.team = 'risk' and metrics.auc > 0.9"
ORDER = ["metrics.auc DESC"]
ALIAS_TARGET_MS = 1.0
SEARCH_TARGET_MS = 50.0
SEARCH_BUDGET_S = 20.0  # per run: a slow search gets fewer calls (never under MIN_SEARCH_CALLS)
MIN_SEARCH_CALLS = 50
SDK_BUDGET_S = 180.0  # the issue: seed through the SDK unless that takes more than 3 minutes
ACTOR = "bench"


@dataclass(frozen=True, slots=True)
class Meta:
    """One version's metadata, generated up front so search results can be checked."""

    model: str
    number: int
    tags: dict[str, str]
    metrics: dict[str, float]
    params: dict[str, str]


@dataclass
class Seeding:
    sdk_versions: int = 0
    sdk_seconds: float = 0.0
    bulk_versions: int = 0
    bulk_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def sdk_rate(self) -> float:
        return self.sdk_versions / self.sdk_seconds


def main() -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
        parser.add_argument("--versions-per-model", type=int, default=5000)
        parser.add_argument("--sdk-versions", type=int, default=500, help="versions pushed through the SDK")
        parser.add_argument("--alias-calls", type=int, default=2000)
        parser.add_argument("--search-calls", type=int, default=200)

    args = parse_args(__doc__ or "", runs=3, extra=extra)
    require(args.alias_calls >= 2000 or args.versions_per_model < 5000, "--alias-calls must be ≥ 2000")
    total = MODELS * args.versions_per_model
    banner(f"metadata: {MODELS} models × {args.versions_per_model} versions = {total}, {args.runs} runs")
    report = Report("metadata", args.json)
    plan = _plan(args.versions_per_model)
    for database in args.databases.split(","):
        with _database(database) as (url, storage):
            _bench_database(database, url, storage, plan=plan, args=args, report=report)
    return report.finish()


@contextlib.contextmanager
def _database(kind: str) -> Iterator[tuple[str, str]]:
    with scratch_dir(f"metadata-{kind}") as root:
        storage = f"file://{root / 'chunks'}"
        if kind == "sqlite":
            yield f"sqlite:///{root / 'registry.db'}", storage
        elif kind == "postgres":
            with postgres_schema("bench_metadata") as url:
                yield url, storage
        else:
            raise SystemExit(f"unknown database {kind!r}: use sqlite or postgres")


def _bench_database(
    kind: str, url: str, storage: str, *, plan: list[Meta], args: argparse.Namespace, report: Report
) -> None:
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    print(f"-- {label}: seeding {len(plan)} versions", flush=True)
    seeding = _seed(
        url, storage, plan, sdk_versions=args.sdk_versions, workdir=Path(storage[len("file://") :])
    )
    projected = len(plan) / seeding.sdk_rate
    report.add(
        f"{label}: seeding through the SDK (versions/s)",
        f"{seeding.sdk_rate:.0f}",
        f"{seeding.sdk_versions} pushes in {seeding.sdk_seconds:.1f} s; all {len(plan)}: {projected:.0f} s",
    )
    if seeding.bulk_versions:
        report.add(
            f"{label}: bulk seeding, SQLAlchemy Core (versions/s)",
            f"{seeding.bulk_versions / seeding.bulk_seconds:.0f}",
            f"{seeding.bulk_versions} versions in {seeding.bulk_seconds:.1f} s",
        )
    for text_ in seeding.notes:
        report.note(f"{label}: {text_}")
    if kind == "postgres":
        analyze(url)
    expected = _expected_top(plan)
    with modelreg.connect(url, storage=storage, actor=ACTOR) as reg:
        alias_runs = [_alias_latencies(reg, args.alias_calls) for _ in range(args.runs)]
        search_runs = [_search_latencies(reg, args.search_calls, expected) for _ in range(args.runs)]
    for name, runs, target, judged in (
        ("get_version('m@champion')", alias_runs, ALIAS_TARGET_MS, 0.50),
        ("search_versions(team=risk, auc>0.9, order auc, limit 20)", search_runs, SEARCH_TARGET_MS, 0.95),
    ):
        for fraction in (0.50, 0.95, 0.99):
            stats = summarise([percentile(samples, fraction) for samples in runs])
            has_target = fraction == judged
            bound = f"< {target:g} ms" if has_target else ""
            report.add(
                f"{label}: {name} p{int(fraction * 100)} (ms)",
                f"{stats.median:.2f}",
                stats.spread(".2f") + f", {_calls(runs)} calls/run",
                bound,
                stats.median < target if has_target else None,
            )


def _calls(runs: list[list[float]]) -> str:
    low, high = min(len(r) for r in runs), max(len(r) for r in runs)
    return str(low) if low == high else f"{low}–{high}"


# Seeding ----------------------------------------------------------------------------------------------------
def _plan(per_model: int) -> list[Meta]:
    """Every version's metadata, in push order: round-robin over the models, as concurrent teams would."""
    rng = random.Random(20240607)
    plan = []
    for number in range(1, per_model + 1):
        for index in range(MODELS):
            plan.append(
                Meta(
                    model=f"m{index:02d}",
                    number=number,
                    tags={
                        "team": rng.choice(TEAMS),
                        "framework": rng.choice(("sklearn", "xgboost", "torch")),
                        "region": rng.choice(("eu", "us", "apac")),
                    },
                    metrics={
                        "auc": rng.uniform(0.8, 1.0),
                        "loss": rng.uniform(0.0, 1.0),
                        "accuracy": rng.uniform(0.7, 1.0),
                    },
                    params={"lr": rng.choice(("0.1", "0.01", "0.001")), "max_depth": str(rng.randint(2, 12))},
                )
            )
    return plan


def _seed(url: str, storage: str, plan: list[Meta], *, sdk_versions: int, workdir: Path) -> Seeding:
    seeding = Seeding()
    workdir.mkdir(parents=True, exist_ok=True)
    artifact = workdir.parent / "model.bin"
    artifact.write_bytes(b"tiny shared model file: every version holds it, so pushes store no chunk\n")
    with modelreg.connect(url, storage=storage, actor=ACTOR) as reg:
        started = time.perf_counter()
        for meta in plan[:sdk_versions]:
            _push(reg, artifact, meta)
        seeding.sdk_versions = min(sdk_versions, len(plan))
        seeding.sdk_seconds = time.perf_counter() - started
        rest = plan[seeding.sdk_versions :]
        if rest and len(plan) / seeding.sdk_rate <= SDK_BUDGET_S:
            started = time.perf_counter()
            for meta in rest:
                _push(reg, artifact, meta)
            seeding.sdk_versions = len(plan)
            seeding.sdk_seconds += time.perf_counter() - started
            rest = []
    if rest:
        started = time.perf_counter()
        _bulk_insert(url, rest)
        seeding.bulk_versions = len(rest)
        seeding.bulk_seconds = time.perf_counter() - started
        projected = len(plan) / seeding.sdk_rate
        seeding.notes.append(
            f"{seeding.sdk_versions} versions pushed through the SDK, {len(rest)} bulk-inserted with "
            f"SQLAlchemy Core (all {len(plan)} through the SDK: {projected:.0f} s > {SDK_BUDGET_S:.0f} s)"
        )
    with modelreg.connect(url, storage=storage, actor=ACTOR) as reg:
        per_model = max(meta.number for meta in plan)
        for index in range(MODELS):
            reg.set_alias(f"m{index:02d}", "champion", per_model - 1 - index)
        version = reg.get_version("m00@champion")
        require(version.version == per_model - 1, f"m00@champion is version {version.version}")
        require(reg.get_model("m19").latest_version == per_model, "m19 does not have every version")
    return seeding


def _push(reg: modelreg.Client, artifact: Path, meta: Meta) -> None:
    version = reg.push(meta.model, artifact, metrics=meta.metrics, params=meta.params, tags=meta.tags)
    require(
        version.version == meta.number,
        f"{meta.model}: pushed version {version.version}, expected {meta.number}",
    )


def _bulk_insert(url: str, rest: list[Meta]) -> None:
    """The rows ``SqlSession.insert_version`` + the audit record would write, for many versions at once."""
    engine = sqlalchemy.create_engine(normalise_url(url))
    try:
        with engine.begin() as connection:
            model_ids = dict(connection.execute(select(models.c.name, models.c.id)).all())
            template = connection.execute(select(versions).order_by(versions.c.id).limit(1)).mappings().one()
            file_row = (
                connection.execute(select(version_files).where(version_files.c.version_id == template["id"]))
                .mappings()
                .one()
            )
            start = datetime.now(UTC)
            when = {id(meta): start + timedelta(milliseconds=i) for i, meta in enumerate(rest)}
            rows = [
                {
                    **{k: v for k, v in template.items() if k != "id"},
                    "model_id": model_ids[meta.model],
                    "number": meta.number,
                    "created_at": when[id(meta)],
                    "updated_at": when[id(meta)],
                }
                for meta in rest
            ]
            _insert_many(connection, versions, rows)
            ids = {
                (model_id, number): version_id
                for version_id, model_id, number in connection.execute(
                    select(versions.c.id, versions.c.model_id, versions.c.number)
                )
            }
            children: dict[sqlalchemy.Table, list[dict[str, object]]] = {
                version_files: [],
                version_metrics: [],
                version_params: [],
                version_tags: [],
            }
            for meta in rest:
                version_id = ids[(model_ids[meta.model], meta.number)]
                children[version_files].append(
                    {"version_id": version_id, **{k: file_row[k] for k in ("path", "file_digest", "size")}}
                )
                for table, values in (
                    (version_metrics, meta.metrics),
                    (version_params, meta.params),
                    (version_tags, meta.tags),
                ):
                    children[table].extend(
                        {"version_id": version_id, "key": k, "value": v} for k, v in values.items()
                    )
            for table, table_rows in children.items():
                _insert_many(connection, table, table_rows)
            _append_audit(connection, rest, template["digest"], when)
            last = max(when.values())
            for name, model_id in model_ids.items():
                top = max(meta.number for meta in rest if meta.model == name)
                connection.execute(
                    update(models).where(models.c.id == model_id).values(last_version=top, updated_at=last)
                )
    finally:
        engine.dispose()


def _append_audit(
    connection: sqlalchemy.Connection, rest: list[Meta], digest: str, when: dict[int, datetime]
) -> None:
    """``registry:version:create`` events, hash-chained after the current head, as ``audit.record`` writes."""
    seq, prev_hash = connection.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
    ).one()
    data_json = canonical_json({"digest": digest, "aliases": []}).decode()
    events = []
    for meta in rest:
        seq += 1
        fields = {
            "seq": seq,
            "at": when[id(meta)],
            "actor": ACTOR,
            "action": "registry:version:create",
            "model": meta.model,
            "target": f"{meta.model}/{meta.number}",
        }
        digest_ = event_hash(prev_hash, **fields, data_json=data_json)  # type: ignore[arg-type]
        events.append({**fields, "data": data_json, "prev_hash": prev_hash, "hash": digest_})
        prev_hash = digest_
    _insert_many(connection, audit_events, events)
    connection.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=prev_hash))


def _insert_many(
    connection: sqlalchemy.Connection, table: sqlalchemy.Table, rows: list[dict[str, object]]
) -> None:
    """Core executemany in batches. (Multi-row VALUES is far slower: SQLAlchemy compiles every parameter.)"""
    for start in range(0, len(rows), 10_000):
        connection.execute(insert(table), rows[start : start + 10_000])


# Measuring --------------------------------------------------------------------------------------------------
def _alias_latencies(reg: modelreg.Client, calls: int) -> list[float]:
    refs = [f"m{index:02d}@champion" for index in range(MODELS)]
    for index in range(100):
        reg.get_version(refs[index % MODELS])
    samples = []
    clock = time.perf_counter
    for index in range(calls):
        ref = refs[index % MODELS]
        started = clock()
        reg.get_version(ref)
        samples.append((clock() - started) * 1000)
    return samples


def _search_latencies(reg: modelreg.Client, calls: int, expected: list[tuple[str, int]]) -> list[float]:
    for _ in range(5):
        page = reg.search_versions(FILTER, order_by=ORDER, limit=20)
    got = [(version.name, version.version) for version in page.items]
    require(got == expected, f"search returned {got[:3]}…, expected {expected[:3]}…")
    samples: list[float] = []
    clock = time.perf_counter
    deadline = clock() + SEARCH_BUDGET_S
    while len(samples) < calls and (len(samples) < MIN_SEARCH_CALLS or clock() < deadline):
        started = clock()
        reg.search_versions(FILTER, order_by=ORDER, limit=20)
        samples.append((clock() - started) * 1000)
    return samples


def _expected_top(plan: list[Meta]) -> list[tuple[str, int]]:
    """The first page the search must return: ties (none expected with random floats) by name, then number."""
    matches = [meta for meta in plan if meta.tags["team"] == "risk" and meta.metrics["auc"] > 0.9]
    matches.sort(key=lambda meta: (-meta.metrics["auc"], meta.model, -meta.number))
    return [(meta.model, meta.number) for meta in matches[:20]]


if __name__ == "__main__":
    raise SystemExit(main())

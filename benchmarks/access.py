"""Access control costs: authenticating a token (with role bindings resolved), and a scoped listing.

For each database (SQLite file; PostgreSQL in a fresh schema dropped afterwards) it creates ``--models``
models (rows only, through the metadata store), ``--users`` users, one group per 10 users (each user in
three groups, each group a viewer binding on its own pattern) and a contributor binding per user on
``risk-*`` (a tenth of the models). Then, ``--runs`` times each (median of the runs' medians, range beside):

- **authenticate, plain token**: ``tokens.authenticate`` of a viewer token with no bindings (token row +
  one bindings query that finds nothing);
- **authenticate, token as a user**: a token with ``user``: the user's and its three groups' bindings;
- **list_models(limit=100)**: as a global viewer, and as the scoped user (SQL ``GLOB``/``LIKE`` filter).

Run:  .venv/bin/python benchmarks/access.py [--runs 5] [--models 10000] [--users 1000]
PostgreSQL: postgresql://postgres@127.0.0.1:5432/test, or set MODELREG_BENCH_POSTGRES_URL.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from _common import Report, banner, parse_args, postgres_schema, require, scratch_dir, summarise
from modelreg.access import Actor
from modelreg.connection import open_stores
from modelreg.registry import tokens
from modelreg.registry.principals import token_actor
from modelreg.registry.service import Registry

CALLS = 200  # timed calls per run and figure


def main() -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
        parser.add_argument("--models", type=int, default=10_000, help="models")
        parser.add_argument("--users", type=int, default=1_000, help="users")

    args = parse_args(__doc__ or "", runs=5, extra=extra)
    banner(f"access: {args.models} models, {args.users} users, {args.runs} runs")
    report = Report("access", args.json)
    for kind in args.databases.split(","):
        with _registry(kind) as admin:
            _bench(kind, admin, models=args.models, users=args.users, runs=args.runs, report=report)
    return report.finish()


@contextlib.contextmanager
def _registry(kind: str) -> Iterator[Registry]:
    with scratch_dir("access") as root, contextlib.ExitStack() as stack:
        url = (
            f"sqlite:///{root / 'registry.db'}"
            if kind == "sqlite"
            else stack.enter_context(postgres_schema())
        )
        metadata, chunks = open_stores(url, storage=f"file://{root / 'chunks'}")
        stack.callback(metadata.close)
        yield Registry(metadata, chunks, actor=Actor("root", role="admin"))


def _bench(kind: str, admin: Registry, *, models: int, users: int, runs: int, report: Report) -> None:
    now = datetime.now(UTC)
    with admin.metadata.session(write=True) as session:
        for i in range(models):
            session.ensure_model(f"{'risk' if i % 10 == 0 else 'ops'}-{i:06d}", at=now, actor="root")
    groups = max(1, users // 10)
    for g in range(groups):
        admin.create_group(f"g{g}")
        admin.grant("viewer", f"group:g{g}", models=f"team{g}-*")
    for u in range(users):
        admin.create_user(f"u{u}")
        admin.grant("contributor", f"user:u{u}", models="risk-*")
        for g in {u % groups, (u + 1) % groups, (u + 2) % groups}:
            admin.add_group_member(f"g{g}", f"user:u{u}")
    plain = admin.create_token("plain", role="viewer").secret or ""
    bound = admin.create_token("bound", role="none", user="u7").secret or ""
    actor = tokens.authenticate(admin.metadata, bound, now=now)
    require(actor.name == "u7" and len(actor.grants) == 4, f"u7's grants: {actor.grants}")
    with admin.metadata.session() as session:
        require(token_actor(session, session.list_tokens()[0]).grants == (), "the plain token has no grants")
    viewer, scoped = admin.as_actor(Actor("v", role="viewer")), admin.as_actor(actor)
    require(all(m.name.startswith("risk-") for m in scoped.list_models(limit=100).items), "scoped listing")
    figures: dict[str, Callable[[], object]] = {
        "authenticate, plain token": lambda: tokens.authenticate(admin.metadata, plain, now=now),
        "authenticate, token as a user (4 grants)": lambda: tokens.authenticate(
            admin.metadata, bound, now=now
        ),
        "list_models(limit=100), global viewer": lambda: viewer.list_models(limit=100),
        "list_models(limit=100), scoped to risk-*": lambda: scoped.list_models(limit=100),
    }
    for label, call in figures.items():
        medians = [_median_ms(call) for _ in range(runs)]
        summary = summarise(medians)
        report.add(f"{kind}: {label} p50", f"{summary.median:.3f} ms", summary.spread(".3f"))


def _median_ms(call: Callable[[], object]) -> float:
    samples = []
    for _ in range(CALLS):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


if __name__ == "__main__":
    raise SystemExit(main())

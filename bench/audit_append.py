"""What an audit append costs (issue 12: the cost of audit writes per turn).

  .venv/bin/python -m bench.audit_append [--appends 400] [--postgres URL]

Appends store-write-like entries (ids and amounts, an idempotency key) to one tenant's chain
through ``audit.log.append``, on a fresh SQLite file (WAL, as the app runs it) and, when a URL
is given (or SUPPORTFLOW_TEST_POSTGRES_URL is set), a fresh Postgres database: one writer,
then 4 writers at once on the same tenant (the worst case: they all queue for one chain).
Prints appends/s and p50/p99 per append; checks the chain is whole afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.stack import pct
from supportflow.audit.entry import ActorKind, NewEntry
from supportflow.audit.log import append
from supportflow.audit.verify import verify
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade


def _entry(tenant: str, n: int) -> NewEntry:
    return NewEntry(
        tenant_id=tenant,
        actor_kind=ActorKind.AGENT,
        actor_id=f"customer-{tenant}-wf",
        action="store.refund_order",
        target=f"#W{n:07d}",
        details={"amount": 12.5, "payment_method_id": "gift_card_1725971", "status": "refunded"},
        workflow_id=f"customer-{tenant}-wf",
        run_id=str(uuid.uuid4()),
        idempotency_key=f"wf:case:{n}:{uuid.uuid4().hex}",
    )


def run(url: str, appends: int, writers: int) -> tuple[float, float, float]:
    """(appends/s, p50 ms, p99 ms) for ``appends`` spread over ``writers`` threads."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    append(sessions, _entry(tenant, 0))  # warm the pool and the statement cache
    per = appends // writers
    start = threading.Barrier(writers)

    def write(w: int) -> list[float]:
        start.wait()
        took = []
        for i in range(per):
            t0 = time.perf_counter()
            append(sessions, _entry(tenant, w * per + i + 1))
            took.append(time.perf_counter() - t0)
        return took

    t0 = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        times = [t for batch in pool.map(write, range(writers)) for t in batch]
    wall = time.perf_counter() - t0
    result = verify(sessions, tenant)
    engine.dispose()
    if not result.ok or result.checked[tenant] != per * writers + 1:
        raise SystemExit(f"chain broken: {result.first_bad}")
    return len(times) / wall, pct(times, 50) * 1000, pct(times, 99) * 1000


@contextmanager
def postgres_database(base: str) -> Iterator[str]:
    name = "sf_bench_" + uuid.uuid4().hex[:8]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def report(label: str, url: str, appends: int) -> None:
    upgrade(url)
    for writers in (1, 4):
        rate, p50, p99 = run(url, appends, writers)
        print(
            f"{label:8} writers={writers}: {rate:7.0f} appends/s   "
            f"p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appends", type=int, default=400)
    parser.add_argument("--postgres", default=os.environ.get("SUPPORTFLOW_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report("sqlite", f"sqlite:///{Path(tmp) / 'app.db'}", args.appends)
    if args.postgres:
        with postgres_database(args.postgres) as url:
            report("postgres", url, args.appends)
    else:
        print("postgres: skipped (no --postgres URL)")


if __name__ == "__main__":
    main()

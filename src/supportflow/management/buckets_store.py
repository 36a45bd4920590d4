"""The ``metric_buckets`` table: the workflow writes the hours a poll changed (absolute
values, so a retried write is harmless); the API and the console read ranges of them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import MetricBucketRow
from supportflow.management.metrics import COUNTERS, hour_of, hour_start

_KNOWN = frozenset(COUNTERS)
_CHUNK = 500


def write_buckets(
    sessions: sessionmaker[Session],
    tenant_id: str,
    buckets: Mapping[int, Mapping[str, float]],
) -> int:
    """Upsert every (hour, counter) given; how many rows were written."""
    rows: list[dict[str, Any]] = [
        {"tenant_id": tenant_id, "hour": hour_start(hour), "name": name, "value": float(value)}
        for hour, bucket in buckets.items()
        for name, value in bucket.items()
        if name in _KNOWN
    ]
    if not rows:
        return 0
    with sessions.begin() as s:
        dialect = s.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # In chunks: a first poll over a week of history touches thousands of rows, and
        # databases bound the parameters of one statement.
        for i in range(0, len(rows), _CHUNK):
            stmt = insert(MetricBucketRow).values(rows[i : i + _CHUNK])
            stmt = stmt.on_conflict_do_update(
                index_elements=["tenant_id", "hour", "name"], set_={"value": stmt.excluded.value}
            )
            s.execute(stmt)
    return len(rows)


def read_buckets(
    sessions: sessionmaker[Session], tenant_id: str, start: datetime, end: datetime
) -> dict[int, dict[str, float]]:
    """Hour index -> counter -> value for hours starting in [start, end)."""
    out: dict[int, dict[str, float]] = {}
    with sessions() as s:
        rows = s.execute(
            select(MetricBucketRow.hour, MetricBucketRow.name, MetricBucketRow.value).where(
                MetricBucketRow.tenant_id == tenant_id,
                MetricBucketRow.hour >= start,
                MetricBucketRow.hour < end,
            )
        ).all()
    for hour, name, value in rows:
        out.setdefault(hour_of(hour), {})[name] = float(value)
    return out

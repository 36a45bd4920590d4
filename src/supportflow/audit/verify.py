"""Walking each tenant's chain to find the first entry that is not what was appended.

Per tenant, in seq order, entry n must have seq n, link to the hash of entry n-1 (the first
to ``GENESIS``), and hash to its own stored hash. The first entry that fails says how:

- ``removed``: a seq is missing, or the entry links to a hash no entry in the chain has;
- ``reordered``: the entry links to another entry of the chain than the one before it;
- ``altered``: its content no longer hashes to its stored hash.

Removing the newest entries leaves a shorter chain that is still whole: only a copy of the
head kept elsewhere (an export) shows that.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.audit.entry import GENESIS
from supportflow.audit.log import row_hash
from supportflow.db.models import AuditLogRow

Problem = Literal["altered", "removed", "reordered"]
_BATCH = 1000


@dataclass(frozen=True)
class BadEntry:
    tenant_id: str
    seq: int
    problem: Problem
    message: str


@dataclass
class Verification:
    checked: dict[str, int] = field(default_factory=dict)  # entries checked, per tenant
    bad: list[BadEntry] = field(default_factory=list)  # the first bad entry of each tenant

    @property
    def ok(self) -> bool:
        return not self.bad

    @property
    def first_bad(self) -> BadEntry | None:
        return self.bad[0] if self.bad else None


def _rows(s: Session, tenant_id: str | None) -> Iterator[AuditLogRow]:
    query = select(AuditLogRow).order_by(AuditLogRow.tenant_id, AuditLogRow.seq)
    if tenant_id is not None:
        query = query.where(AuditLogRow.tenant_id == tenant_id)
    yield from s.scalars(query.execution_options(yield_per=_BATCH))


def _links_inside(s: Session, tenant_id: str, hash_: str) -> bool:
    # Asked only once a link is broken, so a whole chain's hashes are never held in memory.
    found = s.scalar(
        select(AuditLogRow.seq).where(AuditLogRow.tenant_id == tenant_id, AuditLogRow.hash == hash_)
    )
    return found is not None


def verify(sessions: sessionmaker[Session], tenant_id: str | None = None) -> Verification:
    """Check every tenant's chain (or one tenant's); read-only."""
    result = Verification()
    tenant: str | None = None
    expected_seq, prev_hash, broken = 1, GENESIS, False
    with sessions() as s, sessions() as lookups:
        for row in _rows(s, tenant_id):
            if row.tenant_id != tenant:
                tenant, expected_seq, prev_hash, broken = row.tenant_id, 1, GENESIS, False
                result.checked[tenant] = 0
            if broken:
                continue
            result.checked[tenant] += 1
            bad = _check(lookups, row, expected_seq, prev_hash)
            if bad is not None:
                result.bad.append(bad)
                broken = True
                continue
            expected_seq, prev_hash = row.seq + 1, row.hash
    if tenant_id is not None and tenant_id not in result.checked:
        result.checked[tenant_id] = 0
    return result


def _check(s: Session, row: AuditLogRow, expected_seq: int, prev_hash: str) -> BadEntry | None:
    where = f"tenant {row.tenant_id} entry {row.seq}"
    if row.seq != expected_seq:
        return BadEntry(
            row.tenant_id,
            expected_seq,
            "removed",
            f"tenant {row.tenant_id} entry {expected_seq}: removed (the chain skips to entry "
            f"{row.seq})",
        )
    if row.prev_hash != prev_hash:
        if row.prev_hash != GENESIS and _links_inside(s, row.tenant_id, row.prev_hash):
            return BadEntry(
                row.tenant_id,
                row.seq,
                "reordered",
                f"{where}: reordered (it links to another entry than entry {row.seq - 1})",
            )
        return BadEntry(
            row.tenant_id,
            row.seq,
            "removed",
            f"{where}: removed (the entry it links to is gone, or its link was edited)",
        )
    if row_hash(row) != row.hash:
        return BadEntry(
            row.tenant_id,
            row.seq,
            "altered",
            f"{where}: altered (its content does not match its hash)",
        )
    return None

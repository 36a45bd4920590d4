"""Agents' store writes are audited: the action activities against the real demo store over
HTTP, with the app database on SQLite and Postgres. One entry per write, after the store
confirms, even when the activity runs again with the same key (a Temporal retry), and none
for a write the store never made."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from supportflow.activities.actions import ActionActivities
from supportflow.activities.contract import (
    CancelOrderInput,
    HoldOrderInput,
    ModifyOrderAddressInput,
    RefundOrderInput,
)
from supportflow.audit.verify import verify
from supportflow.db.models import AuditLogRow
from supportflow.demo_store.seeding import load_seed
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.errors import StoreUnavailable
from tests.conftest import _run_store
from tests.procedures.conftest import Doc, find_order, source_of

ADDRESS = {
    "address1": "12 Oak Street",
    "address2": "Apt 4",
    "city": "Austin",
    "state": "TX",
    "country": "USA",
    "zip": "78701",
}


@pytest.fixture(scope="module")
def seed() -> Doc:
    return load_seed()


@pytest.fixture(scope="module")
def admin_store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _run_store(tmp_path_factory.mktemp("audit-store") / "store.db", admin=True)


@pytest.fixture
async def http(admin_store_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=admin_store_url, timeout=10) as client:
        yield client
        (await client.delete("/admin/faults")).raise_for_status()


@pytest.fixture
async def acts(
    admin_store_url: str, sessions: sessionmaker[Session]
) -> AsyncIterator[ActionActivities]:
    async with StoreClient(admin_store_url, timeout=10) as store:
        yield ActionActivities(store, sessions)


_used: set[str] = set()


def _take(seed: Doc, status: str, source: str | None = None) -> Doc:
    # Each test needs an order no other test (on either database) has written to.
    def ok(o: Doc, us: Doc) -> bool:
        return (
            o["order_id"] not in _used
            and o["status"] == status
            and (source is None or source_of(o, us) == source)
        )

    order = find_order(seed, ok)
    _used.add(order["order_id"])
    return order


_ENV = ActivityEnvironment()
_ENV.info = dataclasses.replace(
    _ENV.info, workflow_id="customer-t_shop-abc", workflow_run_id="run-0001"
)


async def run(fn: Any, arg: Any) -> Any:
    return await _ENV.run(fn, arg)


def entries(sessions: sessionmaker[Session]) -> list[AuditLogRow]:
    with sessions() as s:
        return list(s.scalars(select(AuditLogRow).order_by(AuditLogRow.seq)))


async def test_a_write_committed_then_retried_is_audited_once(
    acts: ActionActivities,
    http: httpx.AsyncClient,
    sessions: sessionmaker[Session],
    seed: Doc,
) -> None:
    order = _take(seed, "pending", "gift_card")
    oid, uid = order["order_id"], order["user_id"]
    key = f"wf:case1:refund:{uuid.uuid4().hex}"
    refund = RefundOrderInput(
        tenant_id="t_shop", store_user_id=uid, idempotency_key=key, order_id=oid, amount=5.0
    )
    hold = HoldOrderInput(
        tenant_id="t_shop", store_user_id=uid, idempotency_key=key + ":hold", order_id=oid
    )
    await run(acts.hold_order, hold)
    fault = {"operations": {"refund": {"mode": "fail_after", "times": 1}}}
    (await http.post("/admin/faults", json=fault)).raise_for_status()
    with pytest.raises(StoreUnavailable):
        await run(acts.refund_order, refund)  # committed, but the activity never saw it
    assert [e.action for e in entries(sessions)] == ["store.hold_order"]
    await run(acts.refund_order, refund)  # Temporal's retry: same input, same key
    await run(acts.refund_order, refund)  # and once more, after it succeeded
    _, entry = entries(sessions)
    assert (entry.tenant_id, entry.seq, entry.actor_kind, entry.action, entry.target) == (
        "t_shop",
        2,
        "agent",
        "store.refund_order",
        oid,
    )
    assert entry.actor_id == entry.workflow_id == "customer-t_shop-abc"
    assert entry.run_id == "run-0001" and entry.idempotency_key == key
    assert entry.details["amount"] == 5.0
    assert uid not in str(entry.details)
    assert verify(sessions).ok


async def test_an_address_change_is_audited_without_the_address(
    acts: ActionActivities, sessions: sessionmaker[Session], seed: Doc
) -> None:
    order = _take(seed, "pending")
    inp = ModifyOrderAddressInput(
        tenant_id="t_shop",
        store_user_id=order["user_id"],
        idempotency_key=f"k:{uuid.uuid4().hex}",
        order_id=order["order_id"],
        address=ADDRESS,
    )
    await run(acts.modify_order_address, inp)
    await run(acts.modify_order_address, inp)
    (entry,) = entries(sessions)
    assert entry.action == "store.modify_order_address"
    stored = str(entry.details) + str(entry.target)
    assert not any(part in stored for part in ADDRESS.values())


async def test_a_refused_write_leaves_no_entry(
    acts: ActionActivities, sessions: sessionmaker[Session], seed: Doc
) -> None:
    order = _take(seed, "pending")
    other = next(u for u in seed["users"] if u != order["user_id"])
    with pytest.raises(ApplicationError):
        await run(
            acts.cancel_order,
            CancelOrderInput(
                tenant_id="t_shop",
                store_user_id=other,
                idempotency_key=f"k:{uuid.uuid4().hex}",
                order_id=order["order_id"],
                reason="no longer needed",
            ),
        )
    assert entries(sessions) == []

"""One poll against a real app database (SQLite, and Postgres when configured): what exists
today (audit trail, inbox) and what agents record come out as one batch; cursors make a
second poll count nothing twice and a retried poll count the same; the guard's rows, the
policy overlay PolicyStore.get applies, and the settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.audit.entry import ActorKind, NewEntry
from supportflow.audit.log import append
from supportflow.db.models import AgentEventRow, Base
from supportflow.management.batch import CollectInput, Cursors, ManagementBatch
from supportflow.management.collect import collect
from supportflow.management.config import ConfigError
from supportflow.management.events import handoff_key
from supportflow.management.guards_store import AlreadyLifted, UnknownGuard, lift, trip
from supportflow.management.metrics import hour_of
from supportflow.management.settings_store import get_config, put_config
from supportflow.policy.guards import REFUND_ACTIONS
from supportflow.policy.store import PolicyStore
from supportflow.store.actions import StoreAction
from supportflow.tenants.service import create_tenant
from tests.management.conftest import event, inbox_line, refund_entry

MINE = ("agent_events", "metric_buckets", "policy_guards", "management_settings")


def poll(sessions: sessionmaker[Session], tenant: str, cursors: Cursors) -> ManagementBatch:
    return collect(
        sessions,
        CollectInput(
            tenant_id=tenant, cursors=cursors, until=datetime.now(UTC) + timedelta(seconds=1)
        ),
    )


def summed(batch: ManagementBatch) -> dict[str, float]:
    out: dict[str, float] = {}
    for bucket in batch.buckets.values():
        for name, value in bucket.items():
            out[name] = out.get(name, 0.0) + value
    return out


def events_stored(sessions: sessionmaker[Session], tenant: str) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).where(AgentEventRow.tenant_id == tenant)) or 0)


def test_the_audit_trail_gives_refunds_approvals_and_takeovers_once(
    sessions: sessionmaker[Session],
) -> None:
    tenant = create_tenant(sessions, "Audit Shop").tenant_id
    refund_entry(sessions, tenant, "sf:wf:case1:refund", 40.0)
    refund_entry(sessions, tenant, "sf:wf:case2:refund", 12.5)
    for action in ("approval.approve", "approval.deny", "conversation.claim", "policy.update"):
        append(sessions, NewEntry(tenant, ActorKind.OPERATOR, "op_1", action, "ap_1"))
    first = poll(sessions, tenant, Cursors())
    assert summed(first) == {"refunds": 2, "refund_amount": 52.5, "approvals": 2, "takeovers": 1}
    assert first.cursors.audit == 6 and first.events == 5
    assert first.last_hour.refunds == 2 and first.last_hour.refund_amount == 52.5
    # The next poll from the new cursors finds nothing new...
    again = poll(sessions, tenant, first.cursors)
    assert again.events == 0 and again.buckets == {}
    # ...and a retried poll (the same cursors as the first) gives the same batch, storing
    # nothing twice.
    retried = poll(sessions, tenant, Cursors())
    assert summed(retried) == summed(first) and events_stored(sessions, tenant) == 5
    refund_entry(sessions, tenant, "sf:wf:case3:refund", 7.0)
    later = poll(sessions, tenant, again.cursors)
    assert summed(later) == {"refunds": 1, "refund_amount": 7.0}


def test_a_refund_the_workflow_records_itself_is_not_counted_twice(
    sessions: sessionmaker[Session],
) -> None:
    tenant = create_tenant(sessions, "Twice Shop").tenant_id
    now = datetime.now(UTC)
    # Recorded by the customer workflow with the shared key, then seen in the audit trail.
    assert event(sessions, tenant, "refund:sf:wf:c1:refund", "refund", now, "30.00")
    refund_entry(sessions, tenant, "sf:wf:c1:refund", 30.0)
    assert summed(poll(sessions, tenant, Cursors())) == {"refunds": 1, "refund_amount": 30.0}


def test_the_inbox_gives_handovers_store_errors_and_sla_breaches_once(
    sessions: sessionmaker[Session],
) -> None:
    tenant = create_tenant(sessions, "Inbox Shop").tenant_id
    since = datetime.now(UTC) - timedelta(minutes=10)
    inbox_line(sessions, tenant, "c_a", version=1, reason="handoff", since=since)
    inbox_line(
        sessions,
        tenant,
        "c_b",
        version=1,
        reason="stuck",
        since=since,
        detail="cancel_order: store unavailable",
    )
    inbox_line(sessions, tenant, "c_c", version=1, reason="approval", since=since)
    first = poll(sessions, tenant, Cursors())
    assert summed(first) == {"handoffs": 2, "store_errors": 1}
    assert first.last_hour.store_errors == 1 and first.last_hour.error_actions == ["cancel_order"]
    # The same hand-over, claimed and then late: only the breach is new.
    inbox_line(
        sessions,
        tenant,
        "c_a",
        version=2,
        reason="handoff",
        since=since,
        breaches=["sla_first_response"],
    )
    second = poll(sessions, tenant, first.cursors)
    assert summed(second) == {"sla_breaches": 1}
    assert poll(sessions, tenant, second.cursors).events == 0
    # A hand-over the workflow recorded itself, under the shared key, is the same one.
    again = since + timedelta(minutes=5)
    event(sessions, tenant, handoff_key(f"sf/{tenant}/customer/c_d", again), "handoff", again)
    inbox_line(sessions, tenant, "c_d", version=1, reason="handoff", since=again)
    assert summed(poll(sessions, tenant, second.cursors)) == {"handoffs": 1}


def test_a_first_poll_reads_only_the_kept_days(sessions: sessionmaker[Session]) -> None:
    tenant = create_tenant(sessions, "Old Shop").tenant_id
    now = datetime.now(UTC)
    event(sessions, tenant, "old", "save", now - timedelta(days=9))
    event(sessions, tenant, "new", "save", now - timedelta(days=1))
    batch = poll(sessions, tenant, Cursors())
    assert summed(batch) == {"saves": 1}
    assert list(batch.buckets) == [hour_of(now - timedelta(days=1))]


def test_cases_sales_and_csat_events_are_counted(sessions: sessionmaker[Session]) -> None:
    tenant = "t_events_only"  # agents' tenants need no row
    now = datetime.now(UTC)
    event(sessions, tenant, "k1", "case_closed", now, outcome="resolved", by_person=False)
    event(sessions, tenant, "k2", "case_closed", now, outcome="escalated", by_person=True)
    event(sessions, tenant, "k3", "sales_touch", now, arm="offer", experiment="e1")
    event(sessions, tenant, "k4", "conversion", now, "120.00")
    event(sessions, tenant, "k5", "csat", now, rating=4)
    assert not event(sessions, tenant, "k5", "csat", now, rating=1)  # the same key: ignored
    assert summed(poll(sessions, tenant, Cursors())) == {
        "cases_closed": 2,
        "cases_resolved": 1,
        "cases_resolved_alone": 1,
        "cases_escalated": 1,
        "cases_by_person": 1,
        "sales_touches": 1,
        "conversions": 1,
        "conversion_amount": 120.0,
        "csat_count": 1,
        "csat_sum": 4,
    }


def test_a_guard_stands_once_per_kind_tightens_the_policy_and_is_lifted_once(
    sessions: sessionmaker[Session],
) -> None:
    tenant = create_tenant(sessions, "Guard Shop").tenant_id
    other = create_tenant(sessions, "Other Shop").tenant_id
    store = PolicyStore(sessions)
    store.put(tenant, {"approval_above": 100})
    args = {"tenant_id": tenant, "kind": "refund_spike", "effect": "require_approval"}
    g, created = trip(
        sessions, guard_id="gd_" + "a" * 24, actions=sorted(REFUND_ACTIONS), reason="r", **args
    )
    assert created
    again, created = trip(sessions, guard_id="gd_" + "a" * 24, actions=[], reason="r", **args)
    assert not created and again.guard_id == g.guard_id  # a retried trip
    other_one, created = trip(sessions, guard_id="gd_" + "b" * 24, actions=[], reason="r", **args)
    assert not created and other_one.guard_id == g.guard_id  # one of its kind stands
    assert store.get(tenant).approval_required == REFUND_ACTIONS
    assert store.get(tenant, guards=False).approval_required == frozenset()
    assert store.get(tenant).approval_above == 100  # the rest as written
    assert store.get(other).approval_required == frozenset()
    with pytest.raises(UnknownGuard):
        lift(sessions, other, g.guard_id, "api_key")
    lifted = lift(sessions, tenant, g.guard_id, "operator:op_1")
    assert lifted.lifted_by == "operator:op_1" and lifted.lifted_at is not None
    with pytest.raises(AlreadyLifted):
        lift(sessions, tenant, g.guard_id, "api_key")
    assert store.get(tenant).approval_required == frozenset()
    # After a lift, the guard's window starts at the lift.
    batch = poll(sessions, tenant, Cursors())
    assert batch.last_hour.refunds_since >= lifted.lifted_at
    assert batch.guards == []


def test_a_pause_removes_the_action_from_every_agent(sessions: sessionmaker[Session]) -> None:
    tenant = create_tenant(sessions, "Pause Shop").tenant_id
    trip(
        sessions,
        tenant_id=tenant,
        guard_id="gd_" + "c" * 24,
        kind="store_error_burst",
        effect="pause",
        actions=["cancel_order"],
        reason="r",
    )
    policy = PolicyStore(sessions).get(tenant)
    assert StoreAction.CANCEL_ORDER not in policy.agents["support"]
    assert StoreAction.RETURN_ORDER_ITEMS in policy.agents["support"]


def test_settings_are_validated_and_nothing_changes_on_error(
    sessions: sessionmaker[Session],
) -> None:
    tenant = create_tenant(sessions, "Settings Shop").tenant_id
    assert get_config(sessions, tenant).poll_interval == timedelta(minutes=5)
    put_config(sessions, tenant, {"poll_interval": "PT1M", "refund_spike": {"min_count": 3}})
    bads: tuple[object, ...] = (
        {"poll_interval": "PT1S"},
        {"refund_spike": {"min_cuont": 3}},
        {"refund_spike": {"sigmas": 0}},
        [],
    )
    for bad in bads:
        with pytest.raises(ConfigError):
            put_config(sessions, tenant, bad)
    config = get_config(sessions, tenant)
    assert config.poll_interval == timedelta(minutes=1) and config.refund_spike.min_count == 3


def test_migration_0014_matches_the_models(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        context = MigrationContext.configure(s.connection())
        diff = compare_metadata(context, Base.metadata)
    mine = [d for d in diff if any(t in repr(d) for t in MINE)]
    assert mine == []


def test_polls_during_concurrent_recording_skip_nothing_and_count_nothing_twice(
    sessions: sessionmaker[Session],
) -> None:
    # Postgres can commit a lower id after a higher one is visible; a cursor that moved past
    # it would lose that event for good. Writers record while the agent polls.
    import threading

    tenant, writers, each = "t_race", 4, 40
    now = datetime.now(UTC)

    def write(w: int) -> None:
        for i in range(each):
            event(sessions, tenant, f"w{w}-{i}", "handoff", now)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    counted, cursors = 0.0, Cursors()
    while any(t.is_alive() for t in threads):
        batch = poll(sessions, tenant, cursors)
        counted += summed(batch).get("handoffs", 0.0)
        cursors = batch.cursors
    for t in threads:
        t.join()
    counted += summed(poll(sessions, tenant, cursors)).get("handoffs", 0.0)
    assert counted == writers * each

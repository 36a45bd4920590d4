"""The watchdog (issue 14 item 4): inbox lines stuck with nobody holding them go to
supervisors once per line (pure rule, the app database on SQLite and Postgres, and the agent
on the time-skipping server mailing a real SMTP server); sales workflows running past their
expected life are found through Temporal visibility on the dev server and reported once, never
terminated."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from supportflow.activities.routing import RoutingMailActivities
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import AgentEventRow
from supportflow.inbox.store import InboxStore
from supportflow.mail.maildir_reader import list_messages
from supportflow.mail.maildir_server import MaildirServer
from supportflow.mail.sender import MailSender
from supportflow.management.batch import (
    CollectInput,
    Cursors,
    ManagementInput,
    management_workflow_id,
)
from supportflow.management.collect import collect
from supportflow.management.settings_store import put_config
from supportflow.management.watchdog import (
    ScanInput,
    ScanResult,
    WatchedLine,
    due_for_escalation,
    expected_life,
    sales_kind,
    sales_scan_query,
)
from supportflow.policy.sales import SalesPolicy
from supportflow.policy.store import PolicyStore
from supportflow.settings import Settings
from supportflow.tenants.service import create_tenant
from supportflow.workflows.management import ManagementAgentWorkflow
from supportflow.workflows.sales_contract import SalesAgentInput, SalesKind, sales_workflow_id
from tests.helpers import TEST_KEYRING
from tests.management.test_routing import (
    T0,
    eventually,
    person,
    put_line,
    route,
    signed_in,
    trail,
)
from tests.management.workers import management_worker, until

HOUR = timedelta(hours=1)


# --- the rule, pure ------------------------------------------------------------------------------
def watched(
    reason: str = "stuck",
    *,
    since: datetime = T0,
    held: str | None = None,
    approval: bool = False,
    escalated_by_workflow: bool = False,
    escalated_at: datetime | None = None,
) -> WatchedLine:
    return WatchedLine(
        customer_id="c1",
        workflow_id="sf/t/customer/c1",
        reason=reason,
        since=since,
        held_by=held,
        approval=approval,
        approval_requested_at=since if approval else None,
        approval_escalated=escalated_by_workflow,
        escalated_at=escalated_at,
    )


def due(line: WatchedLine, at: datetime) -> bool:
    """Threshold 2 hours, the policy's approval timeout 4 hours."""
    return due_for_escalation(line, at, 2 * HOUR, 4 * HOUR)


def test_stuck_lines_nobody_holds_are_due_after_the_threshold_once() -> None:
    assert not due(watched(), T0 + 119 * timedelta(minutes=1))
    assert due(watched(), T0 + 2 * HOUR)
    assert not due(watched(held="op_a"), T0 + 9 * HOUR)
    assert not due(watched(escalated_at=T0 + 2 * HOUR), T0 + 9 * HOUR)
    # A handoff is routing's business, not the watchdog's.
    assert not due(watched("handoff"), T0 + 9 * HOUR)


def test_approvals_are_due_only_when_their_own_escalation_did_not_happen() -> None:
    # Before the policy's approval timeout, the conversation's own timer is still to come.
    assert not due(watched("approval", approval=True), T0 + 3 * HOUR)
    assert due(watched("approval", approval=True), T0 + 4 * HOUR)
    # Its conversation escalated it: supervisors were told already.
    assert not due(watched("approval", approval=True, escalated_by_workflow=True), T0 + 9 * HOUR)
    # A threshold longer than the timeout wins.
    assert not due_for_escalation(watched("approval", approval=True), T0 + 5 * HOUR, 6 * HOUR, HOUR)


def test_sales_runs_are_known_by_their_id_and_their_expected_life() -> None:
    wf = sales_workflow_id("t_a", "user_1", "abandoned_checkout", "chk:9")
    assert sales_kind(wf, "t_a") == "abandoned_checkout"
    assert sales_kind(wf, "t_b") is None
    assert sales_kind(sales_workflow_id("t_a", "u", "post_purchase", "o1"), "t_a") == (
        "post_purchase"
    )
    policy = SalesPolicy()
    assert expected_life("abandoned_checkout", policy) == HOUR + timedelta(days=2)
    assert expected_life("post_purchase", policy) == timedelta(days=9)
    query = sales_scan_query("t_a", datetime(2026, 1, 5, 9, 30, tzinfo=UTC))
    assert query == (
        "WorkflowType = 'SalesAgentWorkflow' AND ExecutionStatus = 'Running' "
        "AND StartTime < '2026-01-05T09:30:00Z' AND WorkflowId STARTS_WITH 'sales:t_a:'"
    )
    with pytest.raises(ValueError):
        sales_scan_query("t_a' OR WorkflowId != '", T0)


# --- route_inbox's watchdog against the app database ----------------------------------------------
@pytest.fixture
def shop(sessions: sessionmaker[Session]) -> str:
    return create_tenant(sessions, "Watched Shop", keyring=TEST_KEYRING).tenant_id


def test_a_stuck_line_is_escalated_once_per_wait(
    sessions: sessionmaker[Session], shop: str
) -> None:
    person(sessions, shop, "supervisor")
    put_line(sessions, shop, "c_000000000000000a", reason="stuck", since=T0)
    put_line(sessions, shop, "c_000000000000000b", reason="stuck", since=T0, held_by="op_x")
    put_line(sessions, shop, "c_000000000000000c", reason="approval", amount=20.0, since=T0)
    assert route(sessions, shop, T0 + HOUR, "p1").escalated == []
    found = route(sessions, shop, T0 + 2 * HOUR, "p2").escalated
    assert [(e.customer_id, e.reason, e.waited_seconds) for e in found] == [
        ("c_000000000000000a", "stuck", 7200)
    ]
    # The retried poll reports it again (its mail has one Message-ID); the next one does not.
    assert [e.customer_id for e in route(sessions, shop, T0 + 2 * HOUR, "p2").escalated] == [
        "c_000000000000000a"
    ]
    assert route(sessions, shop, T0 + 3 * HOUR, "p3").escalated == []
    # The approval, past the policy's approval timeout (4 h) with no escalation of its own.
    late = route(sessions, shop, T0 + 4 * HOUR, "p4").escalated
    assert [(e.customer_id, e.reason) for e in late] == [("c_000000000000000c", "approval")]
    entries = trail(sessions, shop, "inbox.escalate")
    assert [(e.target, e.details["reason"]) for e in entries] == [
        ("c_000000000000000a", "stuck"),
        ("c_000000000000000c", "approval"),
    ]
    line = InboxStore(sessions).get(shop, "c_000000000000000a")
    assert line is not None and line.escalated_at == T0 + 2 * HOUR
    # A new wait on the same conversation is watched afresh.
    put_line(sessions, shop, "c_000000000000000a", version=2, reason="stuck", since=T0 + 5 * HOUR)
    assert InboxStore(sessions).get(shop, "c_000000000000000a").escalated_at is None  # type: ignore[union-attr]
    again = route(sessions, shop, T0 + 7 * HOUR, "p5").escalated
    assert [e.customer_id for e in again] == ["c_000000000000000a"]
    assert len(trail(sessions, shop, "inbox.escalate")) == 3
    # Off: nothing escalated.
    put_config(sessions, shop, {"watchdog_enabled": False})
    put_line(sessions, shop, "c_000000000000000d", reason="stuck", since=T0)
    assert route(sessions, shop, T0 + 9 * HOUR, "p6").escalated == []


# --- the agent on the time-skipping server: supervisors mailed once per line -------------------
@pytest.fixture
def app_db(settings: Settings) -> Iterator[sessionmaker[Session]]:
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


async def test_the_agent_mails_supervisors_once_about_a_stuck_line(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    app_db: sessionmaker[Session],
    smtp_server: MaildirServer,
) -> None:
    env = skipping_env
    tenant = create_tenant(app_db, "Stuck Shop", keyring=TEST_KEYRING).tenant_id
    # An SLA longer than the test: the line stays with whoever routing gave it to first.
    PolicyStore(app_db).put(tenant, {"sla_first_response": "PT8H", "sla_resolution": "P1D"})
    boss = person(app_db, tenant, "supervisor")
    admin = person(app_db, tenant, "admin")
    agent = person(app_db, tenant, "agent")
    signed_in(app_db, agent)
    t0 = await env.get_current_time()
    put_line(app_db, tenant, "c_00000000000000c1", reason="stuck", since=t0)
    maildir = smtp_server.maildir_dir
    subject = "waited too long"

    def escalations(to: str) -> list[dict[str, str]]:
        return [m for m in list_messages(maildir, to=to) if subject in m["subject"]]

    async with management_worker(env.client, settings, app_db) as queue:
        handle = await env.client.start_workflow(
            ManagementAgentWorkflow.run,
            ManagementInput(tenant_id=tenant, integrations_queue=queue),
            id=management_workflow_id(tenant),
            task_queue=queue,
        )
        await until(handle, lambda v: v.polls >= 1)
        await env.sleep(timedelta(minutes=100))
        assert escalations(boss.operator.email) == []
        await env.sleep(timedelta(minutes=25))
        got = await eventually(
            lambda: escalations(boss.operator.email), lambda m: len(m) >= 1, seconds=30
        )
        assert len(got) == 1 and "c_00000000000000c1" in got[0]["text"]
        assert len(await eventually(lambda: escalations(admin.operator.email), bool)) == 1
        polls = (await until(handle, lambda v: v.polls >= 1)).polls
        await env.sleep(timedelta(hours=2))
        await until(handle, lambda v: v.polls >= polls + 20)
        assert len(escalations(boss.operator.email)) == 1
        assert len(escalations(admin.operator.email)) == 1
        assert escalations(agent.operator.email) == []
        # The agent signed in was given the line to work on meanwhile.
        line = InboxStore(app_db).get(tenant, "c_00000000000000c1")
        assert line is not None and line.assigned_to == agent.operator.operator_id
        await handle.terminate("test over")


# --- Temporal visibility on the dev server --------------------------------------------------
async def test_visibility_finds_a_sales_workflow_past_its_life_and_reports_it_once(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    client = dev_env.client
    tenant = create_tenant(sessions, "Slow Shop", keyring=TEST_KEYRING).tenant_id
    other = create_tenant(sessions, "Other Shop", keyring=TEST_KEYRING).tenant_id
    nobody = f"nobody-{uuid.uuid4().hex[:8]}"  # no worker: the runs stay Running
    began = datetime.now(UTC)
    handles = []
    runs: list[tuple[str, SalesKind, str]] = [
        (tenant, "abandoned_checkout", "chk_1"),
        (tenant, "post_purchase", "ord_1"),
        (other, "abandoned_checkout", "chk_2"),
    ]
    for owner, kind, subject in runs:
        wf_id = sales_workflow_id(owner, "user_1", kind, subject)
        handles.append(
            await client.start_workflow(
                "SalesAgentWorkflow",
                SalesAgentInput(
                    tenant_id=owner,
                    store_user_id="user_1",
                    kind=kind,
                    subject_id=subject,
                    began_at=began,
                    integrations_queue=nobody,
                ),
                id=wf_id,
                task_queue=nobody,
            )
        )
    scanner = RoutingMailActivities(sessions, MailSender(settings), settings)
    env = ActivityEnvironment(client=client)
    try:
        # Now: nothing is past its life.
        assert (await env.run(scanner.scan_stuck_workflows, _scan(tenant, began))).stuck == 0
        # Three days on: the abandoned checkout (1 h + 2 days) is stuck, the post-purchase
        # follow-up (7 days + 2) is not, and the other shop's is not looked at.
        later = _scan(tenant, began + timedelta(days=3))
        found = await _until_found(env, scanner, later)
        assert (found.stuck, found.new) == (1, 1)
        assert found.workflow_ids == [handles[0].id]
        again = await env.run(scanner.scan_stuck_workflows, later)
        assert (again.stuck, again.new) == (1, 0)
        # Reported, never terminated.
        for h in handles:
            assert (await h.describe()).status == WorkflowExecutionStatus.RUNNING
        (entry,) = trail(sessions, tenant, "watchdog.stuck_workflow")
        assert (entry.actor_id, entry.target, entry.workflow_id) == (
            "management",
            handles[0].id,
            handles[0].id,
        )
        assert entry.details["kind"] == "abandoned_checkout"
        assert entry.details["age_hours"] == 72.0
        assert trail(sessions, other, "watchdog.stuck_workflow") == []
        # Counted once, as ``stuck``, in the management agent's figures.
        with sessions() as s:
            kinds = list(
                s.scalars(select(AgentEventRow.kind).where(AgentEventRow.tenant_id == tenant))
            )
        assert kinds == ["stuck_workflow"]
        batch = collect(
            sessions,
            CollectInput(tenant_id=tenant, cursors=Cursors(), until=began + timedelta(days=3)),
        )
        assert sum(b.get("stuck", 0) for b in batch.buckets.values()) == 1
    finally:
        for h in handles:
            await h.terminate("test over")


def _scan(tenant: str, now: datetime) -> ScanInput:
    return ScanInput(tenant_id=tenant, now=now, workflow_id=management_workflow_id(tenant))


async def _until_found(
    env: ActivityEnvironment, scanner: RoutingMailActivities, inp: ScanInput
) -> ScanResult:
    # Visibility is eventually consistent: a run started a moment ago may not be listed yet.
    for _ in range(100):
        found = await env.run(scanner.scan_stuck_workflows, inp)
        if found.stuck:
            return found
        await asyncio.sleep(0.1)
    return found

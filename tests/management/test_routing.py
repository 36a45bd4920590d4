"""Routing handed-over conversations to operators (issue 14 item 4).

The choice itself is a pure function (least loaded, round robin, roles, the supervisors'
fallback, SLA risk); ``route_inbox`` runs against a real SQLite and Postgres app database
(assignments written once, audited once, a retried poll finds its own work, tenants never
share operators, a new wait forgets the old assignment); on the time-skipping server the
agent re-assigns a line at 75% of its first-response SLA and each operator gets one mail,
through a real SMTP server; the inbox API and the console show who has a line and filter
"assigned to me"."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from playwright.async_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from supportflow.activities.routing import RoutingActivities
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import AuditLogRow, Base
from supportflow.inbox.model import InboxApproval, InboxItem, InboxReason
from supportflow.inbox.routing_store import mark_seen
from supportflow.inbox.store import InboxStore
from supportflow.mail.maildir_reader import list_messages
from supportflow.mail.maildir_server import MaildirServer
from supportflow.management.batch import ManagementInput, management_workflow_id
from supportflow.management.config import ConfigError
from supportflow.management.routing import (
    Candidate,
    RoutableLine,
    RouteInput,
    RouteResult,
    choose,
    plan_routing,
)
from supportflow.management.settings_store import get_config, put_config
from supportflow.operators.accounts import CreatedOperator, create_operator, disable_operator
from supportflow.operators.permissions import Role, may_approve
from supportflow.operators.sessions import login, logout
from supportflow.policy.store import PolicyStore
from supportflow.settings import Settings
from supportflow.tenants.service import create_tenant
from supportflow.workflows.management import ManagementAgentWorkflow
from tests.console.conftest import UNLABELLED, Console, Watch, new_page, shot, sign_in
from tests.helpers import TEST_CONVERTER, TEST_KEYRING
from tests.management.workers import management_worker, until

T = TypeVar("T")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
HISTORIES = Path(__file__).parent / "histories"


# --- the choice, pure ------------------------------------------------------------------------
def cand(
    operator_id: str,
    role: str = "agent",
    *,
    load: int = 0,
    last: datetime | None = None,
    present: bool = True,
    limit: str | None = None,
    disabled: bool = False,
) -> Candidate:
    return Candidate(
        operator_id=operator_id,
        role=Role(role),
        approval_limit=Decimal(limit) if limit is not None else None,
        disabled=disabled,
        present=present,
        load=load,
        last_assigned_at=last,
    )


def line(
    customer_id: str,
    *,
    reason: str | None = "handoff",
    since: datetime = T0,
    amount: str | None = None,
    approval: bool = False,
    escalated: bool = False,
    assigned: str | None = None,
    assigned_at: datetime | None = None,
    routed: tuple[str, ...] = (),
    held: str | None = None,
) -> RoutableLine:
    return RoutableLine(
        customer_id=customer_id,
        workflow_id=f"sf/t/customer/{customer_id}",
        version=1,
        reason=reason,
        since=since,
        held_by=held,
        approval=approval or amount is not None,
        approval_amount=Decimal(amount) if amount is not None else None,
        approval_escalated=escalated,
        assigned_to=assigned,
        assigned_at=assigned_at,
        routed_to=routed or ((assigned,) if assigned else ()),
    )


def plan(
    lines: list[RoutableLine],
    people: list[Candidate],
    mode: str = "least_loaded",
    now: datetime = T0,
) -> dict[str, str]:
    out = plan_routing(
        lines,
        people,
        mode=mode,  # type: ignore[arg-type]
        now=now,
        sla_first_response=HOUR,
    )
    return {a.customer_id: a.operator_id for a in out}


def test_least_loaded_takes_the_fewest_lines_then_the_least_recently_assigned() -> None:
    people = [
        cand("op_a", load=2),
        cand("op_b", load=1, last=T0 - timedelta(minutes=1)),
        cand("op_c", load=1, last=T0 - timedelta(minutes=30)),
    ]
    chosen = choose(people, line("c1"), "least_loaded")
    assert chosen is not None and chosen[0].operator_id == "op_c"
    # Never assigned comes before anyone assigned, at equal load.
    chosen = choose([*people, cand("op_d", load=1)], line("c1"), "least_loaded")
    assert chosen is not None and chosen[0].operator_id == "op_d"


def test_round_robin_ignores_load_and_rotates() -> None:
    people = [
        cand("op_a", load=0, last=T0 - timedelta(minutes=1)),
        cand("op_b", load=9, last=T0 - timedelta(minutes=50)),
    ]
    chosen = choose(people, line("c1"), "round_robin")
    assert chosen is not None and chosen[0].operator_id == "op_b"
    # One poll rotates through everyone, as successive polls would.
    four = plan(
        [line(f"c{i}", since=T0 + timedelta(seconds=i)) for i in range(4)], people, "round_robin"
    )
    assert list(four.values()) == ["op_b", "op_a", "op_b", "op_a"]


def test_one_poll_spreads_its_lines_by_load_and_off_assigns_nobody() -> None:
    people = [cand("op_a", load=1), cand("op_b"), cand("op_c")]
    lines = [line(f"c{i}", since=T0 + timedelta(seconds=i)) for i in range(5)]
    got = plan(lines, people)
    loads = {p: list(got.values()).count(p) for p in ("op_a", "op_b", "op_c")}
    assert loads == {"op_a": 1, "op_b": 2, "op_c": 2}
    assert got["c0"] == "op_b"  # the longest waiting line goes first
    assert plan(lines, people, "off") == {}
    # Held lines and lines nobody needs are not routed.
    assert plan([line("c1", held="op_a"), line("c2", reason=None), line("c3")], people) == {
        "c3": "op_b"
    }


def test_an_agent_never_gets_an_approval_it_cannot_decide() -> None:
    people = [
        cand("op_agent_none"),
        cand("op_agent_100", limit="100", load=1),
        cand("op_agent_1000", limit="1000", load=2),
        cand("op_super_500", "supervisor", limit="500", load=5),
        cand("op_admin", "admin", load=9),
    ]
    by_id = {p.operator_id: p for p in people}
    amounts = ["0", "0.01", "50", "99.99", "100", "100.01", "499", "500", "999", "5000", None]
    for amount in amounts:
        lines = [line("c1", amount=amount, approval=True)]
        (assigned,) = plan(lines, people).values()
        who = by_id[assigned]
        value = Decimal(amount) if amount is not None else None
        assert may_approve(who.role, who.approval_limit, value), (amount, assigned)
    # The least loaded who may: an agent without a limit takes one that moves no money only.
    assert plan([line("c1", approval=True)], people) == {"c1": "op_agent_none"}
    assert plan([line("c1", amount="50")], people) == {"c1": "op_agent_100"}
    assert plan([line("c1", amount="800")], people) == {"c1": "op_agent_1000"}
    assert plan([line("c1", amount="5000")], people) == {"c1": "op_admin"}
    # An approval already sent on to supervisors goes to a supervisor or an admin.
    assert plan([line("c1", amount="50", escalated=True)], people) == {"c1": "op_super_500"}
    # Other lines go to anyone.
    assert plan([line("c1", reason="stuck")], people) == {"c1": "op_agent_none"}


def test_nobody_signed_in_falls_back_to_supervisors_and_admins() -> None:
    people = [
        cand("op_agent", present=False),
        cand("op_super", "supervisor", present=False, load=1),
        cand("op_admin", "admin", present=False, load=3),
    ]
    chosen = choose(people, line("c1"), "least_loaded")
    assert chosen is not None and chosen == (people[1], True)
    # Someone signed in who may take it comes first, even with more lines.
    present = [*people, cand("op_busy", present=True, load=7)]
    assert choose(present, line("c1"), "least_loaded") == (present[3], False)
    # Nobody who may: the line waits unassigned (never a disabled or unable operator).
    agents = [cand("op_a", present=False), cand("op_b", disabled=True)]
    assert choose(agents, line("c1"), "least_loaded") is None
    assert plan([line("c1", amount="50")], [cand("op_a", present=True)]) == {}


def test_sla_risk_reassigns_once_to_someone_new() -> None:
    people = [cand("op_a", load=1), cand("op_b"), cand("op_c", load=3)]
    waiting = line("c1", assigned="op_a", assigned_at=T0 + timedelta(minutes=1))
    # Before 75% of the hour: it stays.
    assert plan([waiting], people, now=T0 + timedelta(minutes=44)) == {}
    # At 75%: to the least loaded of the others.
    out = plan_routing(
        [waiting],
        people,
        mode="least_loaded",
        now=T0 + timedelta(minutes=45),
        sla_first_response=HOUR,
    )
    (moved,) = out
    assert (moved.operator_id, moved.previous, moved.why) == ("op_b", "op_a", "sla_risk")
    assert moved.routed_to == ("op_a", "op_b")
    # Assigned after the risk point (the re-assignment, or a late first one): it stays.
    late = line(
        "c1", assigned="op_b", assigned_at=T0 + timedelta(minutes=45), routed=("op_a", "op_b")
    )
    assert plan([late], people, now=T0 + 2 * HOUR) == {}
    # Never twice to the same operator in one wait: nobody new, it stays.
    seen = line("c1", assigned="op_a", assigned_at=T0, routed=("op_b", "op_c", "op_a"))
    assert plan([seen], people, now=T0 + HOUR) == {}
    # A claim stops it.
    held = line("c1", assigned="op_a", assigned_at=T0, held="op_a")
    assert plan([held], people, now=T0 + HOUR) == {}


def test_an_assignee_who_can_no_longer_take_the_line_is_replaced() -> None:
    people = [cand("op_a", disabled=True), cand("op_b", load=2), cand("op_c", limit="10")]
    gone = line("c1", assigned="op_a", assigned_at=T0)
    out = plan_routing(
        [gone], people, mode="least_loaded", now=T0 + timedelta(minutes=1), sla_first_response=HOUR
    )
    assert [(a.operator_id, a.why) for a in out] == [("op_c", "unavailable")]
    # A handoff that became an approval beyond its assignee's limit: to one who may approve
    # it; with nobody who may, it stays where it is.
    approval = line("c1", amount="50", assigned="op_c", assigned_at=T0)
    assert plan([approval], people) == {}
    assert plan([approval], [*people, cand("op_d", limit="60")]) == {"c1": "op_d"}


# --- route_inbox against the app database ------------------------------------------------------
@pytest.fixture
def shop(sessions: sessionmaker[Session]) -> str:
    return create_tenant(sessions, "Routed Shop", keyring=TEST_KEYRING).tenant_id


def person(
    sessions: sessionmaker[Session], tenant_id: str, role: str, limit: str | None = None
) -> CreatedOperator:
    return create_operator(
        sessions,
        tenant_id,
        f"{role}-{uuid.uuid4().hex[:6]}@shop.example",
        role,
        Decimal(limit) if limit is not None else None,
        actor="test",
    )


def signed_in(sessions: sessionmaker[Session], made: CreatedOperator) -> None:
    login(sessions, made.operator.tenant_id, made.operator.email, made.password, 8 * HOUR)


def put_line(
    sessions: sessionmaker[Session],
    tenant_id: str,
    customer_id: str,
    *,
    version: int = 1,
    reason: InboxReason | None = "handoff",
    since: datetime | None = T0,
    held_by: str | None = None,
    amount: float | None = None,
) -> None:
    approval = (
        InboxApproval(
            approval_id="ap_" + uuid.uuid4().hex[:24],
            action="cancel_order",
            amount=amount,
            order_id="#W1000001",
            rule_id="approval_above",
            requested_at=since or T0,
        )
        if reason == "approval"
        else None
    )
    InboxStore(sessions).put(
        InboxItem(
            tenant_id=tenant_id,
            customer_id=customer_id,
            workflow_id=f"sf/{tenant_id}/customer/{customer_id}",
            version=version,
            reason=reason,
            since=since,
            held_by=held_by,
            approval=approval,
        )
    )


def route(
    sessions: sessionmaker[Session], tenant_id: str, now: datetime, ref: str = "p1"
) -> RouteResult:
    return RoutingActivities(sessions).route_inbox(
        RouteInput(
            tenant_id=tenant_id, now=now, poll_ref=ref, workflow_id=f"management:{tenant_id}"
        )
    )


def trail(sessions: sessionmaker[Session], tenant_id: str, action: str) -> list[AuditLogRow]:
    with sessions() as s:
        return list(
            s.scalars(
                select(AuditLogRow)
                .where(AuditLogRow.tenant_id == tenant_id, AuditLogRow.action == action)
                .order_by(AuditLogRow.seq)
            )
        )


def test_route_inbox_assigns_audits_once_and_a_retried_poll_finds_its_own_work(
    sessions: sessionmaker[Session], shop: str
) -> None:
    agent = person(sessions, shop, "agent")
    other = person(sessions, shop, "agent")
    signed_in(sessions, agent)
    signed_in(sessions, other)
    put_line(sessions, shop, "c_000000000000000a", since=T0)
    put_line(sessions, shop, "c_000000000000000b", since=T0 + timedelta(minutes=1))
    put_line(sessions, shop, "c_000000000000000c", since=T0, held_by=agent.operator.operator_id)
    first = route(sessions, shop, T0 + timedelta(minutes=2))
    got = {a.customer_id: a.operator_id for a in first.assigned}
    # The agent holding a line has more to do: the other takes the longest waiting one.
    assert got == {
        "c_000000000000000a": other.operator.operator_id,
        "c_000000000000000b": agent.operator.operator_id,
    }
    assert first.waiting == 2 and first.unroutable == 0
    stored = InboxStore(sessions).get(shop, "c_000000000000000a")
    assert stored is not None and stored.assigned_to == other.operator.operator_id
    assert stored.assigned_at == T0 + timedelta(minutes=2)
    entries = trail(sessions, shop, "inbox.assign")
    assert [(e.actor_kind, e.actor_id, e.target) for e in entries] == [
        ("system", "management", "c_000000000000000a"),
        ("system", "management", "c_000000000000000b"),
    ]
    assert entries[0].details["operator_id"] == other.operator.operator_id
    assert entries[0].details["why"] == "new"
    assert entries[0].workflow_id == f"sf/{shop}/customer/c_000000000000000a"
    # The same poll again (a retried local activity): the same answer, nothing twice.
    again = route(sessions, shop, T0 + timedelta(minutes=2))
    assert {a.customer_id: a.operator_id for a in again.assigned} == got
    assert len(trail(sessions, shop, "inbox.assign")) == 2
    # The next poll: nothing new to do.
    assert route(sessions, shop, T0 + timedelta(minutes=7), "p2").assigned == []


def test_presence_is_a_live_console_session_seen_recently(
    sessions: sessionmaker[Session], shop: str
) -> None:
    away = person(sessions, shop, "agent")
    here = person(sessions, shop, "agent")
    boss = person(sessions, shop, "supervisor")
    put_line(sessions, shop, "c_000000000000000a")
    # Nobody signed in: a supervisor, as the fallback (never an agent).
    (a,) = route(sessions, shop, T0).assigned
    assert (a.operator_id, a.fallback) == (boss.operator.operator_id, True)
    # An agent signs in: the next line is theirs.
    logged = login(sessions, shop, here.operator.email, here.password, 8 * HOUR)
    put_line(sessions, shop, "c_000000000000000b")
    (b,) = route(sessions, shop, T0, "p2").assigned
    assert (b.operator_id, b.fallback) == (here.operator.operator_id, False)
    # Seen in the console (the inbox API) keeps them present; logging out ends it at once.
    assert mark_seen(sessions, shop, here.operator.operator_id, datetime.now(UTC))
    assert not mark_seen(sessions, shop, here.operator.operator_id, datetime.now(UTC))
    logout(sessions, logged.principal)
    put_line(sessions, shop, "c_000000000000000c")
    (c,) = route(sessions, shop, T0, "p3").assigned
    assert c.operator_id == boss.operator.operator_id
    assert away.operator.operator_id not in {a.operator_id, b.operator_id, c.operator_id}


def test_routing_respects_roles_and_approval_limits(
    sessions: sessionmaker[Session], shop: str
) -> None:
    agent = person(sessions, shop, "agent", "100")
    boss = person(sessions, shop, "supervisor")
    signed_in(sessions, agent)
    signed_in(sessions, boss)
    put_line(sessions, shop, "c_000000000000000a", reason="approval", amount=250.0)
    put_line(sessions, shop, "c_000000000000000b", reason="approval", amount=80.0)
    got = {a.customer_id: a.operator_id for a in route(sessions, shop, T0).assigned}
    assert got == {
        "c_000000000000000a": boss.operator.operator_id,
        "c_000000000000000b": agent.operator.operator_id,
    }
    # An agent disabled meanwhile: their line goes to someone who may take it.
    disable_operator(sessions, shop, agent.operator.operator_id, actor="test")
    (moved,) = route(sessions, shop, T0 + timedelta(minutes=5), "p2").assigned
    assert (moved.customer_id, moved.operator_id, moved.why) == (
        "c_000000000000000b",
        boss.operator.operator_id,
        "unavailable",
    )


def test_a_line_leaving_the_inbox_or_a_new_wait_forgets_the_assignment(
    sessions: sessionmaker[Session], shop: str
) -> None:
    agent = person(sessions, shop, "agent")
    signed_in(sessions, agent)
    me = agent.operator.operator_id
    put_line(sessions, shop, "c_000000000000000a", version=1)
    route(sessions, shop, T0)
    store = InboxStore(sessions)
    # A claim keeps it (and stops re-assignment).
    put_line(sessions, shop, "c_000000000000000a", version=2, held_by=me)
    held = store.get(shop, "c_000000000000000a")
    assert held is not None and (held.assigned_to, held.held_by) == (me, me)
    assert route(sessions, shop, T0 + 2 * HOUR, "p2").assigned == []
    # Nobody needed any more, still held: the assignment goes.
    put_line(sessions, shop, "c_000000000000000a", version=3, reason=None, since=None, held_by=me)
    done = store.get(shop, "c_000000000000000a")
    assert done is not None and done.assigned_to is None
    # Released and gone; back later: a new wait, a new assignment.
    put_line(sessions, shop, "c_000000000000000a", version=4, reason=None, since=None)
    assert store.get(shop, "c_000000000000000a") is None
    put_line(sessions, shop, "c_000000000000000a", version=5, since=T0 + 3 * HOUR)
    assert store.get(shop, "c_000000000000000a").assigned_to is None  # type: ignore[union-attr]
    (again,) = route(sessions, shop, T0 + 3 * HOUR, "p3").assigned
    assert again.operator_id == me
    # The same line with a later wait (since moved): forgotten, routed afresh.
    put_line(sessions, shop, "c_000000000000000a", version=6, since=T0 + 4 * HOUR)
    assert store.get(shop, "c_000000000000000a").assigned_to is None  # type: ignore[union-attr]


def test_tenants_never_share_operators_or_lines(sessions: sessionmaker[Session], shop: str) -> None:
    other = create_tenant(sessions, "Other Shop", keyring=TEST_KEYRING).tenant_id
    mine = person(sessions, shop, "supervisor")
    theirs = person(sessions, other, "agent")
    signed_in(sessions, theirs)
    put_line(sessions, shop, "c_000000000000000a")
    put_line(sessions, other, "c_000000000000000a")
    # Another tenant's operator id cannot be marked present here.
    assert not mark_seen(sessions, shop, theirs.operator.operator_id, datetime.now(UTC))
    (a,) = route(sessions, shop, T0).assigned
    assert a.operator_id == mine.operator.operator_id
    (b,) = route(sessions, other, T0).assigned
    assert b.operator_id == theirs.operator.operator_id
    # Another tenant's operator id cannot be marked present here.
    assert not mark_seen(sessions, shop, theirs.operator.operator_id, datetime.now(UTC))
    assert trail(sessions, other, "inbox.assign")[0].details["operator_id"] == b.operator_id


def test_routing_settings_are_validated(sessions: sessionmaker[Session], shop: str) -> None:
    assert get_config(sessions, shop).routing == "least_loaded"
    put_config(sessions, shop, {"routing": "round_robin", "routing_presence": "PT10M"})
    for bad in (
        {"routing": "sideways"},
        {"routing_sla_risk": 1.5},
        {"routing_presence": "PT0S"},
        {"watchdog_inbox_after": "PT1M"},
        {"routin": "off"},
    ):
        with pytest.raises(ConfigError):
            put_config(sessions, shop, bad)
    kept = get_config(sessions, shop)
    assert (kept.routing, kept.routing_presence) == ("round_robin", timedelta(minutes=10))
    put_config(sessions, shop, {"routing": "off"})
    put_line(sessions, shop, "c_000000000000000a")
    person(sessions, shop, "admin")
    assert route(sessions, shop, T0).assigned == []


def test_migration_0015_matches_the_models(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        diff = compare_metadata(MigrationContext.configure(s.connection()), Base.metadata)
    mine = [d for d in diff if "inbox_items" in repr(d) or "operator_routing" in repr(d)]
    assert mine == []


async def test_histories_recorded_before_routing_replay() -> None:
    # Recorded on the agent before routing existed (two lines in its inbox): its polls ran
    # no routing, and replaying them on this code must not either.
    history = WorkflowHistory.from_json(
        "management:recorded",
        (HISTORIES / "management-before-routing.json").read_text("utf-8"),
    )
    replayer = Replayer(workflows=[ManagementAgentWorkflow], data_converter=TEST_CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None


# --- the agent on the time-skipping server, with a real SMTP server -----------------------------
@pytest.fixture
def app_db(settings: Settings) -> Iterator[sessionmaker[Session]]:
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


async def eventually(read: Callable[[], T], ok: Callable[[T], bool], seconds: float = 30) -> T:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await asyncio.to_thread(read)
        if ok(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


def mails(maildir: Path, to: str, subject: str = "") -> list[dict[str, str]]:
    return [m for m in list_messages(maildir, to=to) if subject in m["subject"]]


async def test_a_line_is_reassigned_at_75_percent_of_its_sla_and_each_operator_mailed_once(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    app_db: sessionmaker[Session],
    smtp_server: MaildirServer,
) -> None:
    env = skipping_env
    tenant = create_tenant(app_db, "Busy Shop", keyring=TEST_KEYRING).tenant_id
    PolicyStore(app_db).put(tenant, {"sla_first_response": "PT1H"})
    first, second = sorted(
        (person(app_db, tenant, "agent") for _ in range(2)), key=lambda p: p.operator.operator_id
    )
    for p in (first, second):
        signed_in(app_db, p)
    t0 = await env.get_current_time()
    put_line(app_db, tenant, "c_00000000000000a1", since=t0)
    store = InboxStore(app_db)

    def assignee() -> str | None:
        item = store.get(tenant, "c_00000000000000a1")
        return item.assigned_to if item is not None else None

    maildir = smtp_server.maildir_dir
    async with management_worker(env.client, settings, app_db) as queue:
        handle = await env.client.start_workflow(
            ManagementAgentWorkflow.run,
            ManagementInput(tenant_id=tenant, integrations_queue=queue),
            id=management_workflow_id(tenant),
            task_queue=queue,
        )
        # The first poll gives it to one of the two (equal load, never assigned: by id).
        assert await eventually(assignee, lambda a: a is not None) == first.operator.operator_id
        got = await eventually(
            lambda: mails(maildir, first.operator.email, "assigned to you"), lambda m: len(m) >= 1
        )
        assert len(got) == 1 and "c_00000000000000a1" in got[0]["text"]
        # 40 minutes on (8 polls): still theirs.
        await env.sleep(timedelta(minutes=40))
        view = await until(handle, lambda v: v.polls >= 9)
        assert assignee() == first.operator.operator_id
        # Past 45 minutes (75% of the hour) and unclaimed: the other operator's now.
        await env.sleep(timedelta(minutes=6))
        assert await eventually(assignee, lambda a: a == second.operator.operator_id) == (
            second.operator.operator_id
        )
        passed = await eventually(
            lambda: mails(maildir, second.operator.email, "passed on to you"),
            lambda m: len(m) >= 1,
        )
        assert len(passed) == 1 and "due soon" in passed[0]["subject"]
        # Later polls change nothing: once per line and operator, one mail per assignment.
        polls = (await until(handle, lambda v: v.polls > view.polls)).polls
        await env.sleep(timedelta(minutes=30))
        await until(handle, lambda v: v.polls >= polls + 6)
        assert assignee() == second.operator.operator_id
        assert len(list_messages(maildir, to=first.operator.email)) == 1
        assert len(list_messages(maildir, to=second.operator.email)) == 1
        entries = trail(app_db, tenant, "inbox.assign")
        assert [(e.details["operator_id"], e.details["why"]) for e in entries] == [
            (first.operator.operator_id, "new"),
            (second.operator.operator_id, "sla_risk"),
        ]
        await handle.terminate("test over")
    history = await handle.fetch_history()
    await Replayer(
        workflows=[ManagementAgentWorkflow], data_converter=TEST_CONVERTER
    ).replay_workflow(history)


# --- the inbox API and the console ---------------------------------------------------------------
async def test_the_inbox_shows_the_assignee_and_filters_assigned_to_me(
    console: Console, browser: Browser
) -> None:
    tenant = console.shop.tenant_id
    agent = console.operator("agent")
    boss = console.operator("supervisor")
    theirs = console.operator("agent", tenant=console.other)
    now = datetime.now(UTC)
    signed_in(console.sessions, agent)
    signed_in(console.sessions, theirs)
    put_line(console.sessions, tenant, "c_00000000000000b1", since=now - timedelta(minutes=9))
    put_line(console.sessions, tenant, "c_00000000000000b2", since=now - timedelta(minutes=8))
    put_line(
        console.sessions, tenant, "c_00000000000000b3", reason="approval", amount=300.0, since=now
    )
    put_line(console.sessions, console.other.tenant_id, "c_00000000000000b9", since=now)
    route(console.sessions, tenant, now)
    route(console.sessions, console.other.tenant_id, now)

    def bearer(who: CreatedOperator) -> dict[str, str]:
        return {"Authorization": f"Bearer {who.api_token}"}

    res = await console.http.get("/v1/inbox", headers=bearer(agent))
    assert res.status_code == 200, res.text
    lines = {i["customer_id"]: i for i in res.json()["items"]}
    me, sup = agent.operator.operator_id, boss.operator.operator_id
    assert {c: (i["assigned_to"], i["assigned_email"]) for c, i in lines.items()} == {
        "c_00000000000000b1": (me, agent.operator.email),
        "c_00000000000000b2": (me, agent.operator.email),
        # An approval above what an agent without a limit may approve: the supervisor.
        "c_00000000000000b3": (sup, boss.operator.email),
    }
    assert all(i["assigned_at"] for i in lines.values())
    mine = await console.http.get("/v1/inbox?assigned_to_me=true", headers=bearer(agent))
    assert [i["customer_id"] for i in mine.json()["items"]] == [
        "c_00000000000000b1",
        "c_00000000000000b2",
    ]
    theirs_view = await console.http.get("/v1/inbox", headers=bearer(theirs))
    assert [i["customer_id"] for i in theirs_view.json()["items"]] == ["c_00000000000000b9"]
    assert theirs_view.json()["items"][0]["assigned_to"] == theirs.operator.operator_id
    # The API key is nobody's assignee.
    keyed = await console.http.get("/v1/inbox?assigned_to_me=true", headers=console.api_key)
    assert keyed.json()["items"] == []

    watch = Watch()
    page = await new_page(browser, watch)
    await sign_in(page, console, boss)
    rows = page.locator("#inbox-rows tr")
    await expect(rows).to_have_count(3)
    assignee = page.locator('#inbox-rows tr[data-customer-id="c_00000000000000b1"] td.assignee')
    await expect(assignee).to_have_text(agent.operator.email)
    mine_cell = page.locator('#inbox-rows tr[data-customer-id="c_00000000000000b3"] td.assignee')
    await expect(mine_cell).to_have_text("You")
    await page.check("#f-assigned")
    await expect(rows).to_have_count(1)
    await expect(page).to_have_url(re.compile(r"assigned_to_me=true"))
    assert await page.evaluate(UNLABELLED) == []
    await shot(page, "inbox-assigned-to-me")
    assert watch.problems == []

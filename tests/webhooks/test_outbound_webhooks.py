"""Outbound webhooks (issue 16; docs/webhooks.md): ``conversation.needs_person`` written to the
outbox in the inbox write's transaction and delivered by the dispatcher to a real receiver on
loopback, signed in Stripe's style, on SQLite and Postgres.

Delivery is at least once, with one event id per event: a receiver that is down gets the
event later (same id), 5xx answers are retried with back-off and given up after the bounded
attempts, several dispatchers never send one due row twice, a rotated secret signs the next
delivery, and a tenant's events only ever go to its own endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from supportflow.api.routers import webhook_endpoint
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import Base, WebhookOutboxRow
from supportflow.inbox.model import InboxApproval, InboxItem
from supportflow.inbox.store import InboxStore
from supportflow.settings import Settings
from supportflow.tenants.service import create_tenant
from supportflow.webhooks import WebhookSignatureError, signature_header, verify
from supportflow.webhooks.dispatcher import DeliveryPolicy, WebhookDispatcher
from supportflow.webhooks.endpoints import (
    InvalidWebhookUrl,
    check_url,
    delete_endpoint,
    get_endpoint,
    rotate_secret,
    set_endpoint,
)
from supportflow.webhooks.outbox import claim_due
from tests.helpers import TEST_KEYRING, run_tenants_cli, serve_router
from tests.webhooks.receiver import Receiver

T = TypeVar("T")

FAST = DeliveryPolicy(
    timeout_s=2.0, max_attempts=5, backoff_s=0.1, backoff_max_s=0.4, poll_s=0.1, allow_http=False
)
# What a customer wrote can reach an inbox line's detail; it must never reach a webhook.
PRIVATE_DETAIL = "customer jane.doe@example.com says: my card 4111 was charged twice"


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@contextlib.asynccontextmanager
async def dispatching(
    sessions: sessionmaker[Session], policy: DeliveryPolicy = FAST
) -> AsyncIterator[WebhookDispatcher]:
    async with WebhookDispatcher(sessions, TEST_KEYRING, policy) as dispatcher:
        yield dispatcher


async def eventually(read: Callable[[], T], ok: Callable[[T], bool], seconds: float = 20) -> T:
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if ok(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


def handoff(tenant_id: str, customer_id: str = "c_0000000000000001", version: int = 1) -> InboxItem:
    return InboxItem(
        tenant_id=tenant_id,
        customer_id=customer_id,
        workflow_id=f"customer-{tenant_id}-{customer_id}",
        version=version,
        reason="handoff",
        since=datetime(2026, 12, 1, 3, 0, tzinfo=UTC),
        detail=PRIVATE_DETAIL,
        channel="chat",
    )


def outbox(sessions: sessionmaker[Session]) -> list[WebhookOutboxRow]:
    with sessions() as s:
        return list(s.scalars(select(WebhookOutboxRow).order_by(WebhookOutboxRow.id)))


# --- the signature ---------------------------------------------------------------------------


def test_a_signature_verifies_and_anything_else_is_refused_with_a_reason() -> None:
    body = b'{"id":"evt_1","type":"conversation.needs_person"}'
    now = 1_764_558_000
    header = signature_header("whsec_one", body, now)
    assert header.startswith(f"t={now},v1=") and len(header.split("v1=")[1]) == 64
    assert verify("whsec_one", body, header, now=now + 299) == now
    assert verify("whsec_one", body.decode(), header, now=now) == now  # str bodies too
    # Several v1 entries (an old and a new secret): any one matching is enough.
    other = signature_header("whsec_two", body, now).split(",")[1]
    assert verify("whsec_one", body, f"t={now},{other},{header.split(',')[1]}", now=now) == now

    refused = {
        "tampered body": ("whsec_one", body.replace(b"evt_1", b"evt_2"), header, now),
        "wrong secret": ("whsec_two", body, header, now),
        "stale": ("whsec_one", body, header, now + 301),
        "from the future": ("whsec_one", body, header, now - 301),
        "no header": ("whsec_one", body, "", now),
        "no v1": ("whsec_one", body, f"t={now}", now),
        "no t": ("whsec_one", body, header.split(",")[1], now),
        "bad t": ("whsec_one", body, header.replace(f"t={now}", "t=soon"), now),
        "garbage": ("whsec_one", body, "sha256=abc", now),
        "two t": ("whsec_one", body, f"t={now},{header}", now),
    }
    for case, (secret, raw, value, at) in refused.items():
        with pytest.raises(WebhookSignatureError):
            verify(secret, raw, value, now=at)
            pytest.fail(case)
    with pytest.raises(WebhookSignatureError, match="stale"):
        verify("whsec_one", body, header, now=now + 301)
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify("whsec_two", body, header, now=now)
    with pytest.raises(WebhookSignatureError, match="malformed"):
        verify("whsec_one", body, "sha256=abc", now=now)


def test_only_https_urls_or_plain_http_on_loopback_are_accepted() -> None:
    for ok in (
        "https://shop.example.com/hooks/supportflow",
        "https://shop.example.com:8443/h?x=1",
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://[::1]:9000/hook",
    ):
        assert check_url(ok, allow_http=False) == ok
    for bad in (
        "ftp://shop.example.com/hook",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "shop.example.com/hook",
        "https://",
        "https://user:pass@shop.example.com/hook",
        "https://shop.example.com/hook#frag",
        "https://shop.example.com/ho ok",
        "https://shop.example.com:99999/hook",
        "http://shop.example.com/hook",  # plain http off loopback
        "http://10.0.0.5/hook",
        "",
        "https://x.example/" + "a" * 2048,
    ):
        with pytest.raises(InvalidWebhookUrl):
            check_url(bad, allow_http=False)
    # The operator may allow plain http on a trusted network.
    assert check_url("http://10.0.0.5/hook", allow_http=True) == "http://10.0.0.5/hook"
    with pytest.raises(InvalidWebhookUrl):
        check_url("ftp://10.0.0.5/hook", allow_http=True)


# --- the outbox, in the inbox write's transaction ---------------------------------------------


def test_an_event_is_written_with_the_inbox_line_only_when_a_person_is_needed_anew(
    sessions: sessionmaker[Session],
) -> None:
    tenant = create_tenant(sessions, "Hooked Shop").tenant_id
    bare = create_tenant(sessions, "No Endpoint Shop").tenant_id
    set_endpoint(sessions, TEST_KEYRING, tenant, "https://shop.example.com/h", allow_http=False)
    inbox = InboxStore(sessions)

    assert inbox.put(handoff(tenant, version=1))
    [row] = outbox(sessions)
    event = json.loads(row.body)
    assert event["id"] == row.event_id and event["id"].startswith("evt_")
    assert event["type"] == "conversation.needs_person" and event["tenant_id"] == tenant
    assert event["data"]["customer_id"] == "c_0000000000000001"
    assert event["data"]["reason"] == "handoff" and event["data"]["trigger"] == "waiting"
    assert "jane.doe" not in row.body and "card" not in row.body  # ids only, no detail

    # A retried (same version) or late write changes nothing, so writes no second event.
    assert not inbox.put(handoff(tenant, version=1))
    # The same wait, written again (held by an operator now): no new event.
    assert inbox.put(handoff(tenant, version=2).model_copy(update={"held_by": "op_1"}))
    assert len(outbox(sessions)) == 1
    # An SLA breach while waiting, then an approval escalated: one event each.
    breached = handoff(tenant, version=3).model_copy(update={"sla_breaches": ["first_response"]})
    assert inbox.put(breached)
    approval = InboxApproval(
        approval_id="ap_1",
        action="refund",
        rule_id="r1",
        requested_at=datetime(2026, 12, 1, 3, 5, tzinfo=UTC),
        escalated=True,
    )
    waiting = datetime(2026, 12, 1, 3, 5, tzinfo=UTC)
    assert inbox.put(
        handoff(tenant, version=4).model_copy(
            update={"reason": "approval", "since": waiting, "approval": approval}
        )
    )
    triggers = [
        (json.loads(r.body)["data"]["trigger"], json.loads(r.body)["data"]["sla_breach"])
        for r in outbox(sessions)
    ]
    assert triggers == [
        ("waiting", None),
        ("sla_breach", "first_response"),
        ("waiting", None),
        ("approval_escalated", None),
    ]
    # Nobody needed any more: the line leaves the inbox, no event.
    gone = handoff(tenant, version=5).model_copy(update={"reason": None, "since": None})
    assert inbox.put(gone)
    assert len(outbox(sessions)) == 4
    # A tenant without an endpoint: the inbox line is written, no event is.
    assert inbox.put(handoff(bare))
    assert inbox.get(bare, "c_0000000000000001") is not None
    assert all(r.tenant_id == tenant for r in outbox(sessions))
    assert len({r.event_id for r in outbox(sessions)}) == 4


# --- delivery to a real receiver ---------------------------------------------------------------


async def test_the_event_reaches_the_endpoint_signed_and_is_marked_delivered(
    sessions: sessionmaker[Session],
) -> None:
    tenant = create_tenant(sessions, "Hooked Shop").tenant_id
    receiver = Receiver()
    made = set_endpoint(sessions, TEST_KEYRING, tenant, receiver.url, allow_http=False)
    assert made.secret is not None and made.secret.startswith("whsec_")
    woken: list[int] = []
    async with receiver.running(), dispatching(sessions) as dispatcher:
        inbox = InboxStore(sessions, on_event=lambda: (woken.append(1), dispatcher.notify()))
        await asyncio.to_thread(inbox.put, handoff(tenant))
        got = await eventually(lambda: receiver.delivered, lambda d: len(d) == 1)
        assert len(got) == 1, receiver.received
    [hit] = got
    assert woken == [1]
    assert verify(made.secret, hit.body, hit.signature) > 0
    assert hit.headers["content-type"] == "application/json"
    assert hit.event_id == hit.payload["id"]
    assert hit.payload["type"] == "conversation.needs_person"
    assert hit.payload["data"]["workflow_id"] == f"customer-{tenant}-c_0000000000000001"
    assert b"jane.doe" not in hit.body
    [row] = outbox(sessions)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 200)
    assert row.finished_at is not None and row.claim is None


async def test_a_receiver_that_is_down_gets_the_event_later_with_the_same_id(
    sessions: sessionmaker[Session],
) -> None:
    tenant = create_tenant(sessions, "Flaky Shop").tenant_id
    receiver = Receiver()  # not listening yet: connections are refused
    made = set_endpoint(sessions, TEST_KEYRING, tenant, receiver.url, allow_http=False)
    assert made.secret is not None
    async with dispatching(sessions):
        InboxStore(sessions).put(handoff(tenant))
        rows = await eventually(lambda: outbox(sessions), lambda r: r[0].attempts >= 2)
        assert rows[0].status == "pending" and rows[0].last_error == "ConnectError"
        async with receiver.running():
            await eventually(lambda: receiver.delivered, lambda d: len(d) >= 1)
            await asyncio.sleep(0.5)  # room for a wrong second delivery to show up
    [row] = outbox(sessions)
    assert row.status == "delivered" and row.attempts >= 3
    # At least once, one id: every request the receiver saw carries the event's id.
    assert {r.event_id for r in receiver.received} == {row.event_id}
    assert len(receiver.delivered) == 1
    assert verify(made.secret, receiver.delivered[0].body, receiver.delivered[0].signature)


async def test_5xx_answers_are_retried_with_back_off_then_given_up(
    sessions: sessionmaker[Session],
) -> None:
    tenant = create_tenant(sessions, "Busy Shop").tenant_id
    receiver = Receiver()
    set_endpoint(sessions, TEST_KEYRING, tenant, receiver.url, allow_http=False)
    receiver.script = [500, 503]
    async with receiver.running(), dispatching(sessions):
        InboxStore(sessions).put(handoff(tenant, "c_0000000000000001"))
        await eventually(lambda: receiver.delivered, lambda d: len(d) == 1)
        [row] = outbox(sessions)
        assert (row.status, row.attempts) == ("delivered", 3)
        assert [r.status for r in receiver.received] == [500, 503, 200]
        assert len({r.event_id for r in receiver.received}) == 1
        # The same bytes each time; each attempt signed afresh.
        assert len({r.body for r in receiver.received}) == 1

        # Always failing: given up after max_attempts (5), never sent again.
        receiver.script = [500] * 20
        receiver.received.clear()
        InboxStore(sessions).put(handoff(tenant, "c_0000000000000002"))
        rows = await eventually(lambda: outbox(sessions), lambda r: r[1].status == "failed")
        assert (rows[1].status, rows[1].attempts, rows[1].last_status_code) == ("failed", 5, 500)
        await asyncio.sleep(0.6)
        assert len(receiver.received) == 5


async def test_a_delivery_cut_short_by_a_stop_is_sent_again_after_its_lease(
    sessions: sessionmaker[Session],
) -> None:
    tenant = create_tenant(sessions, "Slow Shop").tenant_id
    receiver = Receiver()
    made = set_endpoint(sessions, TEST_KEYRING, tenant, receiver.url, allow_http=False)
    assert made.secret is not None
    receiver.delay = 30.0  # the receiver holds the answer: the delivery is in flight
    async with receiver.running():
        dispatcher = WebhookDispatcher(sessions, TEST_KEYRING, FAST)
        await dispatcher.start()
        InboxStore(sessions, on_event=dispatcher.notify).put(handoff(tenant))
        await eventually(lambda: receiver.arrived, lambda a: len(a) == 1)
        # A worker stopping (or dying) mid-delivery: stop returns at once, nothing is marked.
        started = time.monotonic()
        await asyncio.wait_for(dispatcher.stop(), 5)
        assert time.monotonic() - started < 5
        [row] = outbox(sessions)
        assert (row.status, row.attempts) == ("pending", 0) and row.claim is not None
        assert row.next_attempt_at > time.time() + 10  # claimed for the lease: not sent now
        # The lease ends; another dispatcher sends it again, with the same id.
        with sessions.begin() as s:
            s.execute(update(WebhookOutboxRow).values(next_attempt_at=time.time()))
        receiver.delay = 0.0
        async with dispatching(sessions):
            await eventually(lambda: receiver.delivered, lambda d: len(d) == 1)
    assert receiver.arrived == [row.event_id, row.event_id]
    [done] = outbox(sessions)
    assert (done.status, done.attempts) == ("delivered", 1)
    assert verify(made.secret, receiver.delivered[0].body, receiver.delivered[0].signature)


def test_back_off_doubles_up_to_its_cap() -> None:
    policy = DeliveryPolicy(backoff_s=10, backoff_max_s=3600)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert policy.backoff(9) == 2560 and policy.backoff(10) == 3600 and policy.backoff(50) == 3600


async def test_a_rotated_secret_signs_the_next_delivery(sessions: sessionmaker[Session]) -> None:
    tenant = create_tenant(sessions, "Rotating Shop").tenant_id
    receiver = Receiver()
    made = set_endpoint(sessions, TEST_KEYRING, tenant, receiver.url, allow_http=False)
    assert made.secret is not None
    async with receiver.running(), dispatching(sessions):
        InboxStore(sessions).put(handoff(tenant, "c_0000000000000001"))
        await eventually(lambda: receiver.delivered, lambda d: len(d) == 1)
        new = rotate_secret(sessions, TEST_KEYRING, tenant)
        assert new != made.secret
        InboxStore(sessions).put(handoff(tenant, "c_0000000000000002"))
        await eventually(lambda: receiver.delivered, lambda d: len(d) == 2)
    first, second = receiver.delivered
    assert verify(made.secret, first.body, first.signature)
    assert verify(new, second.body, second.signature)
    with pytest.raises(WebhookSignatureError):
        verify(made.secret, second.body, second.signature)
    # Changing the URL keeps the secret and shows none.
    again = set_endpoint(sessions, TEST_KEYRING, tenant, receiver.url + "2", allow_http=False)
    assert again.secret is None and again.endpoint.url.endswith("supportflow2")


async def test_a_tenants_events_go_only_to_its_own_endpoint(
    sessions: sessionmaker[Session],
) -> None:
    a = create_tenant(sessions, "Shop A").tenant_id
    b = create_tenant(sessions, "Shop B").tenant_id
    to_a, to_b = Receiver(), Receiver()
    set_endpoint(sessions, TEST_KEYRING, a, to_a.url, allow_http=False)
    set_endpoint(sessions, TEST_KEYRING, b, to_b.url, allow_http=False)
    async with to_a.running(), to_b.running(), dispatching(sessions):
        InboxStore(sessions).put(handoff(a, "c_000000000000000a"))
        InboxStore(sessions).put(handoff(b, "c_000000000000000b"))
        InboxStore(sessions).put(handoff(a, "c_00000000000000a2"))
        await eventually(
            lambda: (to_a.delivered, to_b.delivered), lambda d: len(d[0]) == 2 and len(d[1]) == 1
        )
    assert {r.payload["tenant_id"] for r in to_a.received} == {a}
    assert {r.payload["tenant_id"] for r in to_b.received} == {b}
    assert {r.payload["data"]["customer_id"] for r in to_b.received} == {"c_000000000000000b"}
    # A removed endpoint: its pending events are given up, never sent to a later one.
    assert delete_endpoint(sessions, b) and get_endpoint(sessions, b) is None
    assert not delete_endpoint(sessions, b)
    InboxStore(sessions).put(handoff(b, "c_00000000000000b2"))
    assert [r.tenant_id for r in outbox(sessions)].count(b) == 1


async def test_dispatchers_running_side_by_side_send_each_event_once(
    sessions: sessionmaker[Session],
) -> None:
    tenant = create_tenant(sessions, "Crowded Shop").tenant_id
    receiver = Receiver()
    set_endpoint(sessions, TEST_KEYRING, tenant, receiver.url, allow_http=False)
    inbox = InboxStore(sessions)
    for n in range(30):
        inbox.put(handoff(tenant, f"c_{n:016d}"))
    # Two claimers racing over the same due rows (threads, as two processes would): each row
    # goes to exactly one of them.
    claimed: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def claim(i: int) -> None:
        start.wait()
        for _ in range(5):
            rows = claim_due(sessions, now=time.time(), limit=4, lease_s=600)
            claimed[i].extend(r.id for r in rows)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # Ten claims of 4 over 30 due rows: every row claimed once, by one of them.
    assert sorted(claimed[0] + claimed[1]) == sorted(r.id for r in outbox(sessions))
    assert not set(claimed[0]) & set(claimed[1])
    assert claim_due(sessions, now=time.time(), limit=4, lease_s=600) == []
    # As if their leases ended (the claimers died mid-delivery): the rows are due again.
    with sessions.begin() as s:
        s.execute(update(WebhookOutboxRow).values(next_attempt_at=time.time()))
    async with receiver.running(), dispatching(sessions), dispatching(sessions):
        await eventually(lambda: receiver.delivered, lambda d: len(d) >= 30)
        await asyncio.sleep(0.5)
    ids = [r.event_id for r in receiver.received]
    assert len(ids) == 30 and len(set(ids)) == 30
    with sessions() as s:
        delivered = s.scalar(select(func.count()).where(WebhookOutboxRow.status == "delivered"))
    assert delivered == 30


# --- the merchant's API and the CLI -------------------------------------------------------------


async def test_the_merchant_sets_reads_rotates_and_removes_its_endpoint_over_the_api(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    tenant = create_tenant(sessions, "API Shop")
    other = create_tenant(sessions, "Other Shop")
    settings = Settings(data_dir=tmp_path)
    async with (
        serve_router(webhook_endpoint.router, settings, sessions) as base,
        httpx.AsyncClient(base_url=base, headers={"X-API-Key": tenant.api_key}) as http,
    ):
        assert (await http.get("/v1/webhook-endpoint")).status_code == 404
        assert (
            await http.get("/v1/webhook-endpoint", headers={"X-API-Key": "nope"})
        ).status_code == 401
        bad = await http.put("/v1/webhook-endpoint", json={"url": "http://shop.example.com/h"})
        assert bad.status_code == 422 and "https" in bad.json()["detail"]
        assert (
            await http.put("/v1/webhook-endpoint", json={"url": "ftp://x/y"})
        ).status_code == 422
        made = await http.put("/v1/webhook-endpoint", json={"url": "https://shop.example.com/h"})
        assert made.status_code == 200
        secret = made.json()["secret"]
        assert secret.startswith("whsec_") and made.json()["tenant_id"] == tenant.tenant_id
        shown = (await http.get("/v1/webhook-endpoint")).json()
        assert shown["url"] == "https://shop.example.com/h" and shown["secret"] is None
        changed = await http.put("/v1/webhook-endpoint", json={"url": "https://shop.example.com/2"})
        assert changed.json()["secret"] is None
        rotated = await http.post("/v1/webhook-endpoint/rotate-secret")
        assert rotated.status_code == 200 and rotated.json()["secret"] not in (secret, None)
        # The other tenant sees nothing of it.
        assert (
            await http.get("/v1/webhook-endpoint", headers={"X-API-Key": other.api_key})
        ).status_code == 404
        assert (await http.delete("/v1/webhook-endpoint")).status_code == 204
        assert (await http.delete("/v1/webhook-endpoint")).status_code == 404
        assert (await http.post("/v1/webhook-endpoint/rotate-secret")).status_code == 404


def test_the_cli_sets_shows_rotates_and_deletes_an_endpoint(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    tenant = create_tenant(sessions, "CLI Shop").tenant_id
    bad = run_tenants_cli(database_url, "webhooks", "set", tenant, "gopher://x/y")
    assert bad.returncode == 2 and "http" in bad.stderr
    made = run_tenants_cli(database_url, "webhooks", "set", tenant, "https://shop.example.com/h")
    assert made.returncode == 0, made.stderr
    secret = json.loads(made.stdout)["secret"]
    shown = run_tenants_cli(database_url, "webhooks", "show", "CLI Shop")
    assert json.loads(shown.stdout)["url"] == "https://shop.example.com/h"
    assert secret not in shown.stdout
    rotated = run_tenants_cli(database_url, "webhooks", "rotate", tenant)
    assert json.loads(rotated.stdout)["secret"] not in (secret, None)
    # The sealed secret opens with the app's keys to what the CLI printed.
    from supportflow.webhooks.endpoints import delivery_target

    target = delivery_target(sessions, TEST_KEYRING, tenant)
    assert target == ("https://shop.example.com/h", json.loads(rotated.stdout)["secret"])
    assert run_tenants_cli(database_url, "webhooks", "delete", tenant).returncode == 0
    gone = run_tenants_cli(database_url, "webhooks", "show", tenant)
    assert gone.returncode == 2 and "no webhook endpoint" in gone.stderr


def test_migration_0017_matches_the_models(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        diff = compare_metadata(MigrationContext.configure(s.connection()), Base.metadata)
    mine = [d for d in diff if any(t in repr(d) for t in ("webhook_endpoints", "webhook_outbox"))]
    assert mine == []

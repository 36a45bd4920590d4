"""People behind the agents, in CustomerWorkflow on real Temporal servers and the real demo
store: hand-overs land in the inbox, operators claim, reply and release, approvals are decided
by an update (and time out), and a store write interrupted by an outage is retried durably and
then handed over. What the customer is told and what the store holds are what count."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.inbox.model import InboxItem
from supportflow.inbox.store import InboxStore
from supportflow.mail.maildir_reader import list_messages
from supportflow.mail.maildir_server import MaildirServer
from supportflow.operators.accounts import create_operator
from supportflow.settings import Settings
from supportflow.workflows.contract import (
    ApprovalDecision,
    Claim,
    MessagesAfter,
    OperatorMessage,
    Release,
    TranscriptEntry,
    customer_workflow_id,
)
from supportflow.workflows.customer import CustomerWorkflow
from tests.conftest import _run_store
from tests.helpers import running_workers, store_order
from tests.test_procedures_workflow import Chat, tenant_with_policy

HUMAN = {
    "local": "lei.patel3765@example.com",
    "time-skipping": "olivia.smith9793@example.com",
}
APPROVE = {
    "local": ("noah.patel1792@example.com", "#W1845024", 1527.24),
    "time-skipping": ("ethan.sanchez6360@example.com", "#W9102111", 4117.44),
}
DENY = {
    "local": ("amelia.kim6460@example.com", "#W7634667"),
    "time-skipping": ("mei.martin4637@example.com", "#W7017301"),
}


def handle_of(chat: Chat) -> WorkflowHandle[CustomerWorkflow, None]:
    return chat.env.client.get_workflow_handle_for(
        CustomerWorkflow.run, customer_workflow_id(chat.tenant_id, chat.customer)
    )


def sender(chat: Chat) -> str:
    return f"chat:v-{chat.customer}"


async def later_messages(chat: Chat, after: int = 0) -> list[TranscriptEntry]:
    """What the customer's chat shows after entry ``after``: replies, and messages sent
    outside a reply (an operator's, an approval's outcome)."""
    return await handle_of(chat).query(
        CustomerWorkflow.messages_after, MessagesAfter(seq=after, sender=sender(chat))
    )


@pytest.fixture
def inbox(settings: Settings) -> Iterator[InboxStore]:
    engine = make_engine(settings.resolved_database_url)
    try:
        yield InboxStore(make_session_factory(engine))
    finally:
        engine.dispose()


async def inbox_line(inbox: InboxStore, chat: Chat) -> InboxItem | None:
    return await asyncio.to_thread(inbox.get, chat.tenant_id, chat.customer)


async def test_a_handover_reaches_the_inbox_and_an_operator_takes_the_conversation(
    workflow_env: WorkflowEnvironment,
    workflow_env_kind: str,
    settings: Settings,
    running: None,
    inbox: InboxStore,
) -> None:
    tenant_id = tenant_with_policy(settings, "Staffed Shop", {})
    chat = Chat(workflow_env, settings, tenant_id)
    handed = await chat.say("I want to talk to a human please", email=HUMAN[workflow_env_kind])
    # The truth about when someone answers: no hours are set, so no time is promised.
    assert "passing you to a member of our support team" in handed
    assert "as soon as they can" in handed and "shortly" not in handed
    line = await inbox_line(inbox, chat)
    assert line is not None and line.reason == "handoff" and line.held_by is None
    assert line.workflow_id == customer_workflow_id(tenant_id, chat.customer)

    handle = handle_of(chat)
    with pytest.raises(WorkflowUpdateFailedError):
        # Nobody holds it yet: a reply is refused and nothing is recorded.
        await handle.execute_update(
            CustomerWorkflow.operator_reply,
            OperatorMessage(operator_id="op_a", reply_id="r0", text="hello?"),
        )
    held = await handle.execute_update(CustomerWorkflow.claim, Claim(operator_id="op_a"))
    assert held.held_by == "op_a"
    assert (await inbox_line(inbox, chat)).held_by == "op_a"  # type: ignore[union-attr]

    # While a person holds it, the agent says nothing; the message is kept for the person.
    silent = await chat.say("hello? is anyone there")
    assert silent == ""
    seen = [m.seq for m in await later_messages(chat)]
    entry = await handle.execute_update(
        CustomerWorkflow.operator_reply,
        OperatorMessage(operator_id="op_a", reply_id="r1", text="Hi, I'm Dana. How can I help?"),
    )
    again = await handle.execute_update(
        CustomerWorkflow.operator_reply,
        OperatorMessage(operator_id="op_a", reply_id="r1", text="Hi, I'm Dana. How can I help?"),
    )
    assert again.seq == entry.seq, "the same reply id is one reply"
    shown = await later_messages(chat, after=max(seen))
    assert [(m.role, m.text, m.author) for m in shown] == [
        ("operator", "Hi, I'm Dana. How can I help?", "op_a")
    ]
    # Another shopper's sender sees none of it.
    assert await handle.query(
        CustomerWorkflow.messages_after, MessagesAfter(seq=0, sender="chat:someone-else")
    ) == [m for m in await later_messages(chat) if m.to is None]
    view = await handle.query(CustomerWorkflow.transcript)
    assert view.entries[-2].text == "hello? is anyone there"

    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(CustomerWorkflow.release, Release(operator_id="op_b"))
    await handle.execute_update(CustomerWorkflow.release, Release(operator_id="op_a"))
    assert await inbox_line(inbox, chat) is None, "handed back: the line leaves the inbox"
    back = await chat.say("thanks!")
    assert back and "welcome" in back.lower()


async def test_two_operators_claiming_at_once_one_wins(
    workflow_env: WorkflowEnvironment, workflow_env_kind: str, settings: Settings, running: None
) -> None:
    chat = Chat(workflow_env, settings)
    await chat.say("can I speak to a person", email=HUMAN[workflow_env_kind])
    handle = handle_of(chat)
    results = await asyncio.gather(
        *(
            handle.execute_update(CustomerWorkflow.claim, Claim(operator_id=op))
            for op in ("op_1", "op_2", "op_3")
        ),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 2, results
    assert all(isinstance(e, WorkflowUpdateFailedError) for e in lost)
    holder = won[0].held_by
    view = await handle.query(CustomerWorkflow.transcript)
    assert holder in ("op_1", "op_2", "op_3") and view.turns == 1
    # A supervisor may take it over explicitly.
    taken = await handle.execute_update(
        CustomerWorkflow.claim, Claim(operator_id="op_sup", take_over=True)
    )
    assert taken.held_by == "op_sup"


async def test_an_approval_is_decided_by_an_operator_within_their_limit(
    workflow_env: WorkflowEnvironment,
    workflow_env_kind: str,
    settings: Settings,
    running: None,
    inbox: InboxStore,
) -> None:
    tenant_id = tenant_with_policy(settings, "Approving Shop", {"approval_above": 500})
    email, order_id, paid = APPROVE[workflow_env_kind]
    chat = Chat(workflow_env, settings, tenant_id)
    await chat.say(f"cancel order {order_id} please, I no longer need it", email=email)
    asked = await chat.say("yes")
    assert "approv" in asked and "as soon as they can" not in asked
    line = await inbox_line(inbox, chat)
    assert line is not None and line.reason == "approval" and line.approval is not None
    assert line.approval.order_id == order_id and line.approval.amount == pytest.approx(paid)
    approval_id = line.approval.approval_id
    handle = handle_of(chat)
    seen = max(m.seq for m in await later_messages(chat))

    for bad in (
        ApprovalDecision(
            approval_id=approval_id, operator_id="op_a", decision="approve", approval_limit=100
        ),
        ApprovalDecision(approval_id="ap_nope", operator_id="op_a", decision="approve"),
    ):
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(CustomerWorkflow.decide_approval, bad)
    assert (await store_order(settings, order_id))["status"] == "pending", "nothing changed"

    decided = await handle.execute_update(
        CustomerWorkflow.decide_approval,
        ApprovalDecision(
            approval_id=approval_id, operator_id="op_sup", decision="approve", approval_limit=None
        ),
    )
    assert decided.status == "approved" and decided.decided_by == "op_sup"
    assert (await store_order(settings, order_id))["status"] == "cancelled"
    told = await later_messages(chat, after=seen)
    assert len(told) == 1 and "cancelled" in told[0].text and told[0].role == "agent"
    assert await inbox_line(inbox, chat) is None
    with pytest.raises(WorkflowUpdateFailedError):
        # Already decided: refused, and the order is not cancelled twice.
        await handle.execute_update(
            CustomerWorkflow.decide_approval,
            ApprovalDecision(approval_id=approval_id, operator_id="op_a", decision="deny"),
        )


async def test_a_denied_approval_tells_the_customer_the_shared_reason(
    workflow_env: WorkflowEnvironment,
    workflow_env_kind: str,
    settings: Settings,
    running: None,
    inbox: InboxStore,
) -> None:
    tenant_id = tenant_with_policy(settings, "Denying Shop", {"approval_above": 500})
    email, order_id = DENY[workflow_env_kind]
    chat = Chat(workflow_env, settings, tenant_id)
    await chat.say(f"please cancel {order_id}, I ordered it by mistake", email=email)
    await chat.say("yes")
    line = await inbox_line(inbox, chat)
    assert line is not None and line.approval is not None
    seen = max(m.seq for m in await later_messages(chat))
    await handle_of(chat).execute_update(
        CustomerWorkflow.decide_approval,
        ApprovalDecision(
            approval_id=line.approval.approval_id,
            operator_id="op_a",
            decision="deny",
            note="It has already left our warehouse",
            share_note=True,
        ),
    )
    told = await later_messages(chat, after=seen)
    assert len(told) == 1
    assert "couldn't approve" in told[0].text and "already left our warehouse" in told[0].text
    assert (await store_order(settings, order_id))["status"] == "pending"
    assert ("cancel_order", "resolved") in await chat.cases()


def supervisor_of(settings: Settings, tenant_id: str) -> str:
    """A supervisor operator of the tenant (the one supervisors' mail goes to)."""
    engine = make_engine(settings.resolved_database_url)
    try:
        email = f"sup-{uuid.uuid4().hex[:6]}@shop.example"
        create_operator(make_session_factory(engine), tenant_id, email, "supervisor", actor="t")
        return email
    finally:
        engine.dispose()


async def test_an_approval_nobody_decides_goes_to_supervisors_then_to_a_person(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    inbox: InboxStore,
    smtp_server: MaildirServer,
) -> None:
    tenant_id = tenant_with_policy(
        settings, "Slow Shop", {"approval_above": 500, "approval_timeout": "PT1H"}
    )
    supervisor = supervisor_of(settings, tenant_id)
    chat = Chat(skipping_env, settings, tenant_id)
    async with running_workers(skipping_env.client, settings):
        await chat.say(
            "cancel order #W9672333, no longer needed", email="aarav.santos8320@example.com"
        )
        await chat.say("yes")
        first = await inbox_line(inbox, chat)
        assert first is not None and first.approval is not None and not first.approval.escalated
        seen = max(m.seq for m in await later_messages(chat))
        await skipping_env.sleep(timedelta(hours=1, minutes=1))
        escalated = await inbox_line(inbox, chat)
        assert escalated is not None and escalated.approval is not None
        assert escalated.approval.escalated, "sent on to supervisors after the timeout"
        mails = await _mail_to(smtp_server, supervisor)
        assert len(mails) == 1 and "approval nobody decided" in mails[0]["subject"]
        assert chat.customer in mails[0]["text"] and "@example.com" not in mails[0]["text"]
        await skipping_env.sleep(timedelta(hours=1))
        told = await later_messages(chat, after=seen)
        assert len(told) == 1 and "couldn't get an approval" in told[0].text
        line = await inbox_line(inbox, chat)
        assert line is not None and line.reason == "handoff" and line.approval is None
        assert line.detail == "approval_expired"
        view = await handle_of(chat).query(CustomerWorkflow.transcript)
        assert [a.status for a in view.approvals] == ["expired"]
        assert ("cancel_order", "escalated") in await chat.cases()
    assert (await store_order(settings, "#W9672333"))["status"] == "pending"


async def _faulted(store_url: str, operations: dict[str, object] | None) -> None:
    async with httpx.AsyncClient(base_url=store_url) as admin:
        if operations is None:
            (await admin.delete("/admin/faults")).raise_for_status()
        else:
            r = await admin.post("/admin/faults", json={"operations": operations})
            r.raise_for_status()


async def _say_while_time_passes(env: WorkflowEnvironment, chat: Chat, text: str) -> str:
    """A turn whose store calls are retried for minutes: the clock is moved on meanwhile."""
    turn = asyncio.create_task(chat.say(text))
    while not turn.done():
        await env.sleep(timedelta(minutes=1))
    return await turn


async def _consistent(store_url: str) -> None:
    async with httpx.AsyncClient(base_url=store_url) as admin:
        assert (await admin.get("/admin/invariants")).json() == {"violations": []}


async def test_a_write_interrupted_by_an_outage_is_finished_by_a_durable_retry(
    skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    store = _run_store(tmp_path / "retry-store.db", admin=True)
    store_url = next(store)
    settings = settings.model_copy(update={"store_url": store_url})
    email, order_id = ("sophia.thomas1364@example.com", "#W4862767")
    chat = Chat(skipping_env, settings)
    try:
        async with running_workers(skipping_env.client, settings):
            await chat.say(f"cancel order {order_id}, I no longer need it", email=email)
            await _faulted(store_url, {"refund": {"mode": "fail_before"}})
            delayed = await _say_while_time_passes(skipping_env, chat, "yes")
            assert "isn't answering" in delayed
            held = await store_order(settings, order_id)
            assert held["status"] == "pending"
            seen = max(m.seq for m in await later_messages(chat))
            # The store comes back; the retry (same keys) finishes the cancellation once.
            await _faulted(store_url, None)
            await skipping_env.sleep(timedelta(minutes=2))
            told = await later_messages(chat, after=seen)
            assert len(told) == 1 and "cancelled" in told[0].text
            after = await store_order(settings, order_id)
            assert after["status"] == "cancelled"
            refunds = [p for p in after["payment_history"] if p["transaction_type"] == "refund"]  # type: ignore[index, union-attr]
            assert len(refunds) == 1
            await _consistent(store_url)
    finally:
        next(store, None)


async def test_an_outage_past_patience_hands_over_and_a_human_is_always_reachable(
    skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, inbox: InboxStore
) -> None:
    store = _run_store(tmp_path / "stuck-store.db", admin=True)
    store_url = next(store)
    settings = settings.model_copy(update={"store_url": store_url})
    tenant_id = tenant_with_policy(settings, "Patient Shop", {"action_retry_deadline": "PT30M"})
    email, order_id = ("ivan.khan6479@example.com", "#W5270061")
    chat = Chat(skipping_env, settings, tenant_id)
    try:
        async with running_workers(skipping_env.client, settings):
            await chat.say(f"cancel order {order_id}, ordered it by mistake", email=email)
            await _faulted(store_url, {"refund": {"mode": "fail_before"}})
            assert "isn't answering" in await _say_while_time_passes(skipping_env, chat, "yes")
            # Mid-write, "talk to a human" still works, and the write is not dropped.
            human = await chat.say("I want to talk to a real person")
            assert "passing you to a member of our support team" in human
            line = await inbox_line(inbox, chat)
            assert line is not None and line.reason == "handoff"
            seen = max(m.seq for m in await later_messages(chat))
            await skipping_env.sleep(timedelta(minutes=45))
            told = await later_messages(chat, after=seen)
            assert len(told) == 1 and "still isn't answering" in told[0].text
            line = await inbox_line(inbox, chat)
            assert line is not None and line.reason == "stuck"
            # Consistent: on hold, no refund, not cancelled; a person finishes it.
            order = await store_order(settings, order_id)
            assert order["status"] == "pending"
            assert not [
                p
                for p in order["payment_history"]  # type: ignore[attr-defined]
                if p["transaction_type"] == "refund"
            ]
            await _consistent(store_url)
    finally:
        await _faulted(store_url, None)
        next(store, None)


async def _mail_to(smtp: MaildirServer, to: str) -> list[dict[str, str]]:
    for _ in range(100):
        found = list_messages(smtp.maildir_dir, to=to)
        if found:
            return found
        await asyncio.sleep(0.1)
    return []


async def test_a_late_first_answer_breaches_the_sla_and_tells_supervisors(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    inbox: InboxStore,
    smtp_server: MaildirServer,
) -> None:
    tenant_id = tenant_with_policy(settings, "Timed Shop", {"sla_first_response": "PT30M"})
    supervisor = supervisor_of(settings, tenant_id)
    chat = Chat(skipping_env, settings, tenant_id)
    async with running_workers(skipping_env.client, settings):
        await chat.say("let me talk to a person", email="yara.li6570@example.com")
        first = await inbox_line(inbox, chat)
        assert first is not None and first.sla_breaches == []
        await skipping_env.sleep(timedelta(minutes=31))
        for _ in range(100):  # the timer's task and its inbox write come just after
            late = await inbox_line(inbox, chat)
            if late is not None and late.sla_breaches:
                break
            await asyncio.sleep(0.1)
        assert late is not None and late.sla_breaches == ["first_response"]
        mails = await _mail_to(smtp_server, supervisor)
        assert len(mails) == 1 and "no answer in time" in mails[0]["subject"]
        # A person answering stops nothing already breached, and claims it from the inbox.
        handle = handle_of(chat)
        await handle.execute_update(CustomerWorkflow.claim, Claim(operator_id="op_a"))
        await handle.execute_update(
            CustomerWorkflow.operator_reply,
            OperatorMessage(operator_id="op_a", reply_id="r", text="Sorry for the wait!"),
        )
        answered = await inbox_line(inbox, chat)
        assert answered is not None and answered.held_by == "op_a"

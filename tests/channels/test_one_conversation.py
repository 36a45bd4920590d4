"""One customer, three channels, one conversation: a cancellation asked for in chat (signed in
on the store's site), explained by email, confirmed by a text from the account's phone. One
case, answered each time on the channel the message came by, and the order cancelled once in
the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from supportflow.demo_store.phones import demo_phone
from supportflow.identity.tokens import sign_identity_token
from supportflow.mail.maildir_server import MaildirServer
from supportflow.settings import Settings
from supportflow.workflows.contract import Channel
from tests.channels.shop import Shop, body_of, open_shop
from tests.helpers import store_order

pytestmark = pytest.mark.slow

RAJ = "raj.sanchez2046@example.com"
RAJ_ID = "raj_sanchez_2970"
ORDER = "#W4566809"
YUSUF = "yusuf.khan7390@example.com"


@pytest.fixture
async def shop(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_server: MaildirServer, tmp_path: Path
) -> AsyncIterator[Shop]:
    async with open_shop(dev_env, settings, smtp_server, tmp_path) as s:
        yield s


async def test_chat_then_email_then_sms_is_one_case(shop: Shop) -> None:
    secret = shop.tenant.identity_secret
    assert secret is not None
    r = await shop.http.post(
        "/v1/chat/messages",
        headers={"X-Chat-Key": shop.tenant.chat_key},
        json={
            "visitor_id": "v-raj",
            "message_id": "chat-1",
            "text": f"I want to cancel order {ORDER}",
            "identity_token": sign_identity_token(secret, email=RAJ),
        },
    )
    assert r.status_code == 200, r.text
    customer = r.json()["customer_id"]
    assert "why" in r.json()["reply"].lower()

    # By email, not yet in our thread: it reaches the same conversation, unverified, and
    # the answer (to Raj's own mailbox) asks to reply to confirm.
    first = await shop.mail(RAJ, "About my cancellation: I no longer need it", subject="Cancel")
    ask = await shop.answer(first)
    assert "reply to this email" in body_of(ask)
    # Raj replies in the thread: proven, and the case goes on.
    reply = await shop.mail(RAJ, "I no longer need it", subject="Cancel", reply_to=ask)
    confirm = body_of(await shop.answer(reply))
    assert ORDER in confirm and "cancel" in confirm.lower(), confirm

    # A text from the phone on Raj's account: the same customer, the same case.
    phone = demo_phone(RAJ_ID)
    assert (await shop.text(phone, "yes")).status_code == 200
    [done] = await shop.texts_to(phone, 1)
    assert "cancelled" in done.lower(), done
    order = await store_order(shop.settings, ORDER)
    assert order["status"] == "cancelled"

    view = await shop.http.get(
        f"/v1/customers/{customer}/transcript", headers={"X-Api-Key": shop.tenant.api_key}
    )
    assert view.status_code == 200, view.text
    body = view.json()
    channels = [(e["role"], e["channel"]) for e in body["entries"]]
    assert channels == [
        ("customer", Channel.CHAT),
        ("agent", Channel.CHAT),
        ("customer", Channel.EMAIL),
        ("agent", Channel.EMAIL),
        ("customer", Channel.EMAIL),
        ("agent", Channel.EMAIL),
        ("customer", Channel.SMS),
        ("agent", Channel.SMS),
    ]
    assert [e["delivery"] for e in body["entries"] if e["role"] == "agent"] == [
        None,
        "sent",
        "sent",
        "sent",
    ]
    cancels = [c for c in body["cases"] if c["intent"] == "cancel_order"]
    assert len(cancels) == 1 and cancels[0]["status"] == "resolved"
    verified = [e["verified_by"] for e in body["entries"] if e["role"] == "customer"]
    assert verified == ["token", None, "email_reply", "phone"]


async def test_an_answer_by_email_before_proof_is_taken_once_proven(shop: Shop) -> None:
    """In chat the agent asks why; the answer comes by email, not yet in our thread (kept,
    and "reply to confirm"); the reply in the thread proves it, and the kept answer is read
    as the answer to that question: the next step is the confirmation, not "why?" again."""
    secret = shop.tenant.identity_secret
    assert secret is not None
    r = await shop.http.post(
        "/v1/chat/messages",
        headers={"X-Chat-Key": shop.tenant.chat_key},
        json={
            "visitor_id": "v-yusuf",
            "message_id": "chat-1",
            "text": "I want to cancel order #W1787190",
            "identity_token": sign_identity_token(secret, email=YUSUF),
        },
    )
    assert "why" in r.json()["reply"].lower(), r.text
    kept = await shop.mail(YUSUF, "I no longer need it", subject="Cancel")
    ask = await shop.answer(kept)
    assert "reply to this email" in body_of(ask)
    proof = await shop.mail(YUSUF, "Yes, that's me.", subject="Cancel", reply_to=ask)
    step = body_of(await shop.answer(proof))
    assert "why" not in step.lower() and "#W1787190" in step, step

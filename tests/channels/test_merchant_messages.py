"""A merchant's back end sends a customer's message on any channel with its API key
(``POST /v1/messages``, issue 16), through the real API, workers and dev server: chat as the
chat API, email and SMS as their doors (the answer goes out by mail to the relay and by text
through Twilio's REST wire format), once per message_id; bad keys, bad input, a shop without
the channel, another tenant's customers and forged tokens refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from supportflow.db.models import ChannelMessage
from supportflow.identity.tokens import sign_identity_token
from supportflow.mail.maildir_server import MaildirServer
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.channels.shop import NUMBER, Shop, body_of, open_shop
from tests.helpers import TEST_KEYRING

pytestmark = pytest.mark.slow


@pytest.fixture
async def shop(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_server: MaildirServer, tmp_path: Path
) -> AsyncIterator[Shop]:
    async with open_shop(dev_env, settings, smtp_server, tmp_path) as s:
        yield s


@pytest.fixture
def bare_shop(shop: Shop) -> CreatedTenant:
    """Another tenant of the same deployment, with no email or SMS set up."""
    return create_tenant(shop.sessions, "Bare Shop", keyring=TEST_KEYRING)


def _key(tenant: CreatedTenant) -> dict[str, str]:
    return {"x-api-key": tenant.api_key}


def _new_id() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


async def _send(
    shop: Shop, body: dict[str, Any], tenant: CreatedTenant | None = None, **params: Any
) -> httpx.Response:
    return await shop.http.post(
        "/v1/messages", json=body, headers=_key(tenant or shop.tenant), params=params
    )


async def _transcript(shop: Shop, customer_id: str) -> dict[str, Any]:
    r = await shop.http.get(f"/v1/customers/{customer_id}/transcript", headers=_key(shop.tenant))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def _mails_to(shop: Shop, address: str) -> list[EmailMessage]:
    new = shop.relay.maildir_dir / "new"
    found = []
    for f in sorted(new.iterdir()) if new.exists() else []:
        msg = BytesParser(policy=policy.default).parsebytes(f.read_bytes())
        assert isinstance(msg, EmailMessage)
        if str(msg.get("To", "")).strip().lower() == address:
            found.append(msg)
    return found


async def _mail_to(shop: Shop, address: str, wait_s: float = 30.0) -> EmailMessage:
    for _ in range(int(wait_s * 20)):
        found = _mails_to(shop, address)
        if found:
            assert len(found) == 1, "one answer per message"
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no mail to {address}")


def _customer_turns(transcript: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in transcript["entries"] if e["role"] == "customer"]


async def test_chat_gets_the_reply_and_the_same_message_id_is_one_turn(shop: Shop) -> None:
    visitor, mid = f"v-{uuid.uuid4().hex[:8]}", _new_id()
    body = {"channel": "chat", "from": visitor, "text": "What is your return policy?"}
    r = await _send(shop, {**body, "message_id": mid})
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["status"] == "answered" and first["reply"] and first["duplicate"] is False
    assert first["channel"] == "chat" and first["from"] == visitor
    again = (await _send(shop, {**body, "message_id": mid})).json()
    assert again["reply"] == first["reply"] and again["duplicate"] is True
    transcript = await _transcript(shop, first["customer_id"])
    assert [e["text"] for e in _customer_turns(transcript)] == [body["text"]]
    # The chat API's own door sees the same conversation: the visitor is the same customer.
    got = await shop.http.get(
        f"/v1/messages/{mid}",
        params={"channel": "chat", "from": visitor},
        headers=_key(shop.tenant),
    )
    assert got.status_code == 200 and got.json()["reply"] == first["reply"]


async def test_email_is_answered_by_mail_through_the_relay_once(shop: Shop) -> None:
    jo, mid = f"jo-{uuid.uuid4().hex[:8]}@mail.example", _new_id()
    body = {
        "channel": "email",
        "from": jo.upper(),  # addresses are kept in lower case
        "subject": "Returns",
        "text": "Hi, do you have a returns policy?",
        "message_id": mid,
    }
    r = await _send(shop, body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "answered" and out["from"] == jo and out["reply"]
    mail = await _mail_to(shop, jo)
    assert mail["Subject"] == "Re: Returns"
    assert mail["From"].addresses[0].addr_spec == shop.support_email
    assert out["reply"].splitlines()[0] in body_of(mail)
    # A bare From proves nothing: the turn is unverified.
    transcript = await _transcript(shop, out["customer_id"])
    [turn] = _customer_turns(transcript)
    assert turn["channel"] == "email" and turn["verified_by"] is None
    # The merchant retried (a timeout on its side): the first reply, no second turn or mail.
    again = await _send(shop, body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["reply"] == out["reply"]
    await asyncio.sleep(1.5)
    assert len(_mails_to(shop, jo)) == 1
    with shop.sessions() as s:
        statuses = s.scalars(
            select(ChannelMessage.status).where(
                ChannelMessage.tenant_id == shop.tenant.tenant_id,
                ChannelMessage.direction == "in",
                ChannelMessage.address == jo,
            )
        ).all()
    assert statuses == ["delivered"]
    # The same id for another sender is refused, not answered with this one's reply.
    other = await _send(shop, {**body, "from": "someone.else@mail.example"})
    assert other.status_code == 409 and "message_id" in other.json()["detail"]


async def test_sms_is_answered_by_text_through_twilio_once(shop: Shop) -> None:
    number, mid = f"+1415555{uuid.uuid4().int % 10000:04d}", _new_id()
    body = {"channel": "sms", "from": number, "text": "hi there", "message_id": mid}
    r = await _send(shop, body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "answered" and out["reply"]
    [sent] = await shop.texts_to(number, 1)
    assert sent.startswith("Mail Shop:") and out["reply"][:40] in sent
    [msg] = [m for m in shop.twilio.list_messages() if m.to == number]
    assert msg.from_ == NUMBER
    again = await _send(shop, body)
    assert again.json()["duplicate"] is True and again.json()["reply"] == out["reply"]
    await asyncio.sleep(1.5)
    assert len(await shop.texts_to(number, 2, wait_s=0)) == 1, "one text per message_id"
    keyword = await _send(shop, {**body, "text": "STOP", "message_id": _new_id()})
    assert keyword.status_code == 422 and "keyword" in keyword.json()["detail"]


async def test_a_pending_reply_is_fetched_later(shop: Shop) -> None:
    number, mid = f"+1415556{uuid.uuid4().int % 10000:04d}", _new_id()
    r = await _send(
        shop, {"channel": "sms", "from": number, "text": "hello", "message_id": mid}, wait=0
    )
    assert r.status_code == 202, r.text
    pending = r.json()
    assert pending["status"] == "pending" and pending["reply"] is None
    assert r.headers["location"] == pending["reply_url"]
    assert "from=%2B1415556" in pending["reply_url"]
    for _ in range(300):
        got = await shop.http.get(pending["reply_url"], headers=_key(shop.tenant))
        if got.status_code == 200:
            break
        assert got.status_code == 202, got.text
        await asyncio.sleep(0.1)
    assert got.status_code == 200 and got.json()["reply"]
    [sent] = await shop.texts_to(number, 1)
    assert got.json()["reply"][:40] in sent
    # Someone else's number, or a message never sent: 404.
    wrong = await shop.http.get(
        f"/v1/messages/{mid}",
        params={"channel": "sms", "from": "+14155550000"},
        headers=_key(shop.tenant),
    )
    assert wrong.status_code == 404
    never = await shop.http.get(
        "/v1/messages/nope", params={"channel": "sms", "from": number}, headers=_key(shop.tenant)
    )
    assert never.status_code == 404


async def test_a_bad_key_is_401_and_nothing_is_sent(shop: Shop) -> None:
    jo = f"jo-{uuid.uuid4().hex[:8]}@mail.example"
    body = {"channel": "email", "from": jo, "text": "hello", "message_id": _new_id()}
    for headers in ({"x-api-key": "sf_wrong"}, {}, {"x-chat-key": shop.tenant.chat_key}):
        r = await shop.http.post("/v1/messages", json=body, headers=headers)
        assert r.status_code == 401, r.text
    got = await shop.http.get(
        f"/v1/messages/{body['message_id']}",
        params={"channel": "email", "from": jo},
        headers={"x-api-key": "sf_wrong"},
    )
    assert got.status_code == 401
    await asyncio.sleep(1.0)
    assert _mails_to(shop, jo) == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"channel": "fax", "from": "+14155550123"}, "channel"),
        ({"channel": "email", "from": "not-an-address"}, "email address"),
        ({"channel": "email", "from": "Jo <jo@mail.example>"}, "email address"),
        ({"channel": "email", "from": "jo@shop.test"}, "deliverable email address"),
        ({"channel": "sms", "from": "4155550123"}, "E.164"),
        ({"channel": "sms", "from": "+99912345678"}, "valid phone number"),
        ({"channel": "chat", "from": "has spaces"}, "visitor id"),
        ({"channel": "sms", "from": "+14155550123", "subject": "Hi"}, "subject"),
        ({"channel": "chat", "from": "v1", "text": "   "}, "empty"),
        ({"channel": "chat", "from": "v1", "message_id": "no spaces please"}, "message_id"),
        ({"channel": "chat", "from": "v1", "extra": 1}, "extra"),
    ],
)
async def test_bad_channel_or_from_is_422(shop: Shop, body: dict[str, Any], says: str) -> None:
    full = {"text": "hello", "message_id": _new_id(), **body}
    r = await _send(shop, full)
    assert r.status_code == 422, r.text
    assert says in str(r.json()["detail"])


async def test_a_shop_without_the_channel_is_told_so(shop: Shop, bare_shop: CreatedTenant) -> None:
    for channel, sender in (("email", "jo@mail.example"), ("sms", "+14155550123")):
        r = await _send(
            shop,
            {"channel": channel, "from": sender, "text": "hello", "message_id": _new_id()},
            tenant=bare_shop,
        )
        assert r.status_code == 409, r.text
        assert f"no {channel} channel set up" in r.json()["detail"]
    # Chat needs no set-up.
    chat = await _send(
        shop,
        {"channel": "chat", "from": "v-bare", "text": "hello", "message_id": _new_id()},
        tenant=bare_shop,
    )
    assert chat.status_code == 200, chat.text


async def test_another_tenants_customers_are_out_of_reach(
    shop: Shop, bare_shop: CreatedTenant
) -> None:
    jo, visitor, mid = f"jo-{uuid.uuid4().hex[:8]}@mail.example", "v-shared", _new_id()
    mine = await _send(shop, {"channel": "email", "from": jo, "text": "hello", "message_id": mid})
    chat = await _send(
        shop, {"channel": "chat", "from": visitor, "text": "hello", "message_id": mid}
    )
    assert mine.status_code == 200 and chat.status_code == 200
    for channel, sender in (("email", jo), ("chat", visitor)):
        got = await shop.http.get(
            f"/v1/messages/{mid}",
            params={"channel": channel, "from": sender},
            headers=_key(bare_shop),
        )
        assert got.status_code == 404, got.text
    # The same visitor id and message id at the other tenant: a conversation of its own.
    theirs = await _send(
        shop,
        {"channel": "chat", "from": visitor, "text": "hello", "message_id": mid},
        tenant=bare_shop,
    )
    assert theirs.status_code == 200 and theirs.json()["duplicate"] is False
    assert theirs.json()["customer_id"] != chat.json()["customer_id"]
    r = await shop.http.get(
        f"/v1/customers/{chat.json()['customer_id']}/transcript", headers=_key(bare_shop)
    )
    assert r.status_code == 404


async def test_an_identity_token_is_verified_and_a_forged_one_refused(shop: Shop) -> None:
    secret = shop.tenant.identity_secret
    assert secret is not None
    ada = f"ada-{uuid.uuid4().hex[:8]}@mail.example"
    token = sign_identity_token(secret, email=ada, sub=f"cust-{uuid.uuid4().hex[:6]}")
    body = {"channel": "email", "from": ada, "text": "Where is my order?", "identity_token": token}
    r = await _send(shop, {**body, "message_id": _new_id()})
    assert r.status_code == 200, r.text
    transcript = await _transcript(shop, r.json()["customer_id"])
    assert _customer_turns(transcript)[0]["verified_by"] == "token"
    await _mail_to(shop, ada)

    forged = sign_identity_token("not-the-shop-secret-" * 3, email=ada, sub="cust-x")
    bob = f"bob-{uuid.uuid4().hex[:8]}@mail.example"
    for channel, sender in (("email", bob), ("sms", "+14155550199"), ("chat", "v-bob")):
        refused = await _send(
            shop,
            {
                "channel": channel,
                "from": sender,
                "text": "Where is my order?",
                "identity_token": forged,
                "message_id": _new_id(),
            },
        )
        assert refused.status_code == 401, refused.text
    # A token for one address does not vouch for another.
    other = await _send(shop, {**body, "from": bob, "message_id": _new_id()})
    assert other.status_code == 422 and "another email address" in other.json()["detail"]
    await asyncio.sleep(1.0)
    assert _mails_to(shop, bob) == []


async def test_a_bare_address_asks_for_proof_and_a_token_gets_the_account(shop: Shop) -> None:
    """The same trust rules as the email door: an address alone gets "reply to confirm",
    never the account's details; the merchant's signed token is the proof."""
    raj, order = "raj.sanchez2046@example.com", "#W4566809"  # a demo store customer
    ask = {"channel": "email", "from": raj, "text": f"What's the status of order {order}?"}
    bare = await _send(shop, {**ask, "message_id": _new_id()})
    assert bare.status_code == 200, bare.text
    assert "make sure it's you" in bare.json()["reply"], bare.json()
    assert "pending" not in bare.json()["reply"], "no account detail for a bare address"
    secret = shop.tenant.identity_secret
    assert secret is not None
    token = sign_identity_token(secret, email=raj)
    signed = await _send(shop, {**ask, "message_id": _new_id(), "identity_token": token})
    assert signed.status_code == 200, signed.text
    reply = signed.json()["reply"]
    assert f"Order {order} is pending" in reply and "make sure it's you" not in reply, reply


async def test_a_sender_over_its_limit_is_429_and_a_retry_still_answered(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_server: MaildirServer, tmp_path: Path
) -> None:
    async with open_shop(
        dev_env, settings, smtp_server, tmp_path, rate_limit_sms_per_sender="1/hour"
    ) as shop:
        number = f"+1415557{uuid.uuid4().int % 10000:04d}"
        first = {"channel": "sms", "from": number, "text": "hello", "message_id": _new_id()}
        assert (await _send(shop, first)).status_code == 200
        over = await _send(shop, {**first, "message_id": _new_id()})
        assert over.status_code == 429 and int(over.headers["retry-after"]) > 0
        assert "this sender" in over.json()["detail"]
        again = await _send(shop, first)  # the same message: no budget spent, its reply
        assert again.status_code == 200 and again.json()["duplicate"] is True
        await asyncio.sleep(1.0)
        assert len(await shop.texts_to(number, 2, wait_s=0)) == 1

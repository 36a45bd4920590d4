"""Text messages as Twilio delivers them, through the real API, workers and dev server: a
signed webhook in, the agent's answer out through Twilio's REST API (a local server speaking
its wire format: Twilio itself is a paid service this machine cannot reach; the adapter code
is the production code, only its base URL differs), STOP honoured, forgeries refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from supportflow.channels.sms.fake_twilio import FakeTwilio, FakeTwilioServer, signed_inbound
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import ChannelMessage
from supportflow.demo_store.phones import demo_phone
from supportflow.settings import Settings
from supportflow.tenants.channels import configure_channels
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import TEST_KEYRING, free_port, running_workers, serve_api

SHOP_NUMBER = "+12025550142"
ACCOUNT = "AC" + "7" * 32
TOKEN = "f" * 32


@dataclass
class Line:
    http: httpx.AsyncClient
    settings: Settings
    sessions: sessionmaker[Session]
    shop: CreatedTenant
    twilio: FakeTwilio

    @property
    def url(self) -> str:
        return f"{self.settings.public_url}/v1/channels/twilio/sms/{self.shop.tenant_id}"

    async def text(self, sender: str, body: str, **extra: str) -> httpx.Response:
        headers, form = signed_inbound(
            self.url, TOKEN, {"From": sender, "To": SHOP_NUMBER, "Body": body, **extra}
        )
        return await self.http.post(self.url, data=form, headers=headers)

    async def answers_to(self, number: str, count: int, wait_s: float = 30.0) -> list[str]:
        """The bodies sent to ``number``, once there are ``count`` of them."""
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            sent = [m.body for m in self.twilio.list_messages() if m.to == number]
            if len(sent) >= count or asyncio.get_running_loop().time() > deadline:
                return sent
            await asyncio.sleep(0.1)


@pytest.fixture
async def line(dev_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Line]:
    fake = FakeTwilio(accounts={ACCOUNT: TOKEN})
    async with FakeTwilioServer(fake) as server:
        settings = settings.model_copy(
            update={"api_port": free_port(), "twilio_api_base_url": server.url}
        )
        upgrade(settings.resolved_database_url)
        engine = make_engine(settings.resolved_database_url)
        sessions = make_session_factory(engine)
        shop = create_tenant(sessions, "Text Shop", keyring=TEST_KEYRING)
        configure_channels(
            sessions,
            TEST_KEYRING,
            shop.tenant_id,
            twilio_account_sid=ACCOUNT,
            twilio_auth_token=TOKEN,
            sms_number=SHOP_NUMBER,
        )
        try:
            async with (
                running_workers(dev_env.client, settings),
                serve_api(settings, dev_env.client) as http,
            ):
                yield Line(http, settings, sessions, shop, fake)
        finally:
            engine.dispose()


def _stranger() -> str:
    return f"+1415555{uuid.uuid4().int % 10000:04d}"


async def test_a_text_is_answered_by_text_and_a_duplicate_sid_once(line: Line) -> None:
    number = _stranger()
    sid = "SM" + uuid.uuid4().hex
    r = await line.text(number, "hi there", MessageSid=sid)
    assert r.status_code == 200 and "<Response" in r.text
    [answer] = await line.answers_to(number, 1)
    assert answer.startswith("Text Shop:") and "order" in answer
    [sent] = [m for m in line.twilio.list_messages() if m.to == number]
    assert sent.from_ == SHOP_NUMBER
    again = await line.text(number, "hi there", MessageSid=sid)  # Twilio retried
    assert again.status_code == 200
    await asyncio.sleep(1.5)
    assert len(await line.answers_to(number, 2, wait_s=0)) == 1, "one answer per MessageSid"
    await line.twilio.wait_for_callbacks()
    with line.sessions() as s:
        statuses = s.scalars(
            select(ChannelMessage.status).where(
                ChannelMessage.tenant_id == line.shop.tenant_id,
                ChannelMessage.direction == "out",
                ChannelMessage.address == number,
            )
        ).all()
    assert statuses == ["delivered"], "Twilio's signed status callback was recorded"


async def test_forged_or_unsigned_webhooks_are_refused_and_change_nothing(line: Line) -> None:
    number = _stranger()
    headers, form = signed_inbound(line.url, "0" * 32, {"From": number, "Body": "cancel"})
    assert (await line.http.post(line.url, data=form, headers=headers)).status_code == 403
    unsigned = await line.http.post(line.url, data={"From": number, "Body": "hi"})
    assert unsigned.status_code == 403
    headers, form = signed_inbound(line.url, TOKEN, {"From": number, "Body": "hi"})
    form["Body"] = "cancel my order"  # altered after signing
    assert (await line.http.post(line.url, data=form, headers=headers)).status_code == 403
    other = f"{line.settings.public_url}/v1/channels/twilio/sms/t_nosuchtenant00000"
    headers, form = signed_inbound(other, TOKEN, {"From": number, "Body": "hi"})
    assert (await line.http.post(other, data=form, headers=headers)).status_code == 403
    await asyncio.sleep(1.0)
    assert await line.answers_to(number, 1, wait_s=0) == []
    with line.sessions() as s:
        assert s.scalar(select(ChannelMessage.id).where(ChannelMessage.address == number)) is None


async def test_stop_is_confirmed_once_and_nothing_is_sent_until_start(line: Line) -> None:
    number = _stranger()
    r = await line.text(number, "STOP")
    assert "unsubscribed" in r.text.lower()
    assert "unsubscribed" not in (await line.text(number, "stop")).text.lower()
    await line.text(number, "where is my order")  # kept, not answered
    await asyncio.sleep(2.0)
    assert await line.answers_to(number, 1, wait_s=0) == []
    r = await line.text(number, "START")
    assert "START" not in r.text and "<Message>" in r.text
    await line.text(number, "hello")
    assert len(await line.answers_to(number, 1)) == 1


async def test_a_text_from_the_accounts_phone_is_that_customer(line: Line) -> None:
    """The phone number on the store account verifies the sender: their order's details."""
    phone = demo_phone("noah_brown_6181")
    await line.text(phone, "what's the status of order #W7678072")
    [answer] = await line.answers_to(phone, 1)
    assert "#W7678072" in answer and "code" not in answer.lower(), answer


async def test_pictures_are_recorded_not_read(line: Line) -> None:
    """MMS: the text of a message with a picture is answered; a picture alone is recorded
    and the customer asked to write it in words (nothing goes to the conversation)."""
    number = _stranger()
    media = {"MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/x/Messages/y/Media/z"}
    r = await line.text(number, "", **media, MediaContentType0="image/jpeg")
    assert r.status_code == 200 and "in words" in r.text
    await line.text(number, "hello, here is a photo of the box", **media)
    assert len(await line.answers_to(number, 1)) == 1
    with line.sessions() as s:
        statuses = s.scalars(
            select(ChannelMessage.status).where(
                ChannelMessage.tenant_id == line.shop.tenant_id,
                ChannelMessage.direction == "in",
            )
        ).all()
    assert "ignored:media_only:1" in statuses

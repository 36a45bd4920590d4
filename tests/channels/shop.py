"""A shop with every channel, for end-to-end tests: the real API (uvicorn on loopback), real
workers on the dev server, the inbound SMTP server for the tenant's support address, the
outbound relay (the session's SMTP server, read from its Maildir) and a local server speaking
Twilio's REST wire format (Twilio is a paid service this machine cannot reach; the sending
code is production's, only its base URL differs)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import aiosmtplib
import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from supportflow.channels.email_inbound import TenantMailRouter
from supportflow.channels.ingest import Ingestor
from supportflow.channels.limits import SenderLimiter
from supportflow.channels.sms.fake_twilio import FakeTwilio, FakeTwilioServer, signed_inbound
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.mail.maildir_server import MaildirServer
from supportflow.settings import Settings
from supportflow.tenants.channels import configure_channels
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import TEST_KEYRING, free_port, running_workers, serve_api

ACCOUNT, TOKEN, NUMBER = "AC" + "9" * 32, "d" * 32, "+12025550177"
MAILGUN_KEY = "key-" + "4" * 32


@dataclass
class Shop:
    http: httpx.AsyncClient
    settings: Settings
    sessions: sessionmaker[Session]
    tenant: CreatedTenant
    support_email: str
    smtp: MaildirServer  # inbound, the tenant's support address
    relay: MaildirServer  # outbound: where answers land
    twilio: FakeTwilio

    async def mail(
        self,
        sender: str,
        text: str,
        *,
        subject: str = "Hello",
        reply_to: EmailMessage | None = None,
        headers: dict[str, str] | None = None,
        envelope_from: str | None = None,
    ) -> EmailMessage:
        """Send a customer's mail over SMTP; ``reply_to``: the answer it replies to (In-Reply-To
        and References as a mail client sets them)."""
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = self.support_email
        msg["Subject"] = subject if reply_to is None else f"Re: {subject}"
        msg["Message-ID"] = f"<{uuid.uuid4().hex}@mail.example>"
        if reply_to is not None:
            msg["In-Reply-To"] = reply_to["Message-ID"]
            refs = str(reply_to.get("References", "")).split()
            msg["References"] = " ".join([*refs, str(reply_to["Message-ID"])])
        for name, value in (headers or {}).items():
            msg[name] = value
        msg.set_content(text)
        await aiosmtplib.send(
            msg,
            sender=envelope_from,  # "": the null sender of a bounce
            hostname=self.smtp.host,
            port=self.smtp.port,
            start_tls=False,
        )
        return msg

    def answers_to(self, message_id: str) -> list[EmailMessage]:
        new = self.relay.maildir_dir / "new"
        found = []
        for f in sorted(new.iterdir()) if new.exists() else []:
            msg = BytesParser(policy=policy.default).parsebytes(f.read_bytes())
            assert isinstance(msg, EmailMessage)
            if str(msg.get("In-Reply-To", "")).strip() == message_id:
                found.append(msg)
        return found

    async def answer(self, sent: EmailMessage, wait_s: float = 30.0) -> EmailMessage:
        return await self.answer_by_id(str(sent["Message-ID"]), wait_s)

    async def answer_by_id(self, message_id: str, wait_s: float = 30.0) -> EmailMessage:
        for _ in range(int(wait_s * 20)):
            found = self.answers_to(message_id)
            if found:
                assert len(found) == 1, "one answer per message"
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no answer to {message_id}")

    async def text(self, sender: str, body: str, **extra: str) -> httpx.Response:
        url = f"{self.settings.public_url}/v1/channels/twilio/sms/{self.tenant.tenant_id}"
        headers, form = signed_inbound(
            url, TOKEN, {"From": sender, "To": NUMBER, "Body": body, **extra}
        )
        return await self.http.post(url, data=form, headers=headers)

    async def texts_to(self, number: str, count: int, wait_s: float = 30.0) -> list[str]:
        for _ in range(int(wait_s * 20)):
            sent = [m.body for m in self.twilio.list_messages() if m.to == number]
            if len(sent) >= count:
                return sent
            await asyncio.sleep(0.05)
        return [m.body for m in self.twilio.list_messages() if m.to == number]


def body_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@contextlib.asynccontextmanager
async def open_shop(
    env: WorkflowEnvironment,
    settings: Settings,
    relay: MaildirServer,
    tmp_path: Path,
    **overrides: object,
) -> AsyncIterator[Shop]:
    fake = FakeTwilio(accounts={ACCOUNT: TOKEN})
    async with FakeTwilioServer(fake) as twilio:
        settings = settings.model_copy(
            update={"api_port": free_port(), "twilio_api_base_url": twilio.url, **overrides}
        )
        upgrade(settings.resolved_database_url)
        engine = make_engine(settings.resolved_database_url)
        sessions = make_session_factory(engine)
        tenant = create_tenant(sessions, "Mail Shop", keyring=TEST_KEYRING)
        support = f"support+{tenant.tenant_id}@shop.example"
        configure_channels(
            sessions,
            TEST_KEYRING,
            tenant.tenant_id,
            support_email=support,
            mailgun_signing_key=MAILGUN_KEY,
            twilio_account_sid=ACCOUNT,
            twilio_auth_token=TOKEN,
            sms_number=NUMBER,
        )
        inbound = MaildirServer(
            tmp_path / "mail-in",
            "127.0.0.1",
            free_port(),
            router=TenantMailRouter(
                Ingestor(sessions, env.client, settings), SenderLimiter(settings)
            ),
            max_message_bytes=settings.inbound_mail_max_bytes,
        )
        await inbound.start()
        try:
            async with (
                running_workers(env.client, settings),
                serve_api(settings, env.client) as http,
            ):
                yield Shop(http, settings, sessions, tenant, support, inbound, relay, fake)
        finally:
            await inbound.stop()
            engine.dispose()

"""Kill the worker process (SIGKILL) in the middle of an email's and an SMS's turn: each
inbound message is answered once, on its channel, after another worker takes over.

Messages go in as the channels' doors hand them over (channels/ingest.py: de-duplicated,
signalled with start); the answers are sent by the restarted worker to the real SMTP server
(read from its Maildir) and to a local server speaking Twilio's REST wire format (Twilio is
a paid service this machine cannot reach; the sending code is production's)."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Iterator
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from supportflow.channels.ingest import ChannelMessageIn, Ingestor
from supportflow.channels.sms.fake_twilio import FakeTwilio, FakeTwilioServer
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.mail.maildir_server import MaildirServer
from supportflow.settings import Settings
from supportflow.tenants.channels import configure_channels
from supportflow.tenants.service import create_tenant
from supportflow.workflows.contract import Channel, ReplyRoute, customer_workflow_id
from supportflow.workflows.customer import CustomerWorkflow
from tests.conftest import _run_store
from tests.helpers import TEST_CONVERTER, TEST_KEYRING
from tests.test_crash import _spawn_worker, _workflow_task_started

pytestmark = pytest.mark.slow

ACCOUNT, TOKEN, NUMBER = "AC" + "3" * 32, "c" * 32, "+12025550131"


@pytest.fixture
def admin_store(tmp_path: Path) -> Iterator[str]:
    yield from _run_store(tmp_path / "crash-store.db", admin=True)


def _answers_in(maildir: Path, message_id: str) -> list[str]:
    found = []
    for f in (maildir / "new").iterdir():
        msg = BytesParser().parsebytes(f.read_bytes(), headersonly=True)
        if str(msg.get("In-Reply-To", "")).strip() == message_id:
            found.append(f.name)
    return found


async def _killed_mid_turn(
    settings: Settings,
    env: WorkflowEnvironment,
    store: str,
    log: Path,
    extra: dict[str, str],
    message: ChannelMessageIn,
) -> tuple[str, WorkflowHandle[object, object]]:
    """Deliver ``message`` while the store is slow, SIGKILL the worker mid-turn, start
    another; returns the customer id and the workflow's handle."""
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    ingestor = Ingestor(make_session_factory(engine), env.client, settings)
    async with httpx.AsyncClient(base_url=store) as http:
        assert (await http.post("/admin/faults", json={"latency_ms": 4000})).status_code == 200
        worker = _spawn_worker(settings, env, log, extra)
        try:
            result = await ingestor.deliver(message)
            assert result.status == "delivered" and result.customer_id is not None
            assert (await ingestor.deliver(message)).status == "duplicate"
            handle = env.client.get_workflow_handle(
                customer_workflow_id(message.tenant_id, result.customer_id)
            )
            for _ in range(600):
                await asyncio.sleep(0.05)
                if await _workflow_task_started(handle):
                    break
            else:
                pytest.fail("the worker never started the turn")
            await asyncio.sleep(1.0)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            await http.delete("/admin/faults")
            worker = _spawn_worker(settings, env, log, extra)
            typed = env.client.get_workflow_handle_for(CustomerWorkflow.run, handle.id)
            for _ in range(1200):
                view = await typed.query(CustomerWorkflow.transcript)
                if any(e.role == "agent" and e.delivery for e in view.entries):
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("no answer was sent after the restart")
            await asyncio.sleep(1.0)  # room for a second (wrong) send to show
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
            engine.dispose()
    return result.customer_id, handle


def _tenant(settings: Settings, **channels: str) -> str:
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    try:
        sessions = make_session_factory(engine)
        tenant_id = create_tenant(sessions, "Crash Shop", keyring=TEST_KEYRING).tenant_id
        configure_channels(sessions, TEST_KEYRING, tenant_id, **channels)
        return tenant_id
    finally:
        engine.dispose()


async def _replays(handle: WorkflowHandle[object, object]) -> None:
    history = await handle.fetch_history()
    await Replayer(workflows=[CustomerWorkflow], data_converter=TEST_CONVERTER).replay_workflow(
        history
    )


async def test_an_email_turn_killed_mid_way_is_answered_once(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    admin_store: str,
    smtp_server: MaildirServer,
    tmp_path: Path,
) -> None:
    settings = settings.model_copy(update={"store_url": admin_store})
    tenant_id = _tenant(settings, support_email=f"support+{uuid.uuid4().hex[:6]}@shop.example")
    sender = f"crash-{uuid.uuid4().hex[:8]}@mail.example"
    message_id = f"<{uuid.uuid4().hex}@mail.example>"
    extra = {
        "SUPPORTFLOW_SMTP_HOST": smtp_server.host,
        "SUPPORTFLOW_SMTP_PORT": str(smtp_server.port),
        "SUPPORTFLOW_SMTP_STARTTLS": "false",
    }
    message = ChannelMessageIn(
        tenant_id=tenant_id,
        channel=Channel.EMAIL,
        external_id=message_id,
        address=sender,
        text="where is my order #W2611340",
        route=ReplyRoute(
            channel=Channel.EMAIL, address=sender, subject="my order", message_id=message_id
        ),
    )
    _, handle = await _killed_mid_turn(
        settings, dev_env, admin_store, tmp_path / "worker.log", extra, message
    )
    assert len(_answers_in(smtp_server.maildir_dir, message_id)) == 1
    await _replays(handle)


async def test_an_sms_turn_killed_mid_way_is_answered_once(
    dev_env: WorkflowEnvironment, settings: Settings, admin_store: str, tmp_path: Path
) -> None:
    fake = FakeTwilio(accounts={ACCOUNT: TOKEN}, status_callbacks=False)
    async with FakeTwilioServer(fake) as twilio:
        settings = settings.model_copy(
            update={"store_url": admin_store, "twilio_api_base_url": twilio.url}
        )
        tenant_id = _tenant(
            settings, twilio_account_sid=ACCOUNT, twilio_auth_token=TOKEN, sms_number=NUMBER
        )
        phone = f"+1720555{uuid.uuid4().int % 10000:04d}"
        extra = {"SUPPORTFLOW_TWILIO_API_BASE_URL": twilio.url}
        message = ChannelMessageIn(
            tenant_id=tenant_id,
            channel=Channel.SMS,
            external_id="SM" + uuid.uuid4().hex,
            address=phone,
            text="where is my order #W2611340",
            route=ReplyRoute(channel=Channel.SMS, address=phone, ours=NUMBER),
        )
        _, handle = await _killed_mid_turn(
            settings, dev_env, admin_store, tmp_path / "worker.log", extra, message
        )
        assert len([m for m in fake.list_messages() if m.to == phone]) == 1
    await _replays(handle)

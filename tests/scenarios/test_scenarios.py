"""The scenario suite: scripted multi-turn conversations with the real CustomerWorkflow on
the dev server, the default understanding engine and a demo store of its own; each checks
the replies and, above all, the store's final state over HTTP.

Customers are verified as the API verifies them: most by a signed identity token on every
message; a few, anonymous, by the one-time code the agent mails to the email they type (read
back from the session's real SMTP server)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from supportflow.channels.inbound import deliver
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.mail.maildir_server import MaildirServer
from supportflow.settings import Settings
from supportflow.tenants.service import create_tenant
from supportflow.workflows.contract import Channel, ChannelIdentity, InboundMessage
from tests.conftest import _run_store
from tests.helpers import TEST_ENCRYPTION_KEYS, TEST_KEYRING, read_code, running_workers, verified
from tests.scenarios.catalogue import SCENARIOS
from tests.scenarios.model import CODE, Doc, Scenario, State


@pytest.fixture(scope="module")
def scenario_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A store for this suite only: the session's store is shared with other tests."""
    yield from _run_store(tmp_path_factory.mktemp("scenario-store") / "store.db")


@dataclass(frozen=True)
class Suite:
    env: WorkflowEnvironment
    settings: Settings
    tenant_id: str
    smtp: MaildirServer


def _tenant(settings: Settings) -> str:
    """A real tenant in the workers' app database: one-time codes are kept per tenant."""
    url = settings.resolved_database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        created = create_tenant(make_session_factory(engine), "Scenario Shop", keyring=TEST_KEYRING)
        return created.tenant_id
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
async def suite(
    dev_env: WorkflowEnvironment,
    scenario_store: str,
    smtp_server: MaildirServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Suite]:
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("scenario-data"),
        store_url=scenario_store,
        task_queue_agents=f"agents-{tag}",
        task_queue_ai=f"ai-{tag}",
        task_queue_integrations=f"integrations-{tag}",
        model="local",
        # The suite's tenant has no store connection: the operator's opt-in to the demo store.
        demo_store_tenants="*",
        # The key the dev server's client encrypts with (tests/helpers.py).
        encryption_keys=SecretStr(TEST_ENCRYPTION_KEYS),
        # Sign-in codes go to the session's SMTP server, whose Maildir the codes are read from.
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_starttls=False,
    )
    tenant_id = await asyncio.to_thread(_tenant, settings)
    async with running_workers(dev_env.client, settings):
        yield Suite(dev_env, settings, tenant_id, smtp_server)


async def _read(http: httpx.AsyncClient, path: str) -> Doc | None:
    r = await http.get(path)
    if r.status_code == 404:
        return None
    r.raise_for_status()
    doc: Doc = r.json()
    return doc


async def _state(settings: Settings, s: Scenario) -> State:
    async with httpx.AsyncClient(base_url=settings.resolved_store_url) as http:
        r = await http.get("/users", params={"email": s.email})
        r.raise_for_status()
        (user,) = r.json()["users"]
        orders: dict[str, Doc] = {}
        products: dict[str, Doc] = {}
        for order_id in s.orders:
            order = await _read(http, f"/orders/{order_id.replace('#', '%23')}")
            if order is None:
                continue  # a wrong order number the customer gives: it must stay unknown
            orders[order_id] = order
            for item in order["items"]:
                if item["product_id"] not in products:
                    product = await _read(http, f"/products/{item['product_id']}")
                    assert product is not None
                    products[item["product_id"]] = product
        return State(user=user, orders=orders, products=products)


async def _converse(suite: Suite, s: Scenario) -> list[tuple[str, str]]:
    customer = "c_" + uuid.uuid4().hex[:16]
    transcript: list[tuple[str, str]] = []
    for n, (said, expected) in enumerate(s.turns):
        # The code the agent mailed, as the customer copies it from their inbox.
        text = read_code(suite.smtp.maildir_dir, s.email) if said == CODE else said
        message = InboundMessage(
            message_id=uuid.uuid4().hex,
            channel=Channel.CHAT,
            text=text,
            sender=ChannelIdentity(kind="chat", value="v-" + customer),
            # As the API passes on a valid identity token: on every message, as widgets send.
            verified=verified(s.email) if s.token else None,
        )
        delivered = await deliver(
            suite.env.client, suite.settings, suite.tenant_id, customer, message, wait_seconds=60
        )
        assert delivered.reply is not None, f"no reply to {text!r}"
        reply = delivered.reply.text
        transcript.append((text, reply))
        missing = [e for e in expected or () if e.lower() not in reply.lower()]
        assert not missing, f"turn {n + 1}: reply lacks {missing}\n" + _show(transcript)
    return transcript


def _show(transcript: list[tuple[str, str]]) -> str:
    return "\n".join(f"  customer: {c}\n  agent:    {a}" for c, a in transcript)


def _param(s: Scenario) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=s.xfail)] if s.xfail else []
    return pytest.param(s, id=s.name, marks=marks)


@pytest.mark.parametrize("scenario", [_param(s) for s in SCENARIOS])
async def test_scenario(suite: Suite, scenario: Scenario) -> None:
    before = await _state(suite.settings, scenario)
    transcript = await _converse(suite, scenario)
    after = await _state(suite.settings, scenario)
    try:
        scenario.check(before, after)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{_show(transcript)}") from None


def test_the_catalogue_is_isolated_and_covers_every_procedure() -> None:
    names = Counter(s.name for s in SCENARIOS)
    users = Counter(s.email for s in SCENARIOS)
    orders = Counter(o for s in SCENARIOS for o in s.orders)
    assert [n for n, k in names.items() if k > 1] == []
    assert [u for u, k in users.items() if k > 1] == [], "one customer per scenario"
    assert [o for o, k in orders.items() if k > 1] == [], "one scenario per order"
    assert len(SCENARIOS) >= 40
    # A code is typed only by a visitor without a token, and such a visitor types one.
    codes = {s.name for s in SCENARIOS if any(text == CODE for text, _ in s.turns)}
    assert codes == {s.name for s in SCENARIOS if not s.token}
    assert len(codes) >= 2
    procedures = {s.procedure for s in SCENARIOS}
    assert procedures >= {
        "cancel",
        "modify_address",
        "modify_payment",
        "modify_items",
        "return",
        "exchange",
        "user_address",
        "refund_status",
        "order_status",
        "several",
    }

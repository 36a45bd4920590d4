"""The scenario suite: scripted multi-turn conversations with the real CustomerWorkflow on
the dev server, the default understanding engine and a demo store of its own; each checks
the replies and, above all, the store's final state over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from supportflow.channels.inbound import deliver
from supportflow.settings import Settings
from supportflow.worker import build_workers
from supportflow.workflows.contract import Channel, ChannelIdentity, InboundMessage
from tests.conftest import _run_store
from tests.scenarios.catalogue import SCENARIOS
from tests.scenarios.model import Doc, Scenario, State

TENANT = "t_scenarios"


@pytest.fixture(scope="module")
def scenario_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A store for this suite only: the session's store is shared with other tests."""
    yield from _run_store(tmp_path_factory.mktemp("scenario-store") / "store.db")


@dataclass(frozen=True)
class Suite:
    env: WorkflowEnvironment
    settings: Settings


@pytest.fixture(scope="module")
async def suite(
    dev_env: WorkflowEnvironment, scenario_store: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Suite]:
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("scenario-data"),
        store_url=scenario_store,
        task_queue_agents=f"agents-{tag}",
        task_queue_ai=f"ai-{tag}",
        task_queue_integrations=f"integrations-{tag}",
        model="local",
    )
    async with build_workers(dev_env.client, settings) as workers:
        tasks = [asyncio.create_task(w.run()) for w in workers]
        yield Suite(dev_env, settings)
        for w in workers:
            await w.shutdown()
        await asyncio.gather(*tasks)


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
    for n, (text, expected) in enumerate(s.turns):
        message = InboundMessage(
            message_id=uuid.uuid4().hex,
            channel=Channel.CHAT,
            text=text,
            sender=ChannelIdentity(kind="chat", value="v-" + customer),
            email=s.email if s.email_in_payload and n == 0 else None,
        )
        delivered = await deliver(
            suite.env.client, suite.settings, TENANT, customer, message, wait_seconds=60
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

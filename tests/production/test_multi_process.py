"""Two `supportflow worker` and two `supportflow api` processes against one Temporal server,
with Postgres as the app database, serving the simulator's customers through a round-robin
balancer while one worker and one API are SIGKILLed (issue 15 items 2 and 6).

What the product promises with several processes: every customer message answered exactly
once, no store action applied twice, every outcome right in the store's final state, every
history replays; and a conversation started through one API process goes on through another
(the API keeps no conversation state of its own: lookups go to Postgres and Temporal).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from supportflow.chaos.checks import (
    answered_once,
    fetch_transcripts,
    no_doubled_actions,
    read_store,
    sagas_settled,
    settle,
    store_invariants,
    workflow_id_of,
)
from supportflow.demo_store.invariants import applied_writes
from supportflow.demo_store.repository import Doc
from supportflow.demo_store.seeding import load_seed
from supportflow.identity.tokens import sign_identity_token
from supportflow.sim import WITH_ACTIONS, SimOptions, SimResult, Target, simulate
from supportflow.worker import workflows
from tests.conftest import _postgres_url, _run_store
from tests.helpers import free_port, fresh_postgres_database
from tests.production.balancer import RoundRobin, round_robin
from tests.production.fleet import Fleet, demo_tenant, fleet_settings, running_fleet, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CONVERSATIONS = 24
CONCURRENCY = 8
# Answered chat messages (through the balancer) before each kill: well into the run (of
# about 3 messages a conversation).
KILL_WORKER_AFTER = 12
KILL_API_AFTER = 30
REPLY_TIMEOUT_S = 150.0


@pytest.fixture
def app_database() -> Iterator[str]:
    """A fresh Postgres database for the app (as tests/conftest.py's ``database_url``)."""
    base = _postgres_url()
    if base is None:
        pytest.skip("Postgres tests need SUPPORTFLOW_TEST_POSTGRES_URL (.ci/run sets it)")
    with fresh_postgres_database(base) as url:
        yield url


@pytest.fixture
def own_store(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The demo store of this test alone (admin routes on, for its invariants): its URL and
    its database, whose write log tells whether an action was applied twice."""
    db = tmp_path / "store.db"
    with contextlib.contextmanager(_run_store)(db, admin=True) as url:
        yield url, db


DIRECT_EMAIL = "james.li4495@example.com"  # a customer of the demo store's seed


@dataclass
class Direct:
    """One conversation the test holds itself, API by API."""

    fleet: Fleet
    keys: dict[str, str]
    visitor: str = field(default_factory=lambda: "mp-" + uuid.uuid4().hex[:8])

    async def say(self, port: int, message_id: str, words: str) -> dict[str, str]:
        token = sign_identity_token(self.keys["identity_secret"], email=DIRECT_EMAIL)
        async with httpx.AsyncClient(timeout=60) as http:
            r = await http.post(
                f"{self.fleet.api_url(port)}/v1/chat/messages",
                headers={"X-Chat-Key": self.keys["chat_key"]},
                json={
                    "visitor_id": self.visitor,
                    "message_id": message_id,
                    "text": words,
                    "identity_token": token,
                },
            )
        assert r.status_code == 200, r.text
        answer: dict[str, str] = r.json()
        return answer

    async def reply_to(self, port: int, message_id: str) -> str:
        async with httpx.AsyncClient(timeout=60) as http:
            r = await http.get(
                f"{self.fleet.api_url(port)}/v1/chat/messages/{message_id}",
                params={"visitor_id": self.visitor},
                headers={"X-Chat-Key": self.keys["chat_key"]},
            )
        assert r.status_code == 200, r.text
        return str(r.json()["reply"])

    async def message_ids(self, port: int, customer_id: str) -> list[str]:
        """This conversation's entries in the customer's transcript (the simulator may speak
        as the same customer from visitors of its own)."""
        async with httpx.AsyncClient(timeout=60) as http:
            r = await http.get(
                f"{self.fleet.api_url(port)}/v1/customers/{customer_id}/transcript",
                headers={"X-Api-Key": self.keys["api_key"]},
            )
        assert r.status_code == 200, r.text
        return [e["message_id"] for e in r.json()["entries"] if e["message_id"].startswith("mp-")]


async def _one_conversation_through_both(
    fleet: Fleet, ports: list[int], keys: dict[str, str]
) -> tuple[Direct, str]:
    """A conversation started through API 0 goes on through API 1: the same customer, one
    transcript; the first message's reply is found through API 1 too."""
    talk = Direct(fleet, keys)
    first = await talk.say(ports[0], "mp-1", "where is my order #W2611340")
    second = await talk.say(ports[1], "mp-2", "thanks!")
    assert "357962501027" in first["reply"]
    customer_id = first["customer_id"]
    assert second["customer_id"] == customer_id
    assert await talk.reply_to(ports[1], "mp-1") == first["reply"]
    assert await talk.message_ids(ports[0], customer_id) == ["mp-1", "mp-1", "mp-2", "mp-2"]
    return talk, customer_id


async def _continue_through(port: int, talk: Direct, customer_id: str) -> None:
    """The same conversation goes on through a process started after it began."""
    third = await talk.say(port, "mp-3", "where is my order #W2611340 again?")
    assert third["customer_id"] == customer_id and "357962501027" in third["reply"]
    ids = await talk.message_ids(port, customer_id)
    assert ids == ["mp-1", "mp-1", "mp-2", "mp-2", "mp-3", "mp-3"]


@dataclass
class Kills:
    worker_at: int = -1  # answered messages when the worker was killed
    api_at: int = -1  # ... and the API


async def _break_on_the_way(
    fleet: Fleet, balancer: RoundRobin, sim: asyncio.Task[SimResult], ports: list[int]
) -> Kills:
    """SIGKILL worker 0 and, later, API 0 while the simulation runs; a new worker and a new
    API (on API 0's port, back behind the balancer) are started after each."""
    kills = Kills()

    def answered() -> int:
        return balancer.served.answered

    await until(lambda: answered() >= KILL_WORKER_AFTER or sim.done(), "first answers", 240)
    assert not sim.done(), "the simulation ended before the worker could be killed"
    kills.worker_at = answered()
    fleet.kill(fleet.workers[0])
    new_worker = fleet.start_worker()
    await until(lambda: answered() >= KILL_API_AFTER or sim.done(), "more answers", 240)
    assert not sim.done(), "the simulation ended before the API could be killed"
    kills.api_at = answered()
    fleet.kill(fleet.apis[0])
    new_api = fleet.start_api(ports[0])
    await fleet.wait_polling([new_worker, fleet.workers[1]])
    await fleet.wait_healthy(ports[0], new_api)
    return kills


async def _replays(client: Client, task_queue: str) -> tuple[int, list[str]]:
    """Every run of this test's customer workflows replays against the workflow code."""
    replayer = Replayer(workflows=workflows(), data_converter=client.data_converter)
    listing = client.list_workflows(
        f"WorkflowType = 'CustomerWorkflow' AND TaskQueue = '{task_queue}'"
    )
    runs, failures = 0, []
    async with replayer.workflow_replay_iterator(listing.map_histories()) as results:
        async for result in results:
            runs += 1
            if result.replay_failure is not None:
                failures.append(f"{result.history.workflow_id}: {result.replay_failure}")
    return runs, failures


async def test_two_workers_two_apis_survive_a_kill_of_each(
    tmp_path: Path, dev_env: WorkflowEnvironment, app_database: str, own_store: tuple[str, Path]
) -> None:
    store_url, store_db = own_store
    address = dev_env.client.service_client.config.target_host
    settings = fleet_settings(tmp_path, app_database, store_url, address)
    keys = await asyncio.to_thread(demo_tenant, settings)
    ports = [free_port(), free_port()]
    async with running_fleet(settings, dev_env.client, tmp_path / "logs") as fleet:
        workers = [fleet.start_worker(), fleet.start_worker()]
        apis = [fleet.start_api(port) for port in ports]
        await fleet.wait_polling(workers)
        for port, proc in zip(ports, apis, strict=True):
            await fleet.wait_healthy(port, proc)
        talk, customer_id = await _one_conversation_through_both(fleet, ports, keys)

        async with round_robin([fleet.api_url(p) for p in ports]) as (url, balancer):
            target = Target(
                api_url=url,
                chat_key=keys["chat_key"],
                api_key=keys["api_key"],
                store_url=store_url,
                temporal_address=address,
                identity_secret=keys["identity_secret"],
            )
            options = SimOptions(
                customers=CONVERSATIONS,
                concurrency=CONCURRENCY,
                seed=15,
                reply_timeout_s=REPLY_TIMEOUT_S,
                behaviours=WITH_ACTIONS,
            )
            sim = asyncio.create_task(simulate(target, options, progress=False))
            try:
                kills = await _break_on_the_way(fleet, balancer, sim, ports)
                result = await sim
            finally:
                if not sim.done():
                    sim.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sim
            served = balancer.served

        # What the simulator saw: every message answered, every outcome right in the
        # store's final state, the store's invariants.
        assert len(result.conversations) == CONVERSATIONS
        wrong = [
            (c.visitor_id, c.behaviour, c.outcome_detail, [m.error for m in c.messages])
            for c in result.conversations
            if c.lost or c.outcome_ok is not True
        ]
        assert not wrong, (wrong, tmp_path / "logs")
        assert result.passed, result.invariant_violations

        # What the systems of record say (the chaos run's checks).
        client = dev_env.client
        tenant_id = keys["tenant_id"]
        ids = [i for c in result.conversations if (i := workflow_id_of(c, tenant_id))]
        assert len(ids) == CONVERSATIONS
        assert await settle(client, ids, 60) == 0
        for conv in result.conversations:
            conv.workflow_id = workflow_id_of(conv, tenant_id)
        transcripts = await fetch_transcripts(client, ids)
        events = await asyncio.to_thread(applied_writes, store_db)
        orders, held = await asyncio.to_thread(read_store, store_db)
        seed_orders: dict[str, Doc] = (await asyncio.to_thread(load_seed))["orders"]
        checks = [
            answered_once(result.conversations, transcripts),
            no_doubled_actions(events),
            sagas_settled(result.conversations, events, orders, held, seed_orders),
            await asyncio.to_thread(store_invariants, store_db),
        ]
        failed = {c.name: (c.summary, c.problems[:10]) for c in checks if not c.ok}
        assert not failed, failed
        once = checks[0].figures
        assert once["messages"] >= 2 * CONVERSATIONS and once["answered"] == once["messages"]
        assert checks[1].figures["store_writes"] > 0, "no store action was taken"
        runs, failures = await _replays(client, settings.task_queue_agents)
        assert runs >= CONVERSATIONS and not failures, failures

        # The breakage happened mid-run, and conversations went on through both APIs.
        assert KILL_WORKER_AFTER <= kills.worker_at < kills.api_at < once["messages"]
        sim_visitors = {c.visitor_id for c in result.conversations}
        both = [v for v in sim_visitors if len(served.chat_backends[v]) == 2]
        assert len(both) >= CONVERSATIONS // 4, dict(served.chat_backends)
        assert all(served.requests[fleet.api_url(p)] > 0 for p in ports), served.requests
        # The conversation begun through the killed API 0 goes on through its replacement.
        await _continue_through(ports[0], talk, customer_id)

        # Asked to stop (SIGTERM), every process drains and exits 0 within the grace period
        # (tests/production/test_graceful_stop.py stops one of each with a request in flight).
        codes = await fleet.stop()
        assert codes == {"api": [0, 0], "worker": [0, 0]}, (codes, tmp_path / "logs")

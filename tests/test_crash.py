"""Kill the worker process (SIGKILL) in the middle of a turn, start another, and check the
conversation goes on with nothing lost and nothing answered twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from supportflow.channels.inbound import deliver
from supportflow.settings import Settings
from supportflow.workflows.contract import (
    Channel,
    ChannelIdentity,
    InboundMessage,
    customer_workflow_id,
)
from supportflow.workflows.customer import CustomerWorkflow
from tests.conftest import _run_store
from tests.helpers import (
    SUPPORTFLOW,
    TEST_CONVERTER,
    TEST_ENCRYPTION_KEYS,
    running_workers,
    verified,
)

pytestmark = pytest.mark.slow

JAMES = "james.li4495@example.com"


@pytest.fixture
def admin_store(tmp_path: Path) -> Iterator[str]:
    yield from _run_store(tmp_path / "crash-store.db", admin=True)


def _spawn_worker(
    settings: Settings,
    env: WorkflowEnvironment,
    log: Path,
    extra: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    config = env.client.service_client.config
    environ = {
        **os.environ,
        "SUPPORTFLOW_TEMPORAL_ADDRESS": config.target_host,
        "SUPPORTFLOW_STORE_URL": settings.resolved_store_url,
        "SUPPORTFLOW_TASK_QUEUE_AGENTS": settings.task_queue_agents,
        "SUPPORTFLOW_TASK_QUEUE_AI": settings.task_queue_ai,
        "SUPPORTFLOW_TASK_QUEUE_INTEGRATIONS": settings.task_queue_integrations,
        "SUPPORTFLOW_MODEL": settings.model,
        "SUPPORTFLOW_DATA_DIR": str(settings.data_dir),
        # The key the test server's client encrypts with: the worker must read its payloads.
        "SUPPORTFLOW_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
        # Literal tenant ids with no store connection, on the test's demo store (as the
        # settings fixture's opt-in).
        "SUPPORTFLOW_DEMO_STORE_TENANTS": settings.demo_store_tenants,
        **(extra or {}),
    }
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([SUPPORTFLOW, "worker"], env=environ, stdout=out, stderr=out)


async def _workflow_task_started(handle: WorkflowHandle[object, object]) -> bool:
    async for e in handle.fetch_history_events():
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            return True
    return False


def _message(text: str, message_id: str, email: str) -> InboundMessage:
    """A message from the customer with this email, verified (a signed identity token)."""
    return InboundMessage(
        message_id=message_id,
        channel=Channel.CHAT,
        text=text,
        sender=ChannelIdentity(kind="chat", value="v-crash"),
        verified=verified(email),
    )


async def test_worker_killed_mid_turn_loses_nothing_and_answers_once(
    dev_env: WorkflowEnvironment, settings: Settings, admin_store: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"store_url": admin_store})
    client: Client = dev_env.client
    log = tmp_path / "worker.log"
    customer = "c_" + uuid.uuid4().hex[:16]
    wf_id = customer_workflow_id("t_crash", customer)
    async with httpx.AsyncClient(base_url=admin_store) as store:
        # A slow store keeps the turn's store reads (local activities, inside the workflow
        # task) in flight while we kill the worker.
        r = await store.post("/admin/faults", json={"latency_ms": 4000})
        assert r.status_code == 200, r.text
        worker = _spawn_worker(settings, dev_env, log)
        try:
            m1 = _message("where is my order #W2611340", "m-1", JAMES)
            turn = asyncio.create_task(
                deliver(client, settings, "t_crash", customer, m1, wait_seconds=120)
            )
            handle = client.get_workflow_handle(wf_id)
            # Wait until the worker runs the turn's workflow task; understanding takes a few
            # milliseconds, so a second later the turn waits on the slow store.
            for _ in range(600):
                await asyncio.sleep(0.05)
                try:
                    if await _workflow_task_started(handle):
                        break
                except Exception:  # the workflow may not exist yet
                    continue
            else:
                pytest.fail("the worker never started the turn")
            await asyncio.sleep(1.0)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            assert not turn.done()
            await store.delete("/admin/faults")
            worker = _spawn_worker(settings, dev_env, log)

            first = await asyncio.wait_for(turn, 120)
            assert first.status == "answered" and first.reply is not None
            assert "357962501027" in first.reply.text

            m2 = _message("thanks!", "m-2", JAMES)
            second = await deliver(client, settings, "t_crash", customer, m2, wait_seconds=60)
            again = await deliver(client, settings, "t_crash", customer, m1, wait_seconds=60)
            assert second.reply is not None and not second.reply.duplicate
            assert again.reply is not None and again.reply.duplicate
            assert again.reply.text == first.reply.text

            typed = client.get_workflow_handle_for(CustomerWorkflow.run, wf_id)
            view = await typed.query(CustomerWorkflow.transcript)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)

    assert view.turns == 2
    roles = [(e.message_id, e.role) for e in view.entries]
    assert roles == [("m-1", "customer"), ("m-1", "agent"), ("m-2", "customer"), ("m-2", "agent")]
    # The history written across the crash replays deterministically.
    history = await client.get_workflow_handle(wf_id).fetch_history()
    replayer = Replayer(workflows=[CustomerWorkflow], data_converter=TEST_CONVERTER)
    await replayer.replay_workflow(history)


async def test_a_turn_slower_than_its_workflow_task_replays(
    dev_env: WorkflowEnvironment, settings: Settings, admin_store: str
) -> None:
    """A turn whose store reads outlast 80% of the workflow task timeout makes the worker
    heartbeat the task in mid-turn: the turn's local activities land in different workflow
    tasks, and the history must still replay."""
    settings = settings.model_copy(update={"store_url": admin_store})
    customer = "c_" + uuid.uuid4().hex[:16]
    wf_id = customer_workflow_id("t_slow", customer)
    async with (
        httpx.AsyncClient(base_url=admin_store) as store,
        running_workers(dev_env.client, settings),
    ):
        try:
            # Each store call takes 2.5 s: identifying the customer (one call), then the
            # case's facts (user, order, products at once) pass the task's 8 s heartbeat, while
            # each read stays within its own 10 s timeout.
            r = await store.post("/admin/faults", json={"latency_ms": 2500})
            assert r.status_code == 200, r.text
            ask = _message(
                "I want to cancel my order #W5918442", "s-1", "sofia.rossi2645@example.com"
            )
            slow = await deliver(dev_env.client, settings, "t_slow", customer, ask, wait_seconds=60)
            assert slow.reply is not None and "why" in slow.reply.text.lower()
        finally:
            await store.delete("/admin/faults")
    history = await dev_env.client.get_workflow_handle(wf_id).fetch_history()
    tasks_with_markers = {
        e.marker_recorded_event_attributes.workflow_task_completed_event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    }
    assert len(tasks_with_markers) >= 2, "the slow turn should have heartbeated its task"
    replayer = Replayer(workflows=[CustomerWorkflow], data_converter=TEST_CONVERTER)
    await replayer.replay_workflow(history)

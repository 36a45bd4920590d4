"""Record CustomerWorkflow histories for the replay test.

Run when a workflow change is made *on purpose* compatible with old histories, to add a new
recording beside the old ones (never replace the old ones: they are what proves
compatibility):  .venv/bin/python -m tests.record_histories
It starts a dev server, the demo store and workers, runs scripted conversations, and writes
each history to tests/histories/<name>.json.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from supportflow.channels.inbound import deliver
from supportflow.settings import Settings
from supportflow.worker import build_workers
from supportflow.workflows.contract import (
    Channel,
    ChannelIdentity,
    InboundMessage,
    customer_workflow_id,
)
from tests.conftest import _run_store
from tests.helpers import TEMPORAL_CLI, free_port
from tests.test_procedures_workflow import tenant_with_policy

HERE = Path(__file__).parent / "histories"
# Bump when recording after a workflow change; older recordings stay and must still replay.
VERSION = "v5"

# Enough turns to cross a continue-as-new threshold of 100 events.
LONG = [("hi", None), ("where is my order #W2611340", "james.li4495@example.com")] + [
    (f"thanks {i}", None) for i in range(14)
]

SCRIPTS: dict[str, list[tuple[str, str | None]]] = {
    "cancel_saga": [
        ("I want to cancel my order #W5918442", "sofia.rossi2645@example.com"),
        ("I no longer need it", None),
        ("yes, please cancel it", None),
        ("please cancel order #W2631563 too, ordered it by mistake", None),
        ("no, actually keep it", None),
        ("which payment methods do you accept?", None),
        ("tell me a joke", None),
        ("thanks", None),
    ],
    "continue_as_new": LONG,
    "order_status": [
        ("hi", None),
        ("where is my order #W2611340", None),
        ("james.li4495@example.com", None),
        ("thanks!", None),
        ("where is my order #W2611340", "noah.brown7922@example.com"),
        ("I want to cancel my order", None),
        ("let me talk to a human", None),
    ],
}


# A tenant whose cases wait 2 seconds for an answer: an answer moves the deadline on, then
# silence closes the case (the confirmation timer's fire, rest and timeout all recorded).
TIMEOUT_POLICY = {"confirmation_timeout": 2}
TIMEOUT_SCRIPT: list[tuple[str, str | None]] = [
    ("I want to cancel my order #W3361211", "aarav.lee6460@example.com"),
    ("~1.5", None),
    ("I no longer need it", None),
    ("~3.5", None),
    ("yes, cancel it", None),
]


async def record_conversation(
    client: Client,
    settings: Settings,
    script: list[tuple[str, str | None]],
    tenant_id: str = "t_record",
) -> str:
    customer = "c_" + uuid.uuid4().hex[:16]
    message_ids = []
    for text, email in script:
        if text.startswith("~"):  # a pause, in seconds
            await asyncio.sleep(float(text[1:]))
            continue
        mid = uuid.uuid4().hex
        message_ids.append(mid)
        m = InboundMessage(
            message_id=mid,
            channel=Channel.CHAT,
            text=text,
            sender=ChannelIdentity(kind="chat", value="v-record"),
            email=email,
        )
        await deliver(client, settings, tenant_id, customer, m, wait_seconds=60)
    # A duplicate delivery is part of every recording: de-duplication must replay too.
    dup = InboundMessage(
        message_id=message_ids[0],
        channel=Channel.CHAT,
        text=script[0][0],
        sender=ChannelIdentity(kind="chat", value="v-record"),
    )
    await deliver(client, settings, tenant_id, customer, dup, wait_seconds=60)
    return customer_workflow_id(tenant_id, customer)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = _run_store(Path(tmp) / "store.db")
        store_url = next(store)
        env = await WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter,
            dev_server_existing_path=TEMPORAL_CLI,
            port=free_port(),
        )
        settings = Settings(
            data_dir=Path(tmp), store_url=store_url, model="local", continue_as_new_events=100
        )
        async with env, build_workers(env.client, settings) as workers:
            tasks = [asyncio.create_task(w.run()) for w in workers]
            timeout_tenant = tenant_with_policy(settings, "Quick Shop", TIMEOUT_POLICY)
            runs = [(name, script, "t_record") for name, script in SCRIPTS.items()]
            runs.append(("case_timeout", TIMEOUT_SCRIPT, timeout_tenant))
            for name, script, tenant_id in runs:
                wf_id = await record_conversation(env.client, settings, script, tenant_id)
                # Every run of the chain: a continue-as-new run must replay as well as the last.
                async for run in env.client.list_workflows(f"WorkflowId = '{wf_id}'"):
                    history = await env.client.get_workflow_handle(
                        wf_id, run_id=run.run_id
                    ).fetch_history()
                    out = HERE / f"{name}-{VERSION}-run{len(history.events):04d}.json"
                    out.write_text(history.to_json(), "utf-8")
            for w in workers:
                await w.shutdown()
            await asyncio.gather(*tasks)
        next(store, None)


if __name__ == "__main__":
    asyncio.run(main())

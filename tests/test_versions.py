"""How CustomerWorkflow's versions live side by side (docs/versioning.md): a new run records one
patch marker, and an old run can be moved onto the newest version on request."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from supportflow.channels.inbound import deliver
from supportflow.cli.main import app
from supportflow.settings import Settings
from supportflow.temporal.upgrade import UpgradeReport, upgrade_conversations
from supportflow.workflows.contract import customer_workflow_id
from supportflow.workflows.customer import CustomerWorkflow
from supportflow.workflows.versions import PATCHES
from tests.helpers import running_workers
from tests.test_customer_workflow import JAMES, msg

NEWEST = PATCHES[-1]


async def test_a_new_run_records_only_the_newest_patch(
    workflow_env: WorkflowEnvironment, settings: Settings, running: None
) -> None:
    customer = "c_" + uuid.uuid4().hex[:16]
    d = await deliver(
        workflow_env.client, settings, "t_test", customer, msg("hi", email=JAMES), wait_seconds=30
    )
    assert d.status == "answered"
    handle = workflow_env.client.get_workflow_handle(customer_workflow_id("t_test", customer))
    history = await handle.fetch_history()
    markers = [
        e.marker_recorded_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    recorded = [json.loads(m.details["patch-data"].payloads[0].data)["id"] for m in markers]
    assert recorded == [NEWEST]


async def test_an_upgrade_request_continues_the_conversation_in_a_new_run(
    workflow_env: WorkflowEnvironment, settings: Settings, running: None
) -> None:
    customer = "c_" + uuid.uuid4().hex[:16]
    first = await deliver(
        workflow_env.client,
        settings,
        "t_test",
        customer,
        msg("where is my order #W2611340", email=JAMES),
        wait_seconds=30,
    )
    assert first.reply is not None and "processed" in first.reply.text
    wf_id = customer_workflow_id("t_test", customer)
    old = await workflow_env.client.get_workflow_handle(wf_id).describe()
    await workflow_env.client.get_workflow_handle(wf_id).signal(CustomerWorkflow.request_upgrade)
    for _ in range(100):
        now = await workflow_env.client.get_workflow_handle(wf_id).describe()
        if now.run_id != old.run_id:
            break
        await asyncio.sleep(0.1)
    assert now.run_id != old.run_id, "the run did not continue as new"
    view = await workflow_env.client.get_workflow_handle_for(CustomerWorkflow.run, wf_id).query(
        CustomerWorkflow.transcript
    )
    # Runs count from 1: this is the second, with the conversation carried over whole.
    assert view.runs == 2 and view.turns == 1 and len(view.entries) == 2
    again = await deliver(
        workflow_env.client,
        settings,
        "t_test",
        customer,
        msg("thanks", email=JAMES),
        wait_seconds=30,
    )
    assert again.status == "answered"


async def test_upgrade_conversations_signals_only_runs_on_older_versions(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    # The dev server: visibility (list by search attribute) is what this uses.
    customer = "c_" + uuid.uuid4().hex[:16]
    async with running_workers(dev_env.client, settings):
        d = await deliver(
            dev_env.client, settings, "t_test", customer, msg("hi", email=JAMES), wait_seconds=30
        )
        assert d.status == "answered"
        await _moves_on_only_when_older(dev_env, customer)


async def _moves_on_only_when_older(dev_env: WorkflowEnvironment, customer: str) -> None:
    wf_id = customer_workflow_id("t_test", customer)
    first = await dev_env.client.get_workflow_handle(wf_id).describe()

    async def listed() -> UpgradeReport:
        # Visibility is eventually consistent: wait until the run shows with its patch.
        for _ in range(100):
            report = await upgrade_conversations(dev_env.client, dry_run=True, workflow_id=wf_id)
            if report.by_version.get(NEWEST):
                return report
            await asyncio.sleep(0.1)
        raise AssertionError("the conversation never appeared in visibility")

    # On the current version: counted, not older, nothing signalled.
    report = await listed()
    # (Scoped to this run: other tests leave conversations open on the shared server.)
    assert report.older == 0 and report.open == 1
    # The tenant's listing holds it too; a bad tenant id is refused before any query.
    by_tenant = await upgrade_conversations(dev_env.client, dry_run=True, tenant="t_test")
    assert by_tenant.open >= 1 and by_tenant.by_version.get(NEWEST, 0) >= 1
    with pytest.raises(ValueError):
        await upgrade_conversations(dev_env.client, dry_run=True, tenant="t' OR 'x'='x")
    # Were a newer generation current, this run would be older: it is signalled and moves on.
    moved = await upgrade_conversations(dev_env.client, current="future-v9", workflow_id=wf_id)
    assert moved.signalled == 1 and moved.older == moved.signalled + moved.gone
    for _ in range(100):
        now = await dev_env.client.get_workflow_handle(wf_id).describe()
        if now.run_id != first.run_id:
            break
        await asyncio.sleep(0.1)
    assert now.run_id != first.run_id


def test_the_upgrade_command_refuses_a_bad_tenant_id(tmp_path: Path) -> None:
    # Refused before any connection: nothing listens on this address.
    result = CliRunner().invoke(
        app,
        ["conversations", "upgrade", "--data-dir", str(tmp_path), "--tenant", "t' OR 'x'='x"],
        env={"SUPPORTFLOW_TEMPORAL_ADDRESS": "127.0.0.1:9"},
    )
    assert result.exit_code == 2, result.output
    assert "not a tenant id" in result.output

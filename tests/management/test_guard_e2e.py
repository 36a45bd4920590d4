"""The guard end to end, on the time-skipping server with every worker of `supportflow up`
(build_workers), the real API on loopback and a real SMTP server: refunds in the audit trail
trip a guard; the policy every later decision reads needs approval for refunds; supervisors
and admins are mailed once; no second trip while it stands; a supervisor lifts it through the
API (an agent may not, nor another tenant) and the policy is as written again; all of it in
the audit trail."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import AuditLogRow
from supportflow.mail.maildir_reader import list_messages
from supportflow.mail.maildir_server import MaildirServer
from supportflow.management.batch import management_workflow_id
from supportflow.operators.accounts import CreatedOperator, create_operator
from supportflow.policy.guards import REFUND_ACTIONS
from supportflow.policy.store import PolicyStore
from supportflow.settings import Settings
from supportflow.temporal.management import ensure_management_agent
from supportflow.tenants.service import create_tenant
from supportflow.workflows.management import ManagementAgentWorkflow
from tests.helpers import TEST_CONVERTER, TEST_KEYRING, free_port, running_workers, serve_api
from tests.management.conftest import refund_entry
from tests.management.workers import until


def _operator(sessions: sessionmaker[Session], tenant_id: str, role: str) -> CreatedOperator:
    email = f"{role}-{uuid.uuid4().hex[:6]}@shop.example"
    return create_operator(sessions, tenant_id, email, role, actor="test")


async def _mails(maildir: Path, to: str, want: int) -> list[dict[str, str]]:
    """The mails to ``to``, once there are ``want`` (or after 20 s, whatever is there)."""
    for _ in range(200):
        found = await asyncio.to_thread(list_messages, maildir, to=to)
        if len(found) >= want:
            return found
        await asyncio.sleep(0.1)
    return await asyncio.to_thread(list_messages, maildir, to=to)


def _trail(sessions: sessionmaker[Session], tenant_id: str, prefix: str) -> list[AuditLogRow]:
    with sessions() as s:
        return list(
            s.scalars(
                select(AuditLogRow)
                .where(AuditLogRow.tenant_id == tenant_id, AuditLogRow.action.startswith(prefix))
                .order_by(AuditLogRow.seq)
            )
        )


async def test_a_refund_spike_tightens_the_policy_until_a_supervisor_lifts_it(
    skipping_env: WorkflowEnvironment, settings: Settings, smtp_server: MaildirServer
) -> None:
    env = skipping_env
    settings = settings.model_copy(update={"api_port": free_port(), "management_autostart": True})
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    sessions = make_session_factory(engine)
    try:
        shop = create_tenant(sessions, "Guarded Shop", keyring=TEST_KEYRING)
        other = create_tenant(sessions, "Other Shop", keyring=TEST_KEYRING)
        tenant = shop.tenant_id
        supervisor = _operator(sessions, tenant, "supervisor")
        admin = _operator(sessions, tenant, "admin")
        agent = _operator(sessions, tenant, "agent")
        policies = PolicyStore(sessions)
        policies.put(tenant, {"approval_above": 1000})
        # A quiet shop, then six refunds of 100 in a few minutes: past both floors (5, 500).
        for i in range(6):
            refund_entry(sessions, tenant, f"sf:wf:case{i}:refund", 100.0)
        wf_id = management_workflow_id(tenant)
        async with (
            running_workers(env.client, settings),
            # The API starts every tenant's agent as it starts (management_autostart).
            serve_api(settings, env.client) as api,
        ):
            handle = env.client.get_workflow_handle_for(ManagementAgentWorkflow.run, wf_id)
            view = await until(handle, lambda v: v.trips == 1)
            # Starting it again (tenant created, `up` run again) finds the one running.
            run_id = (await handle.describe()).run_id
            assert await ensure_management_agent(env.client, tenant, settings) == wf_id
            assert (await handle.describe()).run_id == run_id
            (guard,) = view.guards
            assert guard.kind == "refund_spike" and guard.effect == "require_approval"
            assert "refunds: 6 in the last hour" in guard.reason
            # Every decision from now on reads the tightened policy.
            assert policies.get(tenant).approval_required == REFUND_ACTIONS
            assert policies.get(tenant).approval_above == 1000
            assert policies.get(other.tenant_id).approval_required == frozenset()
            (tripped,) = _trail(sessions, tenant, "guard.")
            assert (tripped.actor_kind, tripped.actor_id, tripped.target) == (
                "system",
                "management",
                guard.guard_id,
            )
            assert tripped.details["refunds"] == 6 and tripped.details["refund_amount"] == 600
            assert tripped.workflow_id == wf_id
            # Supervisors and admins are told; agents are not.
            for person in (supervisor, admin):
                (mail,) = await _mails(smtp_server.maildir_dir, person.operator.email, 1)
                assert "Refunds now need an approval" in mail["subject"]
                assert guard.guard_id in mail["text"]
            # More refunds while it stands: no second guard, no second mail.
            for i in range(6, 12):
                refund_entry(sessions, tenant, f"sf:wf:case{i}:refund", 100.0)
            polls = view.polls
            await env.sleep(timedelta(minutes=5))
            view = await until(handle, lambda v: v.polls > polls)
            assert view.trips == 1 and [g.guard_id for g in view.guards] == [guard.guard_id]
            assert len(await _mails(smtp_server.maildir_dir, supervisor.operator.email, 2)) == 1
            assert not list_messages(smtp_server.maildir_dir, to=agent.operator.email)

            def bearer(who: CreatedOperator) -> dict[str, str]:
                return {"Authorization": f"Bearer {who.api_token}"}

            listed = await api.get("/v1/guards", headers=bearer(agent))
            assert listed.status_code == 200
            assert [g["guard_id"] for g in listed.json()["guards"]] == [guard.guard_id]
            lift = f"/v1/guards/{guard.guard_id}/lift"
            assert (await api.post(lift, headers=bearer(agent))).status_code == 403
            foreign = await api.post(lift, headers={"X-Api-Key": other.api_key})
            assert foreign.status_code == 404
            assert (await api.get("/v1/guards", headers={"X-Api-Key": other.api_key})).json() == {
                "guards": []
            }
            assert policies.get(tenant).approval_required == REFUND_ACTIONS  # nothing changed
            lifted = await api.post(lift, headers=bearer(supervisor))
            assert lifted.status_code == 200, lifted.text
            assert lifted.json()["lifted_by"] == f"operator:{supervisor.operator.operator_id}"
            assert (await api.post(lift, headers=bearer(admin))).status_code == 409
            assert policies.get(tenant).approval_required == frozenset()
            # The agent sees the lift at its next poll, and only refunds after it count.
            polls = view.polls
            await env.sleep(timedelta(minutes=5))
            view = await until(handle, lambda v: v.polls > polls)
            assert view.guards == [] and view.trips == 1
            await handle.terminate("test over")
        # The run with its trip, mail and lift replays on this code (deterministic).
        await Replayer(
            workflows=[ManagementAgentWorkflow], data_converter=TEST_CONVERTER
        ).replay_workflow(await handle.fetch_history())
        trail = _trail(sessions, tenant, "guard.")
        assert [(e.action, e.actor_kind) for e in trail] == [
            ("guard.trip", "system"),
            ("guard.lift", "operator"),
        ]
        assert trail[1].actor_id == supervisor.operator.operator_id
    finally:
        engine.dispose()

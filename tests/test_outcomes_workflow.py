"""The record of a conversation's outcomes for the management agent (sales-v1): a case an
operator decides is recorded as closed by a person, from the decision itself (real Temporal
servers, the real demo store, the app database)."""

from __future__ import annotations

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.models import AgentEventRow
from supportflow.settings import Settings
from supportflow.workflows.contract import ApprovalDecision, customer_workflow_id
from supportflow.workflows.customer import CustomerWorkflow
from tests.helpers import store_order
from tests.test_procedures_workflow import Chat, tenant_with_policy

# Pending orders above the approval threshold, one per Temporal server; denied, so unchanged.
DENIED = {
    "local": ("raj.li2787@example.com", "#W8967935"),
    "time-skipping": ("noah.sanchez7461@example.com", "#W8645374"),
}


async def test_a_case_an_operator_denies_is_recorded_as_closed_by_a_person(
    workflow_env: WorkflowEnvironment, workflow_env_kind: str, settings: Settings, running: None
) -> None:
    tenant_id = tenant_with_policy(settings, "Deciding Shop", {"approval_above": 500})
    email, order_id = DENIED[workflow_env_kind]
    chat = Chat(workflow_env, settings, tenant_id)
    await chat.say(f"cancel order {order_id} please, I ordered it by mistake", email=email)
    assert "approv" in await chat.say("yes")
    handle = workflow_env.client.get_workflow_handle_for(
        CustomerWorkflow.run, customer_workflow_id(tenant_id, chat.customer)
    )
    pending = (await handle.query(CustomerWorkflow.transcript)).approvals[0]
    await handle.execute_update(
        CustomerWorkflow.decide_approval,
        ApprovalDecision(approval_id=pending.approval_id, operator_id="op_a", decision="deny"),
    )
    assert (await store_order(settings, order_id))["status"] == "pending"
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as s:
            rows = s.scalars(select(AgentEventRow).where(AgentEventRow.tenant_id == tenant_id))
            closed = [(e.kind, e.data["outcome"], e.data["by_person"]) for e in rows]
    finally:
        engine.dispose()
    assert closed == [("case_closed", "resolved", True)]

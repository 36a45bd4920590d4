"""Move open conversations onto the newest CustomerWorkflow version (docs/versioning.md).

A run records the patch ids it took in the ``TemporalChangeVersion`` search attribute; a run
whose list lacks the current generation's id replays older code. ``upgrade_conversations``
finds those runs through visibility and sends each the ``request_upgrade`` signal, so it
continues as new (taking the newest version) at its next quiet moment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError

from supportflow.contract.custom_actions import TENANT_ID_PATTERN
from supportflow.workflows.customer import CustomerWorkflow
from supportflow.workflows.versions import PATCHES

CHANGE_VERSION = SearchAttributeKey.for_keyword_list("TemporalChangeVersion")
TENANT_ID = re.compile(TENANT_ID_PATTERN)
OPEN_CONVERSATIONS = "WorkflowType = 'CustomerWorkflow' AND ExecutionStatus = 'Running'"


@dataclass
class UpgradeReport:
    open: int = 0
    older: int = 0
    signalled: int = 0
    # Runs that ended between the listing and the signal: nothing to upgrade.
    gone: int = 0
    by_version: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "open": self.open,
            "older": self.older,
            "signalled": self.signalled,
            "gone": self.gone,
            "by_version": dict(sorted(self.by_version.items())),
        }


def _open_conversations(tenant: str | None, workflow_id: str | None) -> str:
    query = OPEN_CONVERSATIONS
    if tenant is not None:
        if not TENANT_ID.fullmatch(tenant):
            raise ValueError(f"not a tenant id: {tenant!r}")
        query += f" AND WorkflowId STARTS_WITH 'sf/{tenant}/customer/'"
    if workflow_id is not None:
        if "'" in workflow_id or "\\" in workflow_id:
            raise ValueError(f"not a workflow id: {workflow_id!r}")
        query += f" AND WorkflowId = '{workflow_id}'"
    return query


async def upgrade_conversations(
    client: Client,
    *,
    dry_run: bool = False,
    current: str = PATCHES[-1],
    tenant: str | None = None,
    workflow_id: str | None = None,
) -> UpgradeReport:
    """Signal every open conversation not on ``current`` (``dry_run``: only count them);
    only ``tenant``'s, or only the one ``workflow_id``, when given."""
    report = UpgradeReport()
    async for execution in client.list_workflows(_open_conversations(tenant, workflow_id)):
        report.open += 1
        patches = execution.typed_search_attributes.get(CHANGE_VERSION) or []
        newest = patches[-1] if patches else "none"
        report.by_version[newest] = report.by_version.get(newest, 0) + 1
        if current in patches:
            continue
        report.older += 1
        if dry_run:
            continue
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        try:
            await handle.signal(CustomerWorkflow.request_upgrade)
        except RPCError:
            report.gone += 1  # it ended (or continued as new) since it was listed
            continue
        report.signalled += 1
    return report

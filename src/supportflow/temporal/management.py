"""Starting each tenant's management agent (workflows/management.py), once.

``ensure_management_agent`` starts the tenant's ManagementAgentWorkflow unless it runs
already (``USE_EXISTING``); ``ensure_digest_schedule`` creates its daily digest's Schedule
unless it exists, at 07:00 in the tenant's own time zone (its support hours' zone, else its
quiet hours' zone, else UTC), and moves an existing one when the tenant's zone changed;
``ensure_management_agents`` does both for every tenant. Safe to call at
every start-up and on every tenant creation. An agent that ended (terminated by hand,
failed) is started afresh; it rebuilds its last 8 days of figures from the tables on its
first poll.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import WorkflowIDConflictPolicy

from supportflow.db.models import Tenant
from supportflow.management.batch import (
    DigestInput,
    ManagementInput,
    digest_schedule_id,
    management_workflow_id,
)
from supportflow.policy.model import TenantPolicy
from supportflow.policy.store import PolicyStore
from supportflow.settings import Settings
from supportflow.workflows.management import ManagementAgentWorkflow, ManagementDigestWorkflow

log = logging.getLogger(__name__)

# When the daily digest goes out (in the tenant's zone); a digest missed by more than the
# catch-up window (the cluster was down) is skipped, not sent late.
DIGEST_HOUR = 7
DIGEST_CATCHUP = timedelta(hours=2)


def digest_zone(policy: TenantPolicy) -> str:
    """The time zone a tenant's morning is in: its support hours', else its sales quiet
    hours', else UTC."""
    if policy.support_hours is not None:
        return policy.support_hours.timezone
    if policy.sales.quiet_hours is not None:
        return policy.sales.quiet_hours.timezone
    return "UTC"


def _digest_spec(zone: str) -> ScheduleSpec:
    return ScheduleSpec(
        calendars=[
            ScheduleCalendarSpec(hour=[ScheduleRange(DIGEST_HOUR)], minute=[ScheduleRange(0)])
        ],
        time_zone_name=zone,
    )


async def ensure_management_agent(client: Client, tenant_id: str, settings: Settings) -> str:
    """Start the tenant's management agent if it is not running; its workflow id."""
    wf_id = management_workflow_id(tenant_id)
    await client.start_workflow(
        ManagementAgentWorkflow.run,
        ManagementInput(tenant_id=tenant_id, integrations_queue=settings.task_queue_integrations),
        id=wf_id,
        task_queue=settings.task_queue_agents,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return wf_id


async def ensure_digest_schedule(
    client: Client, tenant_id: str, settings: Settings, zone: str = "UTC"
) -> str:
    """The tenant's daily digest Schedule at 07:00 in ``zone``: created unless it exists,
    moved to ``zone`` if it is in another; its id."""
    schedule_id = digest_schedule_id(tenant_id)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            ManagementDigestWorkflow.run,
            DigestInput(tenant_id=tenant_id, integrations_queue=settings.task_queue_integrations),
            id=schedule_id,
            task_queue=settings.task_queue_agents,
        ),
        spec=_digest_spec(zone),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=DIGEST_CATCHUP),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:  # made at an earlier start: kept, in the right zone
        handle = client.get_schedule_handle(schedule_id)
        if (await handle.describe()).schedule.spec.time_zone_name != zone:

            def moved(given: ScheduleUpdateInput) -> ScheduleUpdate:
                given.description.schedule.spec = _digest_spec(zone)
                return ScheduleUpdate(schedule=given.description.schedule)

            await handle.update(moved)
            log.info("digest of %s moved to the tenant's time zone", tenant_id)
    return schedule_id


def tenant_ids(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as s:
        return list(s.scalars(select(Tenant.id).order_by(Tenant.id)))


async def ensure_management_agents(
    client: Client, sessions: sessionmaker[Session], settings: Settings
) -> int:
    """Every tenant's agent running and its digest scheduled; how many tenants there are. A
    tenant whose start fails is logged (by id) and the others still start."""
    ids = await asyncio.to_thread(tenant_ids, sessions)
    policies = PolicyStore(sessions)
    for tenant_id in ids:
        try:
            await ensure_management_agent(client, tenant_id, settings)
        except Exception as err:  # one tenant's failure must not stop the others
            log.warning("management agent of %s not started: %s", tenant_id, type(err).__name__)
            continue
        try:
            policy = await asyncio.to_thread(policies.get, tenant_id, guards=False)
            await ensure_digest_schedule(client, tenant_id, settings, digest_zone(policy))
        except Exception as err:  # the agent runs; only its daily mail is missing
            log.warning("digest of %s not scheduled: %s", tenant_id, type(err).__name__)
    return len(ids)


# How often a running API looks for tenants created since it started (their agents start then).
ENSURE_EVERY = timedelta(minutes=5)


async def keep_management_agents(
    client: Client, sessions: sessionmaker[Session], settings: Settings
) -> None:
    """``ensure_management_agents`` now and every ``ENSURE_EVERY`` until cancelled: a tenant
    created while the API runs gets its agent within minutes, not at the next restart."""
    while True:
        try:
            await ensure_management_agents(client, sessions, settings)
        except Exception as err:  # Temporal or the database away: try again next round
            log.warning("management agents not ensured: %s", type(err).__name__)
        await asyncio.sleep(ENSURE_EVERY.total_seconds())

"""ManagementAgentWorkflow on Temporal's time-skipping test server with a real SQLite app
database: polls on its durable timer, folds what agents recorded into hourly buckets, writes
them to ``metric_buckets`` and answers ``metrics``; over a simulated week it continues as new
and each run's history stays bounded."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import MetricBucketRow
from supportflow.management.batch import ManagementInput, management_workflow_id
from supportflow.management.settings_store import put_config
from supportflow.settings import Settings
from supportflow.temporal.billable import count_actions
from supportflow.workflows.management import ManagementAgentWorkflow
from tests.helpers import TEST_CONVERTER
from tests.management.conftest import event
from tests.management.workers import management_worker, until

log = logging.getLogger(__name__)
# Events in a run of 288 polls at most: about 7 a poll (timer, workflow task, two local
# activity markers), plus the start. A run that grew past this would not be bounded.
RUN_EVENT_BOUND = 2200


@pytest.fixture
def app_db(settings: Settings) -> Iterator[sessionmaker[Session]]:
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def stored(sessions: sessionmaker[Session], tenant: str, name: str) -> float:
    with sessions() as s:
        total = s.scalar(
            select(func.sum(MetricBucketRow.value)).where(
                MetricBucketRow.tenant_id == tenant, MetricBucketRow.name == name
            )
        )
    return float(total or 0)


async def test_polls_fold_events_write_buckets_and_answer_the_query(
    skipping_env: WorkflowEnvironment, settings: Settings, app_db: sessionmaker[Session]
) -> None:
    env = skipping_env
    tenant = "t_wf_" + uuid.uuid4().hex[:8]
    t0 = await env.get_current_time()
    event(app_db, tenant, "c1", "case_closed", t0, outcome="resolved", by_person=False)
    event(app_db, tenant, "c2", "case_closed", t0, outcome="escalated", by_person=True)
    async with management_worker(env.client, settings, app_db) as queue:
        handle = await env.client.start_workflow(
            ManagementAgentWorkflow.run,
            ManagementInput(tenant_id=tenant, integrations_queue=queue),
            id=management_workflow_id(tenant),
            task_queue=queue,
        )
        # A new agent looks at once.
        first = await until(handle, lambda v: v.polls >= 1)
        day = first.windows["last_24h"]
        assert day.counters["cases_closed"] == 2 and day.derived["automation_rate"] == 0.5
        assert first.poll_interval_seconds == 300
        # Recorded between polls: counted by the next one, five minutes on.
        now = await env.get_current_time()
        event(app_db, tenant, "c3", "case_closed", now, outcome="resolved", by_person=False)
        event(app_db, tenant, "r1", "refund", now, "25.50")
        await env.sleep(timedelta(minutes=5))
        view = await until(handle, lambda v: v.polls >= 2)
        day = view.windows["last_24h"]
        assert day.counters["cases_closed"] == 3 and day.counters["refund_amount"] == 25.5
        assert view.cursors.events == 4 and view.trips == 0
        assert stored(app_db, tenant, "cases_closed") == 3
        assert stored(app_db, tenant, "refund_amount") == 25.5
        # A changed interval applies from the next poll; poll_now wakes the agent early.
        put_config(app_db, tenant, {"poll_interval": "PT1M"})
        await env.sleep(timedelta(minutes=5))
        view = await until(handle, lambda v: v.poll_interval_seconds == 60)
        polls = view.polls
        await handle.signal(ManagementAgentWorkflow.poll_now)
        await until(handle, lambda v: v.polls > polls)
        await handle.terminate("test over")
    # Deterministic: the recorded run replays on this code.
    history = await handle.fetch_history()
    await Replayer(
        workflows=[ManagementAgentWorkflow], data_converter=TEST_CONVERTER
    ).replay_workflow(history)


async def test_a_simulated_week_keeps_each_runs_history_bounded(
    skipping_env: WorkflowEnvironment, settings: Settings, app_db: sessionmaker[Session]
) -> None:
    env = skipping_env
    tenant = "t_week_" + uuid.uuid4().hex[:8]
    wf_id = management_workflow_id(tenant)
    hours = 7 * 24
    async with management_worker(env.client, settings, app_db) as queue:
        handle = await env.client.start_workflow(
            ManagementAgentWorkflow.run,
            ManagementInput(tenant_id=tenant, integrations_queue=queue),
            id=wf_id,
            task_queue=queue,
        )
        await until(handle, lambda v: v.polls >= 1)
        for hour in range(hours):
            now = await env.get_current_time()
            event(app_db, tenant, f"case-{hour}", "case_closed", now, outcome="resolved")
            if hour % 6 == 0:
                event(app_db, tenant, f"handoff-{hour}", "handoff", now)
            await env.sleep(timedelta(hours=1))
        view = await until(handle, lambda v: v.polls >= hours * 12)
        assert view.windows["last_7d"].counters["cases_closed"] >= hours - 2
        assert view.trips == 0
        latest = (await handle.describe()).run_id
    assert stored(app_db, tenant, "cases_closed") == hours
    assert stored(app_db, tenant, "handoffs") == hours // 6
    lengths: list[int] = []
    actions = 0
    run_id: str | None = latest
    while run_id:
        history = await env.client.get_workflow_handle(wf_id, run_id=run_id).fetch_history()
        lengths.append(len(history.events))
        actions += sum(count_actions(history.to_json_dict()).values())
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
    lengths.reverse()
    days = (view.polls * 5) / (60 * 24)
    log.warning(
        "management agent, simulated week: %d polls, %d runs, events per run %s (max %d), "
        "%d billable actions (%.0f per day)",
        view.polls,
        len(lengths),
        lengths,
        max(lengths),
        actions,
        actions / days,
    )
    assert len(lengths) >= 7  # a run a day at 288 polls of 5 minutes
    assert max(lengths) <= RUN_EVENT_BOUND
    await env.client.get_workflow_handle(wf_id).terminate("test over")


async def test_poll_now_counts_what_is_new_on_either_server(
    workflow_env: WorkflowEnvironment, settings: Settings, app_db: sessionmaker[Session]
) -> None:
    env = workflow_env
    tenant = "t_now_" + uuid.uuid4().hex[:8]
    async with management_worker(env.client, settings, app_db) as queue:
        handle = await env.client.start_workflow(
            ManagementAgentWorkflow.run,
            ManagementInput(tenant_id=tenant, integrations_queue=queue),
            id=management_workflow_id(tenant),
            task_queue=queue,
        )
        await until(handle, lambda v: v.polls >= 1)
        event(app_db, tenant, "s1", "save", await env.get_current_time())
        await handle.signal(ManagementAgentWorkflow.poll_now)
        view = await until(handle, lambda v: v.polls >= 2)
        assert view.windows["last_hour"].counters["saves"] == 1
        await handle.terminate("test over")

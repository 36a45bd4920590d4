"""The daily digest: composed from the day's figures (pure), and sent by its Temporal Schedule
on the dev server with every worker of `up` to the tenant's admins through a real SMTP
server, once a day however often the Schedule fires."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleHandle,
    ScheduleRange,
)
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.mail.maildir_reader import list_messages
from supportflow.mail.maildir_server import MaildirServer
from supportflow.management.batch import digest_schedule_id, management_workflow_id
from supportflow.management.buckets_store import write_buckets
from supportflow.management.digest import compose_digest, sparkline
from supportflow.management.metrics import hour_of
from supportflow.management.report import build_report
from supportflow.management.settings_store import put_config
from supportflow.operators.accounts import create_operator
from supportflow.policy.store import PolicyStore
from supportflow.settings import Settings
from supportflow.temporal.management import (
    digest_zone,
    ensure_digest_schedule,
    ensure_management_agents,
)
from supportflow.tenants.service import create_tenant
from tests.helpers import TEST_KEYRING, running_workers


def test_the_digest_has_the_figures_a_chart_and_no_markup_from_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    sessions = make_session_factory(make_engine(url))
    end = datetime(2026, 6, 2, 7, 0, tzinfo=UTC)
    h = hour_of(end)
    write_buckets(
        sessions,
        "t_digest",
        {h - 3: {"cases_closed": 4, "cases_by_person": 1}, h - 1: {"cases_closed": 2}},
    )
    report = build_report(sessions, "t_digest", start=None, end=end, bucket="hour", now=end)
    report = report.model_copy(update={"start": end.replace(day=1)})
    d = compose_digest("Shop <b>&</b> Co", report, "http://x/console/metrics")
    assert d.subject == "Daily report for Shop <b>&</b> Co: 02 Jun 2026"
    assert (
        "Cases closed: 6" in d.text and "Automation rate (closed without a person): 83%" in d.text
    )
    assert "Shop &lt;b&gt;&amp;&lt;/b&gt; Co" in d.html and "<b>&</b>" not in d.html
    assert d.html.count("background:#2f5bea") == len(report.series)
    assert sparkline([0, 1, 4, 8]) == "▁▁▄█"


async def test_the_schedule_mails_the_admins_once_a_day(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_server: MaildirServer
) -> None:
    client = dev_env.client
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    sessions = make_session_factory(engine)
    try:
        shop = create_tenant(sessions, "Digest Shop", keyring=TEST_KEYRING)
        tenant = shop.tenant_id
        tag = uuid.uuid4().hex[:6]
        admin = create_operator(sessions, tenant, f"admin-{tag}@shop.example", "admin", actor="t")
        sup = create_operator(sessions, tenant, f"sup-{tag}@shop.example", "supervisor", actor="t")
        now = hour_of(datetime.now(UTC))
        write_buckets(sessions, tenant, {now - 2: {"cases_closed": 5, "refunds": 1}})
        async with running_workers(client, settings):
            schedule_id = await ensure_digest_schedule(client, tenant, settings)
            assert await ensure_digest_schedule(client, tenant, settings) == schedule_id
            schedule = client.get_schedule_handle(schedule_id)
            try:
                for fired in (1, 2):
                    await schedule.trigger()
                    sent = await _nth_result(client, schedule, fired)
                    assert sent == 1  # the admin; supervisors get no digest
                mails = list_messages(smtp_server.maildir_dir, to=admin.operator.email)
                assert len(mails) == 1  # fired twice on one day: one mail
                assert mails[0]["subject"].startswith("Daily report for Digest Shop")
                assert "Cases closed: 5" in mails[0]["text"]
                assert not list_messages(smtp_server.maildir_dir, to=sup.operator.email)
                # Turned off by the tenant: nobody is mailed.
                put_config(sessions, tenant, {"digest_enabled": False})
                await schedule.trigger()
                assert await _nth_result(client, schedule, 3) == 0
            finally:
                await schedule.delete()
    finally:
        engine.dispose()


async def test_the_digest_is_in_the_tenants_morning_and_follows_its_zone(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    """07:00 where the tenant is: its support hours' zone; a zone changed later moves the
    existing Schedule (the API's ensure loop runs every 5 minutes)."""
    client = dev_env.client
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    sessions = make_session_factory(engine)
    try:
        tenant = create_tenant(sessions, "Zoned Shop", keyring=TEST_KEYRING).tenant_id
        policies = PolicyStore(sessions)
        assert digest_zone(policies.get(tenant)) == "UTC"
        policies.put(tenant, {"sales": {"quiet_hours": {"timezone": "Asia/Tokyo"}}})
        assert digest_zone(policies.get(tenant)) == "Asia/Tokyo"
        hours = {
            "timezone": "Europe/Berlin",
            "days": {"mon": {"opens": "09:00", "closes": "17:00"}},
        }
        policies.put(tenant, {"support_hours": hours})
        assert digest_zone(policies.get(tenant)) == "Europe/Berlin"
        await ensure_management_agents(client, sessions, settings)
        schedule = client.get_schedule_handle(digest_schedule_id(tenant))
        try:
            spec = (await schedule.describe()).schedule.spec
            assert spec.time_zone_name == "Europe/Berlin"
            assert [c.hour for c in spec.calendars] == [(ScheduleRange(7, 7),)]
            # The merchant moves: the next ensure moves the Schedule, nothing else changes.
            policies.put(tenant, {"support_hours": {**hours, "timezone": "America/Chicago"}})
            await ensure_management_agents(client, sessions, settings)
            moved = (await schedule.describe()).schedule
            assert moved.spec.time_zone_name == "America/Chicago"
            assert [c.hour for c in moved.spec.calendars] == [(ScheduleRange(7, 7),)]
            assert moved.policy.catchup_window == timedelta(hours=2)
        finally:
            await schedule.delete()
            await client.get_workflow_handle(management_workflow_id(tenant)).terminate()
    finally:
        engine.dispose()


async def _nth_result(client: Client, schedule: ScheduleHandle, n: int) -> int:
    """The result of the schedule's ``n``th run (once it has started)."""
    for _ in range(300):
        actions = (await schedule.describe()).info.recent_actions
        if len(actions) >= n:
            action = actions[n - 1].action
            assert isinstance(action, ScheduleActionExecutionStartWorkflow)
            result: int = await client.get_workflow_handle(action.workflow_id).result()
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"the schedule never ran {n} times")

"""A worker polling another task queue than the API's leaves every conversation unanswered;
the API makes it visible (issue 15, bad input): `GET /health` says how many workers Temporal
saw polling the agents task queue (still 200 with none), and the API warns once when none has
polled it SUPPORTFLOW_TEMPORAL_UNPOLLED_WARNING_SECONDS after it started."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from supportflow.temporal.pollers import CACHE_S
from tests.helpers import free_port
from tests.production.fleet import Fleet, demo_tenant, fleet_settings, until

NO_STORE = "http://127.0.0.1:9"  # nothing here reaches the store
WARN_AFTER_S = 3.0
WARNING = "no worker has polled task queue"


async def _pollers(fleet: Fleet, port: int) -> object:
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(f"{fleet.api_url(port)}/health")
    assert r.status_code == 200, r.text
    return r.json()["agents_queue_pollers"]


def _warnings(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if WARNING in line]


async def test_a_worker_on_another_task_queue_is_seen_and_said(
    tmp_path: Path, dev_env: WorkflowEnvironment
) -> None:
    address = dev_env.client.service_client.config.target_host
    settings = fleet_settings(
        tmp_path, "", NO_STORE, address, temporal_unpolled_warning_seconds=WARN_AFTER_S
    )
    await asyncio.to_thread(demo_tenant, settings)
    fleet = Fleet(settings, dev_env.client, tmp_path / "logs")
    port = free_port()
    other = "elsewhere-" + settings.task_queue_agents
    api = fleet.start_api(port)
    astray = fleet.start_worker(SUPPORTFLOW_TASK_QUEUE_AGENTS=other)
    api_log = fleet.logs / "api-0.log"
    try:
        await fleet.wait_healthy(port, api)
        # The worker is up and polling, only not where the API sends conversations.
        astray_fleet = Fleet(
            settings.model_copy(update={"task_queue_agents": other}), fleet.temporal, fleet.logs
        )
        await astray_fleet.wait_polling([astray])
        assert await _pollers(fleet, port) == 0
        await until(lambda: _warnings(api_log), "the API's warning", 60)
        [warning] = _warnings(api_log)
        assert "WARNING" in warning and repr(settings.task_queue_agents) in warning, warning
        assert "namespace 'default'" in warning and "SUPPORTFLOW_TASK_QUEUE_AGENTS" in warning
        # A worker on the API's queue: counted once the cached answer has expired.
        fleet.start_worker()
        await fleet.wait_polling(fleet.workers[1:])

        async def counted() -> bool:
            return (await _pollers(fleet, port)) == 1

        await until(counted, "the worker counted", CACHE_S + 30)
        codes = await fleet.stop()
    finally:
        await fleet.stop()
    assert codes == {"api": [0], "worker": [0, 0]}, fleet.logs
    assert len(_warnings(api_log)) == 1  # said once, never again


async def test_no_warning_when_a_worker_polls_the_queue(
    tmp_path: Path, dev_env: WorkflowEnvironment
) -> None:
    address = dev_env.client.service_client.config.target_host
    settings = fleet_settings(
        tmp_path, "", NO_STORE, address, temporal_unpolled_warning_seconds=WARN_AFTER_S
    )
    await asyncio.to_thread(demo_tenant, settings)
    fleet = Fleet(settings, dev_env.client, tmp_path / "logs")
    port = free_port()
    worker = fleet.start_worker()
    api = fleet.start_api(port)
    try:
        await fleet.wait_polling([worker])
        await fleet.wait_healthy(port, api)
        assert await _pollers(fleet, port) == 1
        await asyncio.sleep(WARN_AFTER_S + 3)  # past the check, with room for its answer
        codes = await fleet.stop()
    finally:
        await fleet.stop()
    assert codes == {"api": [0], "worker": [0]}, fleet.logs
    assert not _warnings(fleet.logs / "api-0.log")

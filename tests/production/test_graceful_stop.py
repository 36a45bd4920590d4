"""Asked to stop (SIGTERM), a `supportflow api` process lets the request in flight finish and
exits 0, and so does a `supportflow worker`: a supervisor (Kubernetes, systemd, compose) reads
any other status as a crash (issue 15 item 6, graceful drain)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.helpers import free_port
from tests.production.fleet import Fleet, demo_tenant, fleet_settings

# No worker polls the API's task queue in the first test, so a chat message is answered
# "pending" only after the API has waited this long for the reply: a request in flight.
REPLY_WAIT_S = 4.0
# After the drain, the process must be gone within this (lifespan shutdown, exit).
EXIT_WITHIN_S = 5.0
NO_STORE = "http://127.0.0.1:9"  # nothing here needs the store


def _stopped(proc: subprocess.Popen[bytes], within_s: float, logs: Path) -> tuple[int, float]:
    """The exit status of ``proc`` and how long it took to exit after SIGTERM."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(within_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        pytest.fail(f"{proc.args!r} still running {within_s:.0f}s after SIGTERM; see {logs}")
    return code, time.monotonic() - sent


async def test_the_api_drains_a_request_and_exits_0_on_sigterm(
    tmp_path: Path, dev_env: WorkflowEnvironment
) -> None:
    address = dev_env.client.service_client.config.target_host
    settings = fleet_settings(tmp_path, "", NO_STORE, address, chat_reply_wait_seconds=REPLY_WAIT_S)
    keys = await asyncio.to_thread(demo_tenant, settings)
    fleet = Fleet(settings, dev_env.client, tmp_path / "logs")
    port = free_port()
    api = fleet.start_api(port)
    try:
        await fleet.wait_healthy(port, api)
        async with httpx.AsyncClient(timeout=REPLY_WAIT_S + 30) as http:
            chat = asyncio.create_task(
                http.post(
                    f"{fleet.api_url(port)}/v1/chat/messages",
                    headers={"X-Chat-Key": keys["chat_key"]},
                    json={"visitor_id": "drain-1", "message_id": "drain-m1", "text": "hello"},
                )
            )
            await asyncio.sleep(REPLY_WAIT_S / 2)  # the API is waiting for the reply
            assert not chat.done()
            code, took = await asyncio.to_thread(
                _stopped, api, REPLY_WAIT_S + EXIT_WITHIN_S, fleet.logs
            )
            answer = await chat
    finally:
        await fleet.stop()
    # The request in flight was answered ("pending": no worker), not cut off.
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "pending"
    assert code == 0, (code, fleet.logs)
    # It waited for the request (about half the reply wait), then left at once.
    assert REPLY_WAIT_S / 4 < took < REPLY_WAIT_S / 2 + EXIT_WITHIN_S, took


async def test_an_idle_api_and_a_worker_exit_0_on_sigterm(
    tmp_path: Path, dev_env: WorkflowEnvironment
) -> None:
    address = dev_env.client.service_client.config.target_host
    settings = fleet_settings(tmp_path, "", NO_STORE, address)
    await asyncio.to_thread(demo_tenant, settings)
    fleet = Fleet(settings, dev_env.client, tmp_path / "logs")
    port = free_port()
    api, worker = fleet.start_api(port), fleet.start_worker()
    try:
        await fleet.wait_healthy(port, api)
        await fleet.wait_polling([worker])
        api_code, api_took = await asyncio.to_thread(_stopped, api, EXIT_WITHIN_S, fleet.logs)
        # A worker with nothing in flight: stops polling and exits well within its grace period.
        worker_code, worker_took = await asyncio.to_thread(
            _stopped, worker, settings.worker_graceful_shutdown_seconds, fleet.logs
        )
    finally:
        await fleet.stop()
    assert (api_code, worker_code) == (0, 0), fleet.logs
    assert api_took < EXIT_WITHIN_S and worker_took < settings.worker_graceful_shutdown_seconds

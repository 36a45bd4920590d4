"""Issue 15 item 1, no stalls: a paused workflow task is not failed as a deadlock, and a worker
that can no longer give its slots back says so and its process ends, for a supervisor to
replace it. Real dev server, real SDK workers; the misbehaving workflows are in
_stall_workflows.py."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from supportflow.settings import Settings
from supportflow.worker import run_workers
from supportflow.worker_options import worker_options
from supportflow.worker_stall import STALL_EXIT_CODE, WorkerStalled, allow_pauses
from tests.production._stall_workflows import PausesOnce, RefusesEviction

# The SDK's own limit on a workflow task, which the first test shows failing.
SDK_DEADLOCK_S = 2
PAUSE_S = 2.6


async def _failed_tasks(handle: WorkflowHandle[object, object]) -> list[str]:
    failures = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            # The failure's message is encoded by the client's codec; its type is not.
            failure = event.workflow_task_failed_event_attributes.failure
            failures.append(failure.application_failure_info.type)
    return failures


async def test_a_pause_past_the_sdk_limit_fails_the_task_without_our_allowance(
    dev_env: WorkflowEnvironment,
) -> None:
    # The control: what the SDK does on its own with a 2.6 s pause.
    queue = "pause-control-" + uuid.uuid4().hex[:8]
    async with Worker(dev_env.client, task_queue=queue, workflows=[PausesOnce]):
        handle = await dev_env.client.start_workflow(
            PausesOnce.run, PAUSE_S, id="pause-" + uuid.uuid4().hex, task_queue=queue
        )
        try:
            deadline = time.monotonic() + 15
            failures: list[str] = []
            while not failures and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                failures = await _failed_tasks(handle)
            assert failures and failures[0] == "_DeadlockError", failures
        finally:
            await handle.terminate()


async def test_a_pause_within_the_allowance_is_only_a_slow_task(
    dev_env: WorkflowEnvironment, tmp_path: object
) -> None:
    queue = "pause-allowed-" + uuid.uuid4().hex[:8]
    worker = Worker(dev_env.client, task_queue=queue, workflows=[PausesOnce])
    allow_pauses(worker, SDK_DEADLOCK_S * 3)
    async with worker:
        handle = await dev_env.client.start_workflow(
            PausesOnce.run, PAUSE_S, id="pause-" + uuid.uuid4().hex, task_queue=queue
        )
        assert await asyncio.wait_for(handle.result(), 20) == "answered"
        assert await _failed_tasks(handle) == []


async def test_a_worker_that_cannot_evict_is_reported_stalled(
    dev_env: WorkflowEnvironment,
) -> None:
    queue = "stall-" + uuid.uuid4().hex[:8]
    hold_s = 4.0
    # No cache: the run is evicted right after its first task, and refuses for hold_s, past
    # the 1 s limit given here. The SDK then retries the eviction "forever", slot held.
    worker = Worker(
        dev_env.client, task_queue=queue, workflows=[RefusesEviction], max_cached_workflows=0
    )
    allow_pauses(worker, 1.0)
    stop = asyncio.Event()
    running = asyncio.create_task(run_workers([worker], stop, stuck_after_s=30))
    handle = await dev_env.client.start_workflow(
        RefusesEviction.run, hold_s, id="stall-" + uuid.uuid4().hex, task_queue=queue
    )
    try:
        with pytest.raises(WorkerStalled, match="eviction"):
            await asyncio.wait_for(running, 15)
    finally:
        await handle.terminate()
        # Once the hold ends the eviction completes, and this worker can stop after all.
        await asyncio.wait_for(worker.shutdown(), 30)


def test_a_stalled_process_exits_at_once_for_its_supervisor() -> None:
    # A thread that never returns, as the stalled worker's activation threads do: a normal
    # exit would wait for it; exit_stalled must not.
    code = (
        "import threading, time\n"
        "from supportflow.stack.standalone import exit_stalled\n"
        "from supportflow.worker_stall import WorkerStalled\n"
        "threading.Thread(target=time.sleep, args=(600,)).start()\n"
        "exit_stalled(WorkerStalled('1 workflow eviction(s) timed out'))\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == STALL_EXIT_CODE, done.stderr
    assert time.monotonic() - started < 30
    assert "worker stalled" in done.stderr and "eviction(s) timed out" in done.stderr


def test_the_settings_reach_the_worker() -> None:
    settings = Settings(worker_graceful_shutdown_seconds=25, worker_deadlock_timeout_seconds=12)
    assert worker_options(settings)["graceful_shutdown_timeout"] == timedelta(seconds=25)
    with pytest.raises(ValueError, match="worker_deadlock_timeout_seconds"):
        Settings(worker_deadlock_timeout_seconds=0.5)

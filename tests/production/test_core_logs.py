"""The SDK core's warnings go through Python's logging to stderr, never to stdout (issue 15
item 1): a stdout pipe nobody reads filled up with them and blocked every workflow task of
the worker. A child process on the real dev server gets a workflow task failed as a deadlock
(the core warns on each), with its stdout a file: it must stay empty."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

CHILD = """
import asyncio, logging, sys, uuid
from temporalio.client import Client
from temporalio.worker import Worker
from supportflow.logs import setup_logging
from supportflow.observability.process import ensure_sdk_metrics
from supportflow.settings import Settings
from tests.production._stall_workflows import PausesOnce

async def main(address: str, metrics: bool) -> None:
    setup_logging("WARNING")
    ensure_sdk_metrics(Settings(metrics_enabled=metrics))
    client = await Client.connect(address)
    queue = "core-logs-" + uuid.uuid4().hex[:8]
    async with Worker(client, task_queue=queue, workflows=[PausesOnce]):
        handle = await client.start_workflow(
            PausesOnce.run, 2.5, id=queue, task_queue=queue
        )
        # Until the server records the task the SDK failed as a deadlock (the core warns
        # as it fails it), then a moment for the forwarded lines to reach the logger.
        for _ in range(120):
            await asyncio.sleep(0.5)
            async for event in handle.fetch_history_events():
                if event.HasField("workflow_task_failed_event_attributes"):
                    break
            else:
                continue
            break
        await asyncio.sleep(1.5)
        await handle.terminate()

from supportflow.cli.common import run_service
run_service(main(sys.argv[1], sys.argv[2] == "metrics"))
"""


def _run(dev_env: WorkflowEnvironment, tmp_path: Path, mode: str) -> tuple[str, str]:
    out, err = tmp_path / f"{mode}.out", tmp_path / f"{mode}.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        subprocess.run(
            [sys.executable, "-c", CHILD, dev_env.client.service_client.config.target_host, mode],
            stdout=stdout,
            stderr=stderr,
            timeout=90,
            check=True,
        )
    return out.read_text(), err.read_text()


async def test_core_warnings_reach_the_logger_not_stdout(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    for mode in ("metrics", "no-metrics"):
        stdout, stderr = _run(dev_env, tmp_path, mode)
        assert stdout == "", (mode, stdout[:500])
        # The core's own warning about the task it failed, as a Python log record.
        assert "temporalio.core" in stderr and "Failing workflow task" in stderr, (
            mode,
            stderr[-2000:],
        )

"""A workflow worker for MessagesWorkflow, run as a process of its own so a test can SIGKILL it.

Usage: python -m tests.temporal.update_replay_worker ADDRESS TASK_QUEUE [STICKY_SECONDS]
Prints "ready" once connected, then polls until killed. STICKY_SECONDS: how long a workflow
task waits on this worker's sticky queue before it goes to the normal one (SDK default 5).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from tests.temporal.update_replay_workflow import MessagesWorkflow


async def main(address: str, task_queue: str, sticky_seconds: float) -> None:
    client = await Client.connect(address)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[MessagesWorkflow],
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=sticky_seconds),
    )
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await worker.run()


if __name__ == "__main__":
    sticky = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    asyncio.run(main(sys.argv[1], sys.argv[2], sticky))

"""The Temporal floor: the smallest workflow doing update -> one activity -> reply.

Our chat turn is measured against this on the same server in the same run, so the figure
that matters is the ratio, not the absolute milliseconds of this machine.

Run on its own, it times many updates in a row on one workflow, on a fresh dev server,
to show how the per-update latency moves with the server's history task-queue read rate
(docs/tuning.md):

  .venv/bin/python -m bench.floor [--updates 80] [--workflows 2] [--poll-rps 20|1000]
      [--no-eager] [--local-activity]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow

# The sandbox re-imports this module for every floor workflow; what only `main` uses is
# passed through so the floor pays no more per workflow than before it had a `main`.
with workflow.unsafe.imports_passed_through():
    from temporalio.client import WithStartWorkflowOperation
    from temporalio.common import WorkflowIDConflictPolicy
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker
    from tests.helpers import TEMPORAL_CLI, free_port


class Ping(BaseModel):
    text: str


class Pong(BaseModel):
    text: str


@activity.defn
async def echo(ping: Ping) -> Pong:
    return Pong(text=ping.text)


@workflow.defn
class FloorWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def ask(self, ping: Ping) -> Pong:
        return await workflow.execute_activity(
            echo, ping, start_to_close_timeout=timedelta(seconds=10)
        )


@workflow.defn
class FloorLocalWorkflow:
    """The floor with its one activity run as a local activity."""

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def ask(self, ping: Ping) -> Pong:
        return await workflow.execute_local_activity(
            echo, ping, start_to_close_timeout=timedelta(seconds=10)
        )


async def drift(args: argparse.Namespace) -> None:
    extra = []
    if args.poll_rps:
        extra = ["--dynamic-config-value", f"history.transferProcessorMaxPollRPS={args.poll_rps}"]
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=TEMPORAL_CLI,
        port=free_port(),
        ui=False,
        dev_server_log_level="error",
        dev_server_extra_args=extra,
    )
    wf = FloorLocalWorkflow if args.local_activity else FloorWorkflow
    queue = f"floor-drift-{uuid.uuid4().hex[:6]}"
    print(f"median ms of each run of 10 updates on one workflow ({wf.__name__}):")
    async with (
        env,
        Worker(
            env.client,
            task_queue=queue,
            workflows=[wf],
            activities=[echo],
            disable_eager_activity_execution=args.no_eager,
        ),
    ):
        for w in range(args.workflows):
            wf_id = f"{queue}-{w}"
            lat = []
            for t in range(args.updates):
                op = WithStartWorkflowOperation(
                    wf.run,
                    id=wf_id,
                    task_queue=queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
                start = time.perf_counter()
                await env.client.execute_update_with_start_workflow(
                    wf.ask, Ping(text=str(t)), start_workflow_operation=op
                )
                lat.append((time.perf_counter() - start) * 1000)
            runs = [statistics.median(lat[i : i + 10]) for i in range(0, len(lat), 10)]
            events = len((await env.client.get_workflow_handle(wf_id).fetch_history()).events)
            print(f"  workflow {w} ({events} events): " + " ".join(f"{m:5.1f}" for m in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description="per-update latency on one floor workflow")
    parser.add_argument("--updates", type=int, default=80)
    parser.add_argument("--workflows", type=int, default=2)
    parser.add_argument(
        "--poll-rps",
        type=int,
        default=0,
        help="history.transferProcessorMaxPollRPS for the dev server (0: Temporal's default, 20)",
    )
    parser.add_argument("--no-eager", action="store_true", help="no eager activity dispatch")
    parser.add_argument("--local-activity", action="store_true", help="run echo locally")
    asyncio.run(drift(parser.parse_args()))


if __name__ == "__main__":
    main()

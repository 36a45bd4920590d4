"""The Temporal floor: the smallest workflow doing update -> one activity -> reply.

Our chat turn is measured against this on the same server in the same run, so the figure
that matters is the ratio, not the absolute milliseconds of this machine.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow


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

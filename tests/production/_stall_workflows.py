"""Workflows that misbehave on purpose, for tests/production/test_worker_stall.py: one pauses
a workflow task for a while (as a full GC or a saturated GIL does), one refuses to be evicted
(as an activation left broken by the SDK's deadlock interruption does)."""

from __future__ import annotations

import time

from temporalio import workflow


@workflow.defn
class PausesOnce:
    @workflow.run
    async def run(self, seconds: float) -> str:
        if not workflow.unsafe.is_replaying():
            with workflow.unsafe.sandbox_unrestricted():
                time.sleep(seconds)  # noqa: ASYNC251 - blocking on purpose
        return "answered"


@workflow.defn
class RefusesEviction:
    @workflow.run
    async def run(self, hold_seconds: float) -> None:
        try:
            await workflow.wait_condition(lambda: False)
        finally:
            # Runs when the worker evicts this run: holds the thread past the deadlock limit.
            with workflow.unsafe.sandbox_unrestricted():
                time.sleep(hold_seconds)  # noqa: ASYNC251 - blocking on purpose

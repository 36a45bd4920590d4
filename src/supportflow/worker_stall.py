"""A worker that pauses, and a worker that can no longer give its slots back (issue 15 item 1).

The SDK fails any workflow task that has not yielded within **2 s of wall time** (deadlock
detection, ``TMPRL1101``) and then interrupts the activation's thread with an asynchronous
exception. On a saturated 2-core machine with 10,000 cached conversations, two ordinary
things take a well-behaved activation past 2 s: a full garbage collection, which walks every
cached conversation (~1.5 s at 10,000 on an idle core, more under contention), and the GIL,
shared by up to ``worker_max_concurrent_workflow_tasks`` activation threads, the event loop
and the API. The interruption then lands wherever the thread happens to be: in the asyncio
internals of the workflow's own event loop it leaves tasks that never finish, so the run's
eviction never completes, its slot is never given back, and the worker stops taking workflow
tasks while it still looks alive, and does not stop on SIGTERM (docs/tuning.md §6).

Two answers:

- ``allow_pauses`` gives activations ``Settings.worker_deadlock_timeout_seconds`` (10 s by
  default) instead of 2 s, so a GC or GIL pause is a slow task, not a failed and interrupted
  one. A workflow that really blocks is still caught, later.
- ``wait_for_stall`` watches each worker for the state the SDK cannot leave by itself: an
  eviction that timed out, or an interrupted activation whose thread has not come back. The
  process then exits with ``STALL_EXIT_CODE``; whatever supervises it (``supportflow up
  --workers N``, Kubernetes, systemd, compose) starts a fresh one, and Temporal gives the
  stalled worker's conversations to the workers that poll. Graceful shutdown is not
  attempted: it waits for the very slots that will never come back.

Both reach into the SDK's private ``_WorkflowWorker`` (temporalio 1.35): the deadlock limit
is not configurable outside debug mode, and there is no public signal of a stuck eviction.
They fail loudly at start if the SDK changes shape (tests/production/test_worker_stall.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from temporalio.worker import Worker

# EX_SOFTWARE: the worker cannot go on; a supervisor should start a fresh one.
STALL_EXIT_CODE = 70


class WorkerStalled(RuntimeError):
    """A worker can no longer complete workflow tasks; its process should be replaced."""


def _workflow_side(worker: Worker) -> Any | None:
    # Private in temporalio: the part of the Worker that runs workflow activations, absent
    # when the worker has no workflows.
    side = getattr(worker, "_workflow_worker", None)
    if side is None:
        return None
    for attr in ("_deadlock_timeout_seconds", "_could_not_evict_count", "_running_workflows"):
        if not hasattr(side, attr):
            raise RuntimeError(
                f"temporalio's workflow worker has no {attr}: supportflow.worker_stall "
                "needs updating for this SDK version"
            )
    return side


def allow_pauses(worker: Worker, seconds: float) -> None:
    """Let this worker's workflow activations run ``seconds`` before deadlock detection."""
    side = _workflow_side(worker)
    if side is not None and side._deadlock_timeout_seconds is not None:  # None: debug mode
        side._deadlock_timeout_seconds = seconds


def stall_reason(worker: Worker, interrupted_since: dict[str, float], stuck_after_s: float) -> str:
    """Why ``worker`` is stalled, or "" when it is not.

    ``interrupted_since`` maps run ids whose activation was interrupted to when this watch
    first saw them (updated in place); one still running after ``stuck_after_s`` is stuck.
    """
    side = _workflow_side(worker)
    if side is None:
        return ""
    if side._could_not_evict_count:
        return (
            f"{side._could_not_evict_count} workflow eviction(s) timed out on task queue "
            f"{worker.task_queue}: their slots may never be given back"
        )
    now = time.monotonic()
    seen: set[str] = set()
    for run_id, running in list(side._running_workflows.items()):
        task = getattr(running, "deadlocked_activation_task", None)
        if task is None or task.done():
            continue
        seen.add(run_id)
        first = interrupted_since.setdefault(run_id, now)
        if now - first >= stuck_after_s:
            return (
                f"an interrupted workflow activation on task queue {worker.task_queue} has "
                f"not returned in {now - first:.0f} s"
            )
    for run_id in set(interrupted_since) - seen:
        del interrupted_since[run_id]
    return ""


async def wait_for_stall(
    workers: Sequence[Worker], *, stuck_after_s: float, poll_s: float = 1.0
) -> str:
    """Return the reason as soon as one of ``workers`` is stalled (never, in a healthy one)."""
    interrupted: list[dict[str, float]] = [{} for _ in workers]
    while True:
        for worker, since in zip(workers, interrupted, strict=True):
            reason = stall_reason(worker, since, stuck_after_s)
            if reason:
                return reason
        await asyncio.sleep(poll_s)

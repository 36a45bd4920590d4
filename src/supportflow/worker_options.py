"""The Worker's tuning knobs, from settings (what each is worth: docs/tuning.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.worker import PollerBehaviorAutoscaling, PollerBehaviorSimpleMaximum
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from supportflow.observability.worker_health import LivenessPlugin
from supportflow.settings import Settings


def _pollers(n: int) -> PollerBehaviorSimpleMaximum | PollerBehaviorAutoscaling:
    return PollerBehaviorAutoscaling() if n == 0 else PollerBehaviorSimpleMaximum(maximum=n)


def sandbox_runner(settings: Settings) -> SandboxedWorkflowRunner:
    restrictions = SandboxRestrictions.default.with_passthrough_modules(
        *settings.worker_sandbox_passthrough
    )
    return SandboxedWorkflowRunner(restrictions=restrictions)


def worker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `temporalio.worker.Worker`."""
    return {
        "max_cached_workflows": settings.worker_max_cached_workflows,
        "max_concurrent_workflow_tasks": settings.worker_max_concurrent_workflow_tasks,
        "max_concurrent_activities": settings.worker_max_concurrent_activities,
        "max_concurrent_local_activities": settings.worker_max_concurrent_local_activities,
        "workflow_task_poller_behavior": _pollers(settings.worker_workflow_task_pollers),
        "activity_task_poller_behavior": _pollers(settings.worker_activity_task_pollers),
        "workflow_runner": sandbox_runner(settings),
        "graceful_shutdown_timeout": timedelta(seconds=settings.worker_graceful_shutdown_seconds),
        # A worker process's /health counts its running Workers (observability/worker_health.py).
        "plugins": [LivenessPlugin()],
    }

"""Worker tuning settings reach the Worker and the dev server as intended (docs/tuning.md)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from temporalio.worker import PollerBehaviorAutoscaling, PollerBehaviorSimpleMaximum
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from supportflow.settings import Settings
from supportflow.stack.temporal_server import _queue_poll_rates
from supportflow.worker_options import worker_options


def _settings() -> Settings:
    return Settings(_env_file=None)


def test_defaults_map_to_worker_arguments() -> None:
    s = _settings()
    opts = worker_options(s)
    assert opts["max_cached_workflows"] == s.worker_max_cached_workflows
    assert opts["max_concurrent_workflow_tasks"] == 100
    assert opts["workflow_task_poller_behavior"] == PollerBehaviorSimpleMaximum(maximum=5)
    assert isinstance(opts["workflow_runner"], SandboxedWorkflowRunner)


def test_environment_sets_autoscaling_pollers_and_passthrough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUPPORTFLOW_WORKER_WORKFLOW_TASK_POLLERS", "0")
    monkeypatch.setenv("SUPPORTFLOW_WORKER_ACTIVITY_TASK_POLLERS", "3")
    monkeypatch.setenv("SUPPORTFLOW_WORKER_MAX_CACHED_WORKFLOWS", "250")
    monkeypatch.setenv("SUPPORTFLOW_WORKER_SANDBOX_PASSTHROUGH", '["numpy", "sklearn"]')
    opts = worker_options(_settings())
    assert isinstance(opts["workflow_task_poller_behavior"], PollerBehaviorAutoscaling)
    assert opts["activity_task_poller_behavior"] == PollerBehaviorSimpleMaximum(maximum=3)
    assert opts["max_cached_workflows"] == 250
    runner = opts["workflow_runner"]
    assert {"numpy", "sklearn"} <= runner.restrictions.passthrough_modules


def test_bad_values_are_refused_with_the_setting_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", "1")
    with pytest.raises(ValidationError, match="worker_max_concurrent_workflow_tasks"):
        _settings()


def test_dev_server_reads_its_task_queues_at_the_configured_rate() -> None:
    args = _queue_poll_rates(500)
    assert args.count("--dynamic-config-value") == 3
    assert "history.transferProcessorMaxPollRPS=500" in args

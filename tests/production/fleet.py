"""Worker and API processes started as an operator would (`supportflow worker`,
`supportflow api`, configured by SUPPORTFLOW_* variables), for tests of several processes
and of how one process starts and stops (issue 15 items 2 and 6)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from supportflow.crypto.keyring import load_keyring
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.stack.demo_tenant import ensure_demo_tenant
from supportflow.stack.private_dir import make_private_data_dir
from supportflow.stack.worker_processes import settings_env
from tests.helpers import SUPPORTFLOW, TEST_ENCRYPTION_KEYS

# How long `Fleet.stop` lets a process drain after SIGTERM before it is killed.
STOP_GRACE_S = 40.0


@dataclass
class Fleet:
    """The worker and API processes, configured as an operator would: SUPPORTFLOW_*
    variables (secrets in the environment, never in argv), one log file each."""

    settings: Settings
    temporal: Client
    logs: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    apis: list[subprocess.Popen[bytes]] = field(default_factory=list)
    api_ports: list[int] = field(default_factory=list)
    killed: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _env(self, **extra: str) -> dict[str, str]:
        return process_env(self.settings, **extra)

    def _spawn(self, name: str, command: str, **extra: str) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as out:
            return subprocess.Popen(
                [SUPPORTFLOW, command],
                env=self._env(**extra),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )

    def start_worker(self, **extra: str) -> subprocess.Popen[bytes]:
        proc = self._spawn(f"worker-{len(self.workers)}", "worker", **extra)
        self.workers.append(proc)
        return proc

    def start_api(self, port: int) -> subprocess.Popen[bytes]:
        proc = self._spawn(f"api-{len(self.apis)}", "api", SUPPORTFLOW_API_PORT=str(port))
        self.apis.append(proc)
        return proc

    def api_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self.killed.append(proc)

    async def polling_pids(self) -> set[str]:
        resp = await self.temporal.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=self.settings.temporal_namespace,
                task_queue=TaskQueue(name=self.settings.task_queue_agents),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        # A worker's default identity is "<pid>@<host>".
        return {p.identity.split("@", 1)[0] for p in resp.pollers}

    async def wait_polling(self, procs: list[subprocess.Popen[bytes]]) -> None:
        async def polling() -> bool:
            self._alive_or_fail(procs)
            return {str(p.pid) for p in procs} <= await self.polling_pids()

        await until(polling, "workers polling", 120)

    async def wait_healthy(self, port: int, proc: subprocess.Popen[bytes]) -> None:
        async def healthy() -> bool:
            self._alive_or_fail([proc])
            async with httpx.AsyncClient(timeout=2) as http:
                try:
                    return (await http.get(f"{self.api_url(port)}/health")).status_code == 200
                except httpx.HTTPError:
                    return False

        await until(healthy, "API healthy", 120)

    def _alive_or_fail(self, procs: list[subprocess.Popen[bytes]]) -> None:
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"{proc.args!r} exited at start ({proc.returncode}); see {self.logs}")

    async def stop(self) -> dict[str, list[int | None]]:
        """SIGTERM every process still running (APIs first): exit codes of the APIs and of
        the workers (None: still running after the grace period, then killed)."""
        codes: dict[str, list[int | None]] = {"api": [], "worker": []}
        running = [
            (kind, p)
            for kind, procs in (("api", self.apis), ("worker", self.workers))
            for p in procs
            if p.poll() is None
        ]
        for _, proc in running:
            proc.send_signal(signal.SIGTERM)
        for kind, proc in running:
            try:
                codes[kind].append(await asyncio.to_thread(proc.wait, STOP_GRACE_S))
            except subprocess.TimeoutExpired:
                codes[kind].append(None)
                proc.kill()
                await asyncio.to_thread(proc.wait, 10)
        return codes


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a process configured by ``settings`` (and ``extra`` variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTFLOW_")}
    env.update(settings_env(settings))
    # An API process starts the tenants' management agents by default in production;
    # settings_env writes the field's default (false) out, which would turn that off.
    env.pop("SUPPORTFLOW_MANAGEMENT_AUTOSTART", None)
    env.update(extra)
    return env


async def until(check: Callable[[], object], what: str, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while True:
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {limit_s:.0f}s")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def running_fleet(settings: Settings, temporal: Client, logs: Path) -> AsyncIterator[Fleet]:
    fleet = Fleet(settings, temporal, logs)
    try:
        yield fleet
    finally:
        await fleet.stop()  # what the test did not stop itself


def fleet_settings(
    tmp_path: Path, database_url: str, store_url: str, temporal: str, **overrides: Any
) -> Settings:
    """Settings for the processes of one test: its own task queues and data directory."""
    tag = uuid.uuid4().hex[:8]
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        store_url=store_url,
        temporal_address=temporal,
        temporal_namespace="default",
        task_queue_agents=f"agents-{tag}",
        task_queue_ai=f"ai-{tag}",
        task_queue_integrations=f"integrations-{tag}",
        model=os.environ.get("SUPPORTFLOW_TEST_MODEL", "local"),
        encryption_keys=SecretStr(TEST_ENCRYPTION_KEYS),
        # The balancer appends the simulator's address to the shopper's: per-address rate
        # limits apply per simulated shopper, as behind a production load balancer.
        trusted_proxies=["127.0.0.1"],
        log_level="WARNING",
        **overrides,
    )


def demo_tenant(settings: Settings) -> dict[str, str]:
    """The demo tenant in the app database (migrated first): its keys and id."""
    make_private_data_dir(settings.data_dir)
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    try:
        return ensure_demo_tenant(
            make_session_factory(engine), settings.data_dir, load_keyring(settings, create=True)
        )
    finally:
        engine.dispose()

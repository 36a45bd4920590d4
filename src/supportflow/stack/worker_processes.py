"""Worker processes for ``supportflow up --workers N`` (issue 15): the same workers as
``supportflow worker``, each in a process of its own, against the stack's Temporal server,
app database and data directory.

One Python process is the bound of a worker (its event loop and the sandbox run on one core),
so a machine with more cores serves more conversations with more processes. Each child gets
the stack's settings as it runs them (the embedded SMTP relay, the local Twilio stand-in, the
demo tenant…) through ``SUPPORTFLOW_*`` variables: secrets travel in the child's environment,
never on its command line or in a log. A child that exits without being asked is started
again after a pause that doubles up to a minute; its output goes to
``<data dir>/logs/worker-<i>.log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import NoDecode
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from supportflow.settings import Settings

log = logging.getLogger(__name__)

_BIN = Path(sys.executable).parent
# A child that dies is started again after this, doubling up to the cap.
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 60.0
STOP_GRACE_S = 30.0


def _comma_joined(field: Any) -> bool:
    """Whether a settings field is read from the environment as "a,b" (NoDecode), not JSON."""
    return any(m is NoDecode or isinstance(m, NoDecode) for m in field.metadata)


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as the ``SUPPORTFLOW_*`` variables that make the same Settings in a child
    process (unset optional values are left out)."""
    env: dict[str, str] = {}
    dumped = settings.model_dump(mode="json")
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        if value is None:
            continue
        key = f"SUPPORTFLOW_{name.upper()}"
        if isinstance(value, SecretStr):
            env[key] = value.get_secret_value()
        elif isinstance(value, list) and _comma_joined(field):
            env[key] = ",".join(str(v) for v in value)
        elif isinstance(value, str):
            env[key] = value
        elif isinstance(dumped[name], (list, dict)):
            env[key] = json.dumps(dumped[name])
        elif isinstance(dumped[name], bool):
            env[key] = "true" if dumped[name] else "false"
        else:
            env[key] = str(dumped[name])
    return env


class WorkerProcesses:
    """``count`` ``supportflow worker`` processes, kept running until ``stop``."""

    def __init__(self, settings: Settings, count: int) -> None:
        self._settings = settings
        self._count = count
        self._procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self._stopping = False
        self._supervisor: asyncio.Task[None] | None = None
        self.restarts = 0

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p is not None and p.poll() is None]

    def child_env(self, i: int) -> dict[str, str]:
        """Child ``i``'s environment: what `up` runs, and a metrics port of its own (the
        configured one plus ``i``; 0 lets each pick a free one)."""
        # Nothing of the caller's own SUPPORTFLOW_* leaks in: the child runs what `up` runs.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTFLOW_")}
        env.update(settings_env(self._settings))
        port = self._settings.worker_metrics_port
        if port:
            env["SUPPORTFLOW_WORKER_METRICS_PORT"] = str(port + i)
        return env

    def _spawn(self, i: int) -> subprocess.Popen[bytes]:
        logs = self._settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / f"worker-{i}.log").open("ab") as out:
            return subprocess.Popen(
                [str(_BIN / "supportflow"), "worker"],
                env=self.child_env(i),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )

    async def start(self, client: Client, ready_timeout_s: float = 90.0) -> None:
        """Start every child and wait until each polls the agents' task queue."""
        self._procs = [self._spawn(i) for i in range(self._count)]
        await self._wait_polling(client, ready_timeout_s)
        self._supervisor = asyncio.create_task(self._supervise())

    async def _pollers(self, client: Client) -> set[str]:
        resp = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=self._settings.temporal_namespace,
                task_queue=TaskQueue(name=self._settings.task_queue_agents),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        # A worker's default identity is "<pid>@<host>".
        return {p.identity.split("@", 1)[0] for p in resp.pollers}

    async def _wait_polling(self, client: Client, timeout_s: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            dead = [i for i, p in enumerate(self._procs) if p is not None and p.poll() is not None]
            if dead:
                raise RuntimeError(
                    f"worker process {dead[0]} exited at start; see "
                    f"{self._settings.data_dir / 'logs' / f'worker-{dead[0]}.log'}"
                )
            with contextlib.suppress(RPCError):
                polling = await self._pollers(client)
                if all(str(pid) in polling for pid in self.pids) and len(self.pids) == self._count:
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"worker processes not polling after {timeout_s:.0f}s")
            await asyncio.sleep(0.3)

    async def _supervise(self) -> None:
        pause = [RESTART_FIRST_S] * self._count
        while not self._stopping:
            await asyncio.sleep(0.5)
            for i, proc in enumerate(self._procs):
                if self._stopping or proc is None or proc.poll() is None:
                    continue
                log.warning(
                    "worker process %d exited (code %s); starting it again", i, proc.returncode
                )
                await asyncio.sleep(pause[i])
                pause[i] = min(pause[i] * 2, RESTART_MAX_S)
                if not self._stopping:
                    self._procs[i] = self._spawn(i)
                    self.restarts += 1

    async def stop(self) -> None:
        """SIGTERM every child (a worker finishes its tasks in flight), SIGKILL after the
        grace period."""
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        running = [p for p in self._procs if p is not None and p.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        for proc in running:
            try:
                await asyncio.to_thread(proc.wait, STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait, 10)

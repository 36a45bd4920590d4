"""A stack of separate processes that the chaos run can break one part at a time.

The Temporal dev server (file-backed SQLite, so it can be stopped and started again on the same
port and database), the demo store (admin endpoints on, for faults), the API and K
``supportflow worker`` processes, all on free loopback ports, all state in one directory. The
parts are configured exactly as an operator would: ``SUPPORTFLOW_*`` environment variables.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from supportflow.crypto.keyring import load_keyring
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.stack.demo_tenant import ensure_demo_tenant
from supportflow.stack.temporal_server import start_dev_server
from supportflow.temporal.client import connect

log = logging.getLogger(__name__)

TASK_QUEUE = "supportflow-chaos"
_BIN = Path(sys.executable).parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while True:
        try:
            if await check():
                return
        except (httpx.HTTPError, OSError, RPCError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready within {limit_s:.0f}s")
        await asyncio.sleep(0.1)


@dataclass
class WorkerSlot:
    index: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class ChaosStack:
    """Start with ``start()``, stop with ``stop()``; ``root`` holds data and one log per part."""

    root: Path
    workers: int = 2
    settings: Settings = field(init=False)
    tenant: dict[str, str] = field(init=False, default_factory=dict)
    slots: list[WorkerSlot] = field(init=False, default_factory=list)
    temporal: WorkflowEnvironment | None = field(init=False, default=None)
    store: subprocess.Popen[bytes] | None = field(init=False, default=None)
    observer: subprocess.Popen[bytes] | None = field(init=False, default=None)
    observer_port: int = field(init=False, default=0)
    api: subprocess.Popen[bytes] | None = field(init=False, default=None)
    client: Client | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("the stack needs at least one worker")
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "logs").mkdir(exist_ok=True)
        self.settings = Settings(
            data_dir=(self.root / "data").resolve(),
            temporal_address=f"127.0.0.1:{free_port()}",
            temporal_namespace="default",
            temporal_ui_port=free_port(),
            api_host="127.0.0.1",
            api_port=free_port(),
            store_host="127.0.0.1",
            store_port=free_port(),
            # One queue for all roles, as `up` does: activities go straight back to the
            # worker that scheduled them (eager dispatch).
            task_queue_agents=TASK_QUEUE,
            task_queue_ai=TASK_QUEUE,
            task_queue_integrations=TASK_QUEUE,
            model="local",
            log_level="WARNING",
        )
        self.observer_port = free_port()
        self.slots = [WorkerSlot(i) for i in range(self.workers)]

    # -- addresses ------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.settings.api_url

    @property
    def store_url(self) -> str:
        return self.settings.resolved_store_url

    @property
    def observer_url(self) -> str:
        """The same store database through a second store process that is never faulted:
        for the simulator, which reads orders to pick customers and to check outcomes."""
        return f"http://{self.settings.store_host}:{self.observer_port}"

    @property
    def store_db(self) -> Path:
        return self.settings.data_dir / "store.db"

    @property
    def temporal_db(self) -> Path:
        return self.settings.data_dir / "temporal.db"

    def _env(self, **extra: str) -> dict[str, str]:
        s = self.settings
        # Nothing from the caller's SUPPORTFLOW_* settings leaks in (a Cloud API key, say).
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTFLOW_")}
        env.update(
            {
                "SUPPORTFLOW_DATA_DIR": str(s.data_dir),
                "SUPPORTFLOW_TEMPORAL_ADDRESS": s.temporal_address,
                "SUPPORTFLOW_TEMPORAL_NAMESPACE": s.temporal_namespace,
                "SUPPORTFLOW_API_HOST": s.api_host,
                "SUPPORTFLOW_API_PORT": str(s.api_port),
                "SUPPORTFLOW_STORE_URL": self.store_url,
                "SUPPORTFLOW_TASK_QUEUE_AGENTS": s.task_queue_agents,
                "SUPPORTFLOW_TASK_QUEUE_AI": s.task_queue_ai,
                "SUPPORTFLOW_TASK_QUEUE_INTEGRATIONS": s.task_queue_integrations,
                "SUPPORTFLOW_MODEL": s.model,
                "SUPPORTFLOW_LOG_LEVEL": s.log_level,
                # The simulator names each shopper's address in X-Forwarded-For: rate limits
                # apply per simulated shopper, not to the whole run from loopback.
                "SUPPORTFLOW_TRUSTED_PROXIES": "127.0.0.1",
                **extra,
            }
        )
        return env

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with (self.root / "logs" / f"{name}.log").open("ab") as out:
            # The child keeps its own copy of the descriptor.
            return subprocess.Popen(
                argv,
                env=self._env(),
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await self.start_temporal()
        self.client = await connect(self.settings)
        url = self.settings.resolved_database_url
        await asyncio.to_thread(upgrade, url)
        engine = make_engine(url)
        try:
            self.tenant = await asyncio.to_thread(
                ensure_demo_tenant,
                make_session_factory(engine),
                self.settings.data_dir,
                load_keyring(self.settings, create=True),
            )
        finally:
            engine.dispose()
        self.store = self._spawn_store("store", self.settings.store_port)
        await wait_until(lambda: self._healthy(self.store_url), "store", 120)
        # Started once the first has created and seeded the database.
        self.observer = self._spawn_store("store-observer", self.observer_port)
        await wait_until(lambda: self._healthy(self.observer_url), "observer store", 120)
        for slot in self.slots:
            self.start_worker(slot)
        await wait_until(self._all_workers_polling, "workers", 180)
        self.api = self._spawn("api", [str(_BIN / "supportflow"), "api"])
        await wait_until(lambda: self._healthy(self.api_url), "API", 120)

    def _spawn_store(self, name: str, port: int) -> subprocess.Popen[bytes]:
        module = "supportflow.chaos.store_process"
        db, p = str(self.store_db), str(port)
        return self._spawn(name, [str(_BIN / "python"), "-m", module, "--db", db, "--port", p])

    async def stop(self) -> None:
        procs = [self.api, *(slot.process for slot in self.slots), self.store, self.observer]
        for proc in procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            if proc is None:
                continue
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait, 10)
        await self.stop_temporal()

    async def _healthy(self, base_url: str) -> bool:
        async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:
            return (await http.get("/health")).status_code == 200

    # -- Temporal -------------------------------------------------------------------------

    async def start_temporal(self) -> None:
        """Start the dev server on the configured port and database file (again, after a stop)."""
        self.temporal = await start_dev_server(self.settings)

    async def stop_temporal(self) -> None:
        if self.temporal is not None:
            await self.temporal.shutdown()
            self.temporal = None

    async def _pollers(self) -> set[str]:
        assert self.client is not None
        resp = await self.client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=self.settings.temporal_namespace,
                task_queue=TaskQueue(name=TASK_QUEUE),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        return {p.identity for p in resp.pollers}

    async def polling_slots(self) -> list[WorkerSlot]:
        """Workers that are up and have polled the server (so may hold tasks in flight)."""
        try:
            pids = {i.split("@", 1)[0] for i in await self._pollers()}
        except RPCError:  # the server is down: nobody is polling
            return []
        return [s for s in self.slots if s.process and s.alive and str(s.process.pid) in pids]

    async def _all_workers_polling(self) -> bool:
        # A worker's default identity is "<pid>@<hostname>".
        identities = await self._pollers()
        pids = {i.split("@", 1)[0] for i in identities}
        return all(
            slot.process is not None and str(slot.process.pid) in pids for slot in self.slots
        )

    # -- workers --------------------------------------------------------------------------

    def start_worker(self, slot: WorkerSlot) -> int:
        slot.process = self._spawn(f"worker-{slot.index}", [str(_BIN / "supportflow"), "worker"])
        slot.starts += 1
        return slot.process.pid

    def kill_worker(self, slot: WorkerSlot) -> int | None:
        """SIGKILL: no graceful shutdown, in-flight tasks are lost to Temporal's timeouts."""
        proc = slot.process
        if proc is None or proc.poll() is not None:
            return None
        proc.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        return proc.pid

    def exited_unasked(self) -> list[tuple[str, int]]:
        """Parts that died although nobody killed them: (name, exit code)."""
        out: list[tuple[str, int]] = []
        for name, proc in (("store", self.store), ("observer", self.observer), ("api", self.api)):
            if proc is not None and proc.poll() is not None:
                out.append((name, proc.returncode))
        return out

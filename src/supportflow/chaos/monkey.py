"""What the chaos run does to the stack while the simulation runs.

- SIGKILL a random worker at random times, and start it again after a short random delay;
- stop the Temporal dev server once (at a random kill) and start it again on the same port
  and database file;
- make the store fail a share of its calls and stall some past the caller's timeout, the
  failures landing now before the write, now after it committed (the phase flips at random).

Every action goes to the ``EventLog`` with its time. Seeded: the same seed, the same plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from supportflow.chaos.events import EventLog
from supportflow.chaos.stack import ChaosStack, WorkerSlot


@dataclass(frozen=True)
class ChaosPlan:
    kills: int = 20
    temporal_restarts: int = 1
    store_error_rate: float = 0.2
    store_timeout_rate: float = 0.02
    # Above the workers' store client timeout (10 s), so a stall is a timeout to them.
    store_stall_s: float = 12.0
    # Spread over the simulation (which takes minutes with the store failing), not bunched.
    kill_gap_s: tuple[float, float] = (2.0, 12.0)
    worker_down_s: tuple[float, float] = (0.5, 3.0)
    temporal_down_s: tuple[float, float] = (1.0, 3.0)
    fault_phase_s: tuple[float, float] = (5.0, 15.0)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kills < 0 or self.temporal_restarts < 0:
            raise ValueError("kills and temporal restarts must be >= 0")
        if not 0 <= self.store_error_rate + self.store_timeout_rate <= 1:
            raise ValueError("store error rate + timeout rate must be within [0, 1]")
        for name in ("kill_gap_s", "worker_down_s", "temporal_down_s", "fault_phase_s"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name} must be (low, high) with 0 <= low <= high")


@dataclass
class ChaosTally:
    kills: int = 0
    worker_starts: int = 0
    unplanned_exits: int = 0
    temporal_restarts: int = 0
    store_faults: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kills": self.kills,
            "worker_restarts": self.worker_starts,
            "unplanned_worker_exits": self.unplanned_exits,
            "temporal_restarts": self.temporal_restarts,
            "store_faults": dict(sorted(self.store_faults.items())),
        }


class Monkey:
    def __init__(self, stack: ChaosStack, plan: ChaosPlan, log: EventLog) -> None:
        self.stack = stack
        self.plan = plan
        self.log = log
        self.tally = ChaosTally()
        self._rng = random.Random(plan.seed)
        self._restarts: set[asyncio.Task[None]] = set()
        self._faults_on = False
        self._fault_round = 0

    async def run(self, done: asyncio.Event) -> None:
        """Break things until the plan is carried out or ``done`` is set (the simulation
        ended), then keep the store faulty and the workers watched until ``done``."""
        async with httpx.AsyncClient(base_url=self.stack.store_url, timeout=10) as admin:
            faults = asyncio.create_task(self._store_faults(admin, done))
            watch = asyncio.create_task(self._watch_workers(done))
            try:
                await self._kills(done)
                await done.wait()
            finally:
                faults.cancel()
                watch.cancel()
                for task in (faults, watch):
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await self._faults_off(admin)
                await self._settle_workers()

    # -- workers and the server ---------------------------------------------------------

    async def _kills(self, done: asyncio.Event) -> None:
        plan = self.plan
        # The server restarts come in place of randomly chosen gaps between kills.
        restarts = plan.temporal_restarts
        restart_at = (
            sorted(self._rng.sample(range(plan.kills), restarts))
            if plan.kills >= restarts
            else [0] * restarts
        )
        for n in range(plan.kills):
            if await _sleep_unless(done, self._rng.uniform(*plan.kill_gap_s)):
                return
            while restart_at and restart_at[0] <= n:
                restart_at.pop(0)
                await self._restart_temporal()
            slot = await self._victim(done)
            if slot is None:
                return
            pid = self.stack.kill_worker(slot)
            self.tally.kills += 1
            self.log.add("kill", f"worker-{slot.index} pid {pid} (SIGKILL #{self.tally.kills})")
            self._restart_later(slot, self._rng.uniform(*plan.worker_down_s))
        for _ in restart_at:
            await self._restart_temporal()

    async def _victim(self, done: asyncio.Event) -> WorkerSlot | None:
        """A random worker that is polling: one still loading would die holding no task."""
        while not done.is_set():
            ready = await self.stack.polling_slots()
            if ready:
                return self._rng.choice(ready)
            await asyncio.sleep(0.5)
        return None

    async def _restart_temporal(self) -> None:
        await self.stack.stop_temporal()
        self.log.add("temporal-stop", f"dev server on {self.stack.settings.temporal_address}")
        await asyncio.sleep(self._rng.uniform(*self.plan.temporal_down_s))
        await self.stack.start_temporal()
        self.tally.temporal_restarts += 1
        self.log.add("temporal-start", f"same port, same database {self.stack.temporal_db.name}")

    def _restart_later(self, slot: WorkerSlot, delay_s: float) -> None:
        async def restart() -> None:
            await asyncio.sleep(delay_s)
            if not slot.alive:
                self._start(slot, f"after {delay_s:.1f}s down")

        task = asyncio.create_task(restart())
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    def _start(self, slot: WorkerSlot, why: str) -> None:
        pid = self.stack.start_worker(slot)
        self.tally.worker_starts += 1
        self.log.add("worker-start", f"worker-{slot.index} pid {pid} ({why})")

    async def _watch_workers(self, done: asyncio.Event) -> None:
        """A worker that exits by itself (not killed by us) is logged and started again; the
        other parts are never restarted, their exit only logged."""
        gone: set[str] = set()
        while not done.is_set():
            await asyncio.sleep(1.0)
            for name, code in self.stack.exited_unasked():
                if name not in gone:
                    gone.add(name)
                    self.log.add("part-exit", f"{name} exited by itself ({code})")
            for slot in self.stack.slots:
                proc = slot.process
                if proc is None or proc.returncode is not None:
                    continue  # killed by us: its restart is scheduled
                exit_code = proc.poll()
                if exit_code is not None:
                    self.tally.unplanned_exits += 1
                    self.log.add(
                        "worker-exit", f"worker-{slot.index} exited by itself ({exit_code})"
                    )
                    self._start(slot, "after an unplanned exit")

    async def _settle_workers(self) -> None:
        """After the chaos: every pending restart done, every worker running."""
        if self._restarts:
            await asyncio.gather(*self._restarts, return_exceptions=True)
        for slot in self.stack.slots:
            if not slot.alive:
                self._start(slot, "chaos over")

    # -- the store ----------------------------------------------------------------------

    async def _store_faults(self, admin: httpx.AsyncClient, done: asyncio.Event) -> None:
        phase = "before"
        while True:
            await self._configure(admin, phase)
            if await _sleep_unless(done, self._rng.uniform(*self.plan.fault_phase_s)):
                return
            phase = "after" if phase == "before" else "before"

    async def _configure(self, admin: httpx.AsyncClient, phase: str) -> None:
        await self._collect(admin)
        p = self.plan
        self._fault_round += 1
        settings = {
            "error_rate": p.store_error_rate,
            "timeout_rate": p.store_timeout_rate,
            "timeout_seconds": p.store_stall_s,
            "phase": phase,
            "seed": p.seed * 1000 + self._fault_round,
        }
        (await admin.post("/admin/faults", json=settings)).raise_for_status()
        self._faults_on = True
        self.log.add(
            "store-faults",
            f"fail {p.store_error_rate:.0%}, stall {p.store_timeout_rate:.0%} of calls "
            f"for {p.store_stall_s:.0f}s, {phase} the write",
        )

    async def _faults_off(self, admin: httpx.AsyncClient) -> None:
        if not self._faults_on:
            return
        await self._collect(admin)
        (await admin.delete("/admin/faults")).raise_for_status()
        self._faults_on = False
        self.log.add("store-faults", "off")

    async def _collect(self, admin: httpx.AsyncClient) -> None:
        """Add up what the current fault settings injected (reconfiguring resets the count)."""
        if not self._faults_on:
            return
        state = (await admin.get("/admin/faults")).raise_for_status().json()
        for label, n in state["injected"].items():
            # "<operation>:<kind>_<phase>" -> "<kind>_<phase>"
            self.tally.store_faults[label.split(":", 1)[1]] += int(n)


async def _sleep_unless(done: asyncio.Event, seconds: float) -> bool:
    """Sleep; True if ``done`` was set first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), seconds)
    return done.is_set()

"""The chaos run: a simulation against a stack that is being broken, then the checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supportflow.chaos.checks import CheckResult, run_checks, settle, workflow_id_of
from supportflow.chaos.events import EventLog
from supportflow.chaos.monkey import ChaosPlan, ChaosTally, Monkey
from supportflow.chaos.stack import ChaosStack
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.sim import WITH_ACTIONS, SimOptions, SimResult, Target, simulate
from supportflow.temporal.client import connect
from supportflow.tenants.service import find_customer

log = logging.getLogger("supportflow.chaos")


@dataclass(frozen=True)
class ChaosOptions:
    conversations: int = 200
    concurrency: int = 50
    workers: int = 2
    seed: int = 0
    plan: ChaosPlan = field(default_factory=ChaosPlan)
    # Conversations whose outcome is a store action (cancels, returns, address changes).
    behaviours: tuple[str, ...] | None = WITH_ACTIONS
    # Per message, across resends. Longer than the workflow's patience with a failing store
    # (5 min, then a holding reply), so a slow answer is not mistaken for a lost one.
    reply_timeout_s: float = 420.0
    # After the chaos: how long sagas still retrying may take to finish before the checks.
    settle_s: float = 120.0
    # Keep the stack's data and logs here (default: a temporary directory, removed after).
    keep_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.conversations < 1 or self.concurrency < 1:
            raise ValueError("conversations and concurrency must be >= 1")
        if self.workers < 1:
            raise ValueError("the stack needs at least one worker")


@dataclass
class ChaosReport:
    options: ChaosOptions
    tally: ChaosTally
    events: EventLog
    checks: list[CheckResult]
    conversations: int
    outcomes_ok: int
    wall_s: float
    simulation_s: float
    still_busy: int
    run_dir: Path | None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        o = self.options
        return {
            "ok": self.ok,
            "options": {
                "conversations": o.conversations,
                "concurrency": o.concurrency,
                "workers": o.workers,
                "seed": o.seed,
                "kills": o.plan.kills,
                "temporal_restarts": o.plan.temporal_restarts,
                "store_error_rate": o.plan.store_error_rate,
                "store_timeout_rate": o.plan.store_timeout_rate,
                "behaviours": list(o.behaviours or ()),
            },
            "chaos": self.tally.as_dict(),
            "conversations": self.conversations,
            "outcomes_ok": self.outcomes_ok,
            "wall_s": round(self.wall_s, 1),
            "simulation_s": round(self.simulation_s, 1),
            "workflows_still_busy_after_settle": self.still_busy,
            "checks": [c.as_dict() for c in self.checks],
            "events": [e.as_dict() for e in self.events.events],
        }


def plan_carried_out(plan: ChaosPlan, tally: ChaosTally) -> CheckResult:
    """The chaos happened while the simulation ran (a run that ended early proves less)."""
    faults = sum(tally.store_faults.values())
    want_faults = plan.store_error_rate + plan.store_timeout_rate > 0
    problems: list[str] = []
    if tally.kills < plan.kills:
        problems.append(f"{tally.kills} of {plan.kills} kills before the simulation ended")
    if tally.temporal_restarts < plan.temporal_restarts:
        problems.append(
            f"{tally.temporal_restarts} of {plan.temporal_restarts} server restarts "
            "before the simulation ended"
        )
    if want_faults and faults == 0:
        problems.append("the store injected no faults")
    return CheckResult(
        "chaos carried out as planned",
        not problems,
        f"{tally.kills} worker kills, {tally.temporal_restarts} server restarts, "
        f"{faults} store faults",
        tally.as_dict(),
        problems,
    )


async def run_chaos(options: ChaosOptions, *, progress: bool = True) -> ChaosReport:
    started = time.monotonic()
    root = options.keep_dir or Path(tempfile.mkdtemp(prefix="supportflow-chaos-"))
    stack = ChaosStack(root, options.workers)
    events = EventLog()
    try:
        await stack.start()
        events.add("stack-up", f"{options.workers} workers, data and logs in {root}")
        monkey = Monkey(stack, options.plan, events)
        sim_started = time.monotonic()
        result = await _simulate_under_chaos(stack, options, monkey, progress)
        simulation_s = time.monotonic() - sim_started
        events.add("simulation-done", f"{len(result.conversations)} conversations")
        client = await connect(stack.settings)
        tenant_id = stack.tenant["tenant_id"]
        await asyncio.to_thread(_fill_customer_ids, stack, result)
        ids = [i for c in result.conversations if (i := workflow_id_of(c, tenant_id))]
        still_busy = await settle(client, ids, options.settle_s)
        events.add("settled", f"{still_busy} workflows still had activities pending")
        failed_dir = options.keep_dir / "failed-histories" if options.keep_dir else None
        checks = await run_checks(
            client, result.conversations, tenant_id, stack.store_db, failed_dir
        )
        checks.insert(0, plan_carried_out(options.plan, monkey.tally))
        events.add("checked", ", ".join(f"{c.name}: {'ok' if c.ok else 'FAIL'}" for c in checks))
        return ChaosReport(
            options=options,
            tally=monkey.tally,
            events=events,
            checks=checks,
            conversations=len(result.conversations),
            outcomes_ok=sum(1 for c in result.conversations if c.outcome_ok),
            wall_s=time.monotonic() - started,
            simulation_s=simulation_s,
            still_busy=still_busy,
            run_dir=options.keep_dir,
        )
    finally:
        await stack.stop()
        if options.keep_dir is None:
            shutil.rmtree(root, ignore_errors=True)


def _fill_customer_ids(stack: ChaosStack, result: SimResult) -> None:
    """The simulator learns a conversation's customer from its first answer; when even that
    never came, the app database still knows whom the visitor id belongs to."""
    missing = [c for c in result.conversations if not c.customer_id and not c.workflow_id]
    if not missing:
        return
    engine = make_engine(stack.settings.resolved_database_url)
    try:
        sessions = make_session_factory(engine)
        tenant_id = stack.tenant["tenant_id"]
        for conv in missing:
            conv.customer_id = find_customer(sessions, tenant_id, "chat", conv.visitor_id)
    finally:
        engine.dispose()


async def _simulate_under_chaos(
    stack: ChaosStack, options: ChaosOptions, monkey: Monkey, progress: bool
) -> SimResult:
    s = stack.settings
    target = Target(
        api_url=stack.api_url,
        chat_key=stack.tenant["chat_key"],
        api_key=stack.tenant["api_key"],
        store_url=stack.observer_url,
        temporal_address=s.temporal_address,
        namespace=s.temporal_namespace,
        # The simulated customers are verified by tokens signed with the tenant's secret.
        identity_secret=stack.tenant["identity_secret"],
    )
    sim_options = SimOptions(
        customers=options.conversations,
        concurrency=options.concurrency,
        seed=options.seed,
        reply_timeout_s=options.reply_timeout_s,
        behaviours=options.behaviours,
    )
    done = asyncio.Event()
    sim = asyncio.create_task(simulate(target, sim_options, progress=progress))
    sim.add_done_callback(lambda _: done.set())
    chaos = asyncio.create_task(monkey.run(done))
    await asyncio.wait({sim, chaos}, return_when=asyncio.FIRST_EXCEPTION)
    if chaos.done() and chaos.exception() is not None:
        sim.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sim
        await chaos  # raises the chaos task's error
    try:
        return await sim
    finally:
        await chaos

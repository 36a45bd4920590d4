"""Custom-action round trip: workflow -> TypeScript or Python activity -> reply (issue 16).

A Python workflow calling a TypeScript activity, against the same with a Python activity, on
one stack in one run.

  .venv/bin/python -m bench.custom_action_roundtrip [--turns 100] [--block 20] [--warmup 10]
      [--quick] [--json PATH]

Starts `supportflow up` on a fresh data directory and, beside it, two merchant workers for the
demo tenant serving activity `custom_action.loyalty_balance`, each in a process of its own:
the TypeScript SDK's `createCustomActionWorker` running the loyalty-service example's handler
(bench/loyalty_worker.js, Node, on queue `supportflow-actions.<tenant>.ts`), and a Python
temporalio worker with the same handler (on `supportflow-actions.<tenant>.py`). Both answer
from the same member table. The tenant has one knowledge article for "how many loyalty points
do I have", answered three ways:

- ``ts``: the article names the action, the policy routes it to the TypeScript worker;
- ``py``: the same, the policy routes it to the Python worker;
- ``plain``: the article is a plain answer (no action), the baseline of the same question.

Every turn is a verified customer's chat message through the HTTP API (identity token as a
store's logged-in shopper has), timed from POST to reply, one at a time. The three ways take
turns in blocks (the order rotating each round, so a drift in the machine's load is shared);
each block is a new conversation of a new customer whose first turn (the workflow start,
the knowledge index catching up with the article just edited) is not counted, and a warm-up
block of each way runs first. Prints p50/p90/p99 of each way, TypeScript / Python and each
against the plain article; the activity alone (scheduled -> completed, from the histories);
and each worker's CPU per call. Exits non-zero on a wrong reply, or when a worker served
another number of calls than its way's turns (a call gone to the wrong worker).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, Any, Literal

import httpx
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from bench.stack import Stack, fresh_stack, pct
from supportflow.contract.custom_actions import (
    CustomActionError,
    CustomActionInput,
    CustomActionResult,
    activity_name,
)
from supportflow.crypto.codec import data_converter
from supportflow.crypto.keyring import parse_keys_setting
from supportflow.policy.custom_actions import default_queue
from supportflow.sim.client import shopper_address
from supportflow.workflows.contract import customer_workflow_id

Mode = Literal["plain", "ts", "py"]
MODES: tuple[Mode, ...] = ("plain", "ts", "py")
LABELS: dict[Mode, str] = {
    "plain": "plain article (no action)",
    "ts": "TypeScript activity",
    "py": "Python activity",
}
QUESTION = "how many loyalty points do I have"
ACTION = "loyalty_balance"
TITLE = "Loyalty points balance"
TAGS = ["loyalty", "points", "rewards", "balance"]
ACTION_BODY = "You have {points} loyalty points ({tier} tier)."
PLAIN_BODY = "Your loyalty points balance is on your account page, under Rewards."
ROOT = Path(__file__).resolve().parent.parent
NODE_WORKER = ROOT / "bench" / "loyalty_worker.js"
SDK_BUILD = ROOT / "sdk" / "typescript" / "dist" / "src" / "index.js"
READY_TIMEOUT_S = 60.0
_TICKS = os.sysconf("SC_CLK_TCK")


# --- the Python worker (a process of its own, like the Node one) --------------------------------
def serve_python() -> None:
    """The Python merchant worker: the loyalty-service example's handler, in Python, as the
    TypeScript SDK's worker serves it (contract-checked input, the tenant and action checked,
    the result checked on the way out). Configured by the same environment as the Node one."""
    members = json.loads(Path(os.environ["LOYALTY_MEMBERS_FILE"]).read_text())
    asyncio.run(_serve_python(os.environ["TENANT_ID"], members))


async def _serve_python(tenant_id: str, members: dict[str, dict[str, Any]]) -> None:
    served = 0

    @activity.defn(name=activity_name(ACTION))
    async def loyalty_balance(call: CustomActionInput) -> CustomActionResult:
        nonlocal served
        served += 1
        if call.action != ACTION:
            raise ApplicationError(
                f"input names action {call.action}, activity is {ACTION}",
                type="CustomActionContractError",
                non_retryable=True,
            )
        if call.tenant_id != tenant_id:
            raise ApplicationError(
                f"this worker serves tenant {tenant_id} only",
                type="CustomActionTenantRefused",
                non_retryable=True,
            )
        if not call.customer_id:
            error = CustomActionError(code="not_verified", message="the customer is not verified")
            return CustomActionResult(ok=False, error=error)
        member = members.get(call.customer_id)
        if member is None:
            error = CustomActionError(code="not_a_member", message="no loyalty account")
            return CustomActionResult(ok=False, error=error)
        return CustomActionResult(
            ok=True, data={"points": member["points"], "tier": member["tier"]}
        )

    client = await Client.connect(
        os.environ["TEMPORAL_ADDRESS"],
        data_converter=data_converter(
            parse_keys_setting(os.environ["SUPPORTFLOW_ENCRYPTION_KEYS"])
        ),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with Worker(client, task_queue=os.environ["TASK_QUEUE"], activities=[loyalty_balance]):
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await stop.wait()
    sys.stdout.write(f"served {served}\n")
    sys.stdout.flush()


# --- the benchmark ------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class WorkerProcess:
    """A merchant worker in a child process: started, waited for ("ready"), stopped with
    SIGTERM, and the calls it says it served ("served <n>")."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: IO[str]) -> None:
        self.name = name
        self._lines: list[str] = []
        self._eof = False  # all its output read (it has exited)
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self._lines.append(line.strip())
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    def wait_for(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self._lines:
                    if line.startswith(prefix):
                        return line
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    raise RuntimeError(
                        f"{self.name} worker: no {prefix!r} (exit code {self.proc.poll()}); "
                        "see its stderr in the log"
                    )
                self._changed.wait(min(left, 0.5))

    def cpu_s(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> int:
        """Stop it; the calls it served."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            served = int(self.wait_for("served ", 30).split()[1])
        finally:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return served


@dataclass(frozen=True)
class Customer:
    store_id: str
    email: str
    points: int
    tier: str


def customers(n: int) -> list[Customer]:
    """The demo store's first ``n`` customers, each a loyalty member with a balance of its
    own (so a reply with the right number proves the action's answer reached it)."""
    seed = resources.files("supportflow.demo_store").joinpath("seed/db.json.gz")
    with seed.open("rb") as raw, gzip.open(raw) as f:
        users = json.load(f)["users"]
    out = []
    for i, user in enumerate(sorted(users.values(), key=lambda u: u["user_id"])[:n]):
        tier = ("bronze", "silver", "gold")[i % 3]
        # Distinct balances under 1,000: how a reply writes thousands is not the question here.
        out.append(Customer(user["user_id"], user["email"], 100 + 37 * i % 900, tier))
    return out


def encryption_keys_setting(data_dir: Path) -> str:
    """The stack's payload keys (the key file `up` made) as SUPPORTFLOW_ENCRYPTION_KEYS."""
    doc = json.loads((data_dir / "encryption-keys.json").read_text())
    return ",".join(f"{k['id']}:{k['key']}" for k in doc["keys"])


@dataclass
class Tenant:
    """The demo tenant's knowledge article and policy, switched between the three ways."""

    http: httpx.AsyncClient
    headers: dict[str, str]
    queues: dict[Mode, str]
    article_id: str = ""
    mode: Mode | None = None
    with_action: bool | None = None

    async def use(self, mode: Mode) -> None:
        if mode == self.mode:
            return
        if mode != "plain":
            r = await self.http.get("/v1/policy", headers=self.headers)
            r.raise_for_status()
            policy = r.json()
            policy["custom_actions"] = {ACTION: {"task_queue": self.queues[mode]}}
            r = await self.http.put("/v1/policy", headers=self.headers, json=policy)
            if r.status_code != 200:
                raise RuntimeError(f"policy not accepted: {r.status_code} {r.text[:300]}")
        action = mode != "plain"
        if action != self.with_action:
            article = {
                "title": TITLE,
                "body": ACTION_BODY if action else PLAIN_BODY,
                "tags": TAGS,
                "action": ACTION if action else None,
            }
            if self.article_id:
                url = f"/v1/knowledge/{self.article_id}"
                r = await self.http.put(url, headers=self.headers, json=article)
            else:
                r = await self.http.post("/v1/knowledge", headers=self.headers, json=article)
            if r.status_code not in (200, 201):
                raise RuntimeError(f"article not accepted: {r.status_code} {r.text[:300]}")
            self.article_id = r.json()["id"]
            self.with_action = action
        self.mode = mode


@dataclass
class Run:
    http: httpx.AsyncClient
    chat_key: str
    token: Callable[[str], str]  # the customer's identity token, by email
    customers: list[Customer]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    # The customer of each block, with its way, in order.
    blocks: list[tuple[Mode, Customer]] = field(default_factory=list)

    async def block(self, mode: Mode, turns: int) -> list[float]:
        """One new conversation of the next customer: ``turns`` + 1 questions, the first not
        counted; each reply checked."""
        n = len(self.blocks)
        who = self.customers[n]
        self.blocks.append((mode, who))
        token = self.token(who.email)  # signed before the clock, as a widget has it on load
        expect = (
            f"You have {who.points} loyalty points ({who.tier} tier)"
            if mode != "plain"
            else PLAIN_BODY
        )
        out = []
        for t in range(turns + 1):
            start = time.perf_counter()
            r = await self.http.post(
                "/v1/chat/messages",
                headers={"X-Chat-Key": self.chat_key, "X-Forwarded-For": shopper_address(n)},
                json={
                    "visitor_id": f"bench-{self.run_id}-{n}",
                    "message_id": str(t),
                    "text": QUESTION,
                    "identity_token": token,
                },
            )
            elapsed = time.perf_counter() - start
            reply = r.json().get("reply") if r.status_code == 200 else None
            if not isinstance(reply, str) or expect not in reply:
                raise RuntimeError(
                    f"{mode}: unexpected reply to turn {t}: {r.status_code} {r.text[:300]}"
                )
            if t:
                out.append(elapsed)
        return out


def summary(mode: Mode, xs: list[float]) -> dict[str, float]:
    row = {
        "n": float(len(xs)),
        "p50_ms": pct(xs, 50) * 1000,
        "p90_ms": pct(xs, 90) * 1000,
        "p99_ms": pct(xs, 99) * 1000,
        "mean_ms": statistics.fmean(xs) * 1000,
    }
    print(
        f"  {LABELS[mode]:<27} n={len(xs):<4} p50 {row['p50_ms']:6.1f} ms"
        f"  p90 {row['p90_ms']:6.1f} ms  p99 {row['p99_ms']:6.1f} ms  mean {row['mean_ms']:6.1f} ms"
    )
    return row


def ratios(rows: dict[Mode, dict[str, float]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    print("ratios:")
    pairs: tuple[tuple[Mode, Mode], ...] = (("ts", "py"), ("ts", "plain"), ("py", "plain"))
    for a, b in pairs:
        name = f"{a}/{b}"
        out[name] = {p: rows[a][f"{p}_ms"] / rows[b][f"{p}_ms"] for p in ("p50", "p90", "p99")}
        print(
            f"  {LABELS[a] + ' / ' + LABELS[b]:<49}"
            + "".join(f"  {p} {out[name][p]:5.2f}x" for p in ("p50", "p90", "p99"))
        )
    # What the action adds to the turn (the round trip to the merchant's worker and back).
    ts_extra = rows["ts"]["p50_ms"] - rows["plain"]["p50_ms"]
    py_extra = rows["py"]["p50_ms"] - rows["plain"]["p50_ms"]
    out["added_p50_ms"] = {"ts": ts_extra, "py": py_extra}
    print(
        f"  added to the turn by the action, p50: TypeScript {ts_extra:+.1f} ms,"
        f" Python {py_extra:+.1f} ms"
    )
    return out


async def activity_round_trips(
    temporal: str, tenant_id: str, since: float
) -> dict[Mode, list[float]]:
    """Each custom action call scheduled since ``since`` (epoch seconds) in the tenant's
    conversations, scheduled -> completed (the server's event times: dispatch to the
    merchant's worker, its run, the result back), by the queue that served it. Event times
    only: no payload is decoded."""
    client = await Client.connect(temporal)
    out: dict[Mode, list[float]] = {"ts": [], "py": []}
    by_queue: dict[str, Mode] = {f"{default_queue(tenant_id)}.{m}": m for m in out}
    async for wf in client.list_workflows():
        if not wf.id.startswith(customer_workflow_id(tenant_id, "")):
            continue
        handle = client.get_workflow_handle(wf.id, run_id=wf.run_id)
        scheduled: dict[int, tuple[Mode, float]] = {}
        async for event in handle.fetch_history_events():
            at = event.event_time.ToNanoseconds() / 1e9
            if event.HasField("activity_task_scheduled_event_attributes"):
                a = event.activity_task_scheduled_event_attributes
                if a.activity_type.name == activity_name(ACTION) and at >= since:
                    scheduled[event.event_id] = (by_queue[a.task_queue.name], at)
            elif event.HasField("activity_task_completed_event_attributes"):
                c = event.activity_task_completed_event_attributes
                if c.scheduled_event_id in scheduled:
                    mode, start = scheduled.pop(c.scheduled_event_id)
                    out[mode].append(at - start)
        if scheduled:
            raise RuntimeError(f"{len(scheduled)} custom action calls did not complete")
    return out


@contextlib.contextmanager
def merchant_workers(
    up: Stack, tenant_id: str, queues: dict[Mode, str], members: Path, log: IO[str]
) -> Iterator[dict[Mode, WorkerProcess]]:
    assert up.data_dir is not None
    base = {
        **os.environ,
        "TEMPORAL_ADDRESS": up.temporal,
        "TENANT_ID": tenant_id,
        "SUPPORTFLOW_ENCRYPTION_KEYS": encryption_keys_setting(up.data_dir),
        "LOYALTY_MEMBERS_FILE": str(members),
    }
    workers: dict[Mode, WorkerProcess] = {}
    try:
        workers["ts"] = WorkerProcess(
            "TypeScript", ["node", str(NODE_WORKER)], {**base, "TASK_QUEUE": queues["ts"]}, log
        )
        workers["py"] = WorkerProcess(
            "Python",
            [sys.executable, "-m", "bench.custom_action_roundtrip", "--python-worker"],
            {**base, "TASK_QUEUE": queues["py"]},
            log,
        )
        for w in workers.values():
            w.wait_for("ready", READY_TIMEOUT_S)
        yield workers
    finally:
        for w in workers.values():
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()


async def bench(args: argparse.Namespace, up: Stack, log: IO[str]) -> dict[str, Any]:
    assert up.data_dir is not None
    keys = json.loads((up.data_dir / "demo-tenant.json").read_text())
    tenant_id = keys["tenant_id"]
    queues: dict[Mode, str] = {m: f"{default_queue(tenant_id)}.{m}" for m in ("ts", "py")}
    rounds = -(-args.turns // args.block)
    people = customers(3 * (rounds + 1))
    if len(people) < 3 * (rounds + 1):
        raise SystemExit(
            f"a conversation per block needs {3 * (rounds + 1)} customers; the "
            f"demo store has {len(people)}: use a larger --block"
        )
    results: dict[str, Any] = {"turns_per_way": rounds * args.block, "block": args.block}
    with tempfile.TemporaryDirectory() as tmp:
        members = Path(tmp) / "members.json"
        members.write_text(
            json.dumps({c.store_id: {"points": c.points, "tier": c.tier} for c in people})
        )
        with merchant_workers(up, tenant_id, queues, members, log) as workers:
            async with httpx.AsyncClient(base_url=up.api, timeout=60) as http:
                tenant = Tenant(http, {"X-Api-Key": keys["api_key"]}, queues)
                run = Run(http, up.chat_key, up.tokens, people)
                # Warm-up: connections, both workers' first tasks, Node's JIT, the caches.
                for mode in MODES:
                    await tenant.use(mode)
                    await run.block(mode, args.warmup)
                since = time.time()
                load0 = os.getloadavg()
                lat: dict[Mode, list[float]] = {m: [] for m in MODES}
                # Each worker's CPU in its own blocks (its calls), and in the plain ones (idle).
                busy = {m: 0.0 for m in workers}
                idle = {m: 0.0 for m in workers}
                idle_s = 0.0
                for r in range(rounds):
                    k = r % len(MODES)
                    for mode in MODES[k:] + MODES[:k]:
                        await tenant.use(mode)
                        cpu0 = {m: w.cpu_s() for m, w in workers.items()}
                        t0 = time.perf_counter()
                        lat[mode] += await run.block(mode, args.block)
                        for m, w in workers.items():
                            spent = w.cpu_s() - cpu0[m]
                            if m == mode:
                                busy[m] += spent
                            elif mode == "plain":
                                idle[m] += spent
                        if mode == "plain":
                            idle_s += time.perf_counter() - t0
                load1 = os.getloadavg()
                calls = await activity_round_trips(up.temporal, tenant_id, since)
            calls_expected = {m: rounds * (args.block + 1) + args.warmup + 1 for m in ("ts", "py")}
            served = {m: w.stop() for m, w in workers.items()}
    if served != calls_expected:
        raise RuntimeError(f"calls served {served}, expected {calls_expected}")
    print(
        f"chat turn, verified customer, '{QUESTION}' (HTTP API -> workflow update ->"
        " knowledge article [-> custom action] -> reply), sequential:"
    )
    rows = {m: summary(m, lat[m]) for m in MODES}
    results["ways"] = rows
    results["ratios"] = ratios(rows)
    print(
        "the activity alone, from the workflows' histories (ActivityTaskScheduled ->"
        " ActivityTaskCompleted, server clock):"
    )
    trips = {m: summary(m, calls[m]) for m in ("ts", "py")}
    results["activity_round_trip"] = trips
    results["activity_round_trip_ts/py"] = {
        p: trips["ts"][f"{p}_ms"] / trips["py"][f"{p}_ms"] for p in ("p50", "p90", "p99")
    }
    print(
        "  TypeScript / Python"
        + "".join(f"  {p} {v:5.2f}x" for p, v in results["activity_round_trip_ts/py"].items())
    )
    measured_calls = rounds * (args.block + 1)
    per_call = {m: busy[m] / measured_calls * 1000 for m in ("ts", "py")}
    # Idle: while the plain article answers, neither worker has calls (both poll).
    idle_rate = {m: idle[m] / idle_s * 1000 for m in ("ts", "py")}
    results["worker_cpu_ms_per_call"] = per_call
    results["worker_idle_cpu_ms_per_s"] = idle_rate
    results["load_average"] = {"start": load0, "end": load1}
    print(
        "worker CPU per call (the whole process during its blocks / its calls):"
        f" Node {per_call['ts']:.2f} ms, Python {per_call['py']:.2f} ms;"
        f" idle: Node {idle_rate['ts']:.1f} ms/s, Python {idle_rate['py']:.1f} ms/s"
    )
    print(
        f"machine: {os.cpu_count()} cores, load average (1/5/15 min) at start"
        f" {' '.join(f'{x:.2f}' for x in load0)}, at end {' '.join(f'{x:.2f}' for x in load1)}"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--turns", type=int, default=100, help="measured turns per way")
    parser.add_argument(
        "--block", type=int, default=20, help="measured turns per conversation (one way each)"
    )
    parser.add_argument(
        "--warmup", type=int, default=10, help="uncounted turns of each way before measuring"
    )
    parser.add_argument(
        "--quick", action="store_true", help="15 turns per way, blocks of 5, 3 warm-up (~15 s)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--python-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.python_worker:
        serve_python()
        return
    if args.quick:
        args.turns, args.block, args.warmup = 15, 5, 3
    if shutil.which("node") is None or not SDK_BUILD.exists():
        sys.exit(
            "needs Node.js and the TypeScript SDK built: "
            "(cd sdk/typescript && npm ci && npm run build), or scripts/test_ts.sh"
        )
    with tempfile.TemporaryDirectory() as tmp, (Path(tmp) / "workers.log").open("w") as log:
        try:
            with fresh_stack(stop_timeout=60) as up:
                print(f"supportflow up -> ready: {up.ready_s:.2f} s (fresh data directory)")
                results = asyncio.run(bench(args, up, log))
        except BaseException:
            log.flush()
            sys.stderr.write(Path(log.name).read_text()[-4000:])
            raise
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

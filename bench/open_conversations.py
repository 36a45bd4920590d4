"""Open conversations: ramp to N concurrent open conversations, then answer each once more.

  .venv/bin/python -m bench.open_conversations [--conversations 10000] [--concurrency 16]

16 requests in flight is what completed 10,000 here; 64 stalled the worker (docs/tuning.md).

Starts `supportflow up` on a fresh data directory, as a user would. Ramp: N distinct
shoppers, each verified by a signed identity token on every message (as a store's logged-in
shoppers are), send a first message through the HTTP chat API that leaves the conversation
open: they ask about an order, and the agent, finding no account for their email, asks for
another and waits. (The seed has 500 customers and this needs up to 10,000 distinct ones, so
each is a shopper the store has no account for; a verified conversation never ends by
itself, as an anonymous one left idle does.) Then every conversation gets one more message;
all N must be answered. Prints the ramp rate, answer latency p50/p95/p99 and throughput, and
the resident memory and CPU seconds of the worker/API process (`supportflow up`) and of the
Temporal dev server (its child) at 1k/5k/10k open. Finally counts the running workflows
through Temporal.
Exits non-zero only on a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.client import Client

from bench.stack import fresh_stack, pct
from supportflow.sim.client import shopper_address

# A verified shopper the store has no account for asks to track an order: the agent says it
# found no account and the conversation stays open, waiting for another email.
FIRST = "I want to track my order"
# An order number, still none of theirs: answered (no account again), still open.
SECOND = "the order number is W2378156"
_TICKS = os.sysconf("SC_CLK_TCK")
# Resends of a message whose connection dropped before an answer came.
RESENDS = 2


@dataclass
class Proc:
    """Figures of one process read from /proc: RSS and CPU seconds (user + system)."""

    pid: int
    name: str

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_s(self) -> float:
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS


def temporal_child(parent: int) -> Proc:
    """The dev server: the child of `supportflow up` running the temporal CLI."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            if ppid == parent and cmd and Path(cmd[0].decode()).name == "temporal":
                return Proc(int(entry.name), "temporal server")
    raise RuntimeError("no Temporal dev server child found")


@dataclass
class Sampler:
    procs: list[Proc]
    rows: list[dict[str, float]] = field(default_factory=list)

    def sample(self, open_now: int, label: str = "") -> None:
        """Print RSS, CPU seconds, and the share of one core each process used since the
        last sample (a process near 100% is bound by its own CPU: Python's GIL)."""
        now = time.monotonic()
        row: dict[str, float] = {"open": open_now, "t": now}
        parts = []
        for p in self.procs:
            rss, cpu = p.rss_mb(), p.cpu_s()
            row[f"{p.name} rss_mb"] = rss
            row[f"{p.name} cpu_s"] = cpu
            busy = ""
            if self.rows:
                last = self.rows[-1]
                share = (cpu - last[f"{p.name} cpu_s"]) / max(1e-9, now - last["t"]) * 100
                row[f"{p.name} cpu_pct"] = share
                busy = f" ({share:3.0f}% of a core)"
            parts.append(f"{p.name} RSS {rss:7.1f} MB cpu {cpu:7.1f} s{busy}")
        self.rows.append(row)
        print(f"  {label or f'at {open_now:>6} open'}: " + "  ".join(parts), flush=True)


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    intents: Counter[str] = field(default_factory=Counter)
    done: int = 0
    resent: int = 0


def shopper(run_id: str, i: int) -> str:
    """The verified email of visitor i (a shopper the demo store has no account for)."""
    return f"oc-{run_id}-{i}@example.com"


async def run_phase(
    http: httpx.AsyncClient,
    chat_key: str,
    token: Callable[[str], str],
    run_id: str,
    n: int,
    concurrency: int,
    text: str,
    message_id: str,
    on_done: list[int],
    sampler: Sampler | None,
) -> tuple[Phase, float]:
    """Each of n visitors sends `text`; `concurrency` requests are in flight at a time."""
    phase = Phase()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    marks = sorted(set(on_done))
    start = time.perf_counter()
    last_print = start

    async def visitor(i: int) -> None:
        t = time.perf_counter()
        for attempt in range(RESENDS + 1):
            try:
                r = await http.post(
                    "/v1/chat/messages",
                    # Each shopper from an address of its own (the stack trusts us as their
                    # proxy, bench/stack.py): rate limits apply per shopper, as in production.
                    headers={"X-Chat-Key": chat_key, "X-Forwarded-For": shopper_address(i)},
                    json={
                        "visitor_id": f"oc-{run_id}-{i}",
                        "message_id": message_id,
                        "text": text,
                        "identity_token": token(shopper(run_id, i)),
                    },
                )
                break
            except httpx.TransportError as err:
                # A keep-alive connection the server closed as it was reused: resend, as a
                # chat client does, with the same message id (answered once whatever happens).
                if attempt == RESENDS:
                    phase.failed[i] = f"{type(err).__name__}: {err}"
                    return
                phase.resent += 1
            except httpx.HTTPError as err:
                phase.failed[i] = f"{type(err).__name__}: {err}"
                return
        if r.status_code == 200 and r.json().get("status") == "answered":
            phase.latencies.append(time.perf_counter() - t)
            phase.intents[str(r.json().get("intent"))] += 1
        elif r.status_code == 202:
            phase.pending.append(i)
        else:
            phase.failed[i] = f"HTTP {r.status_code}: {r.text[:200]}"

    async def worker() -> None:
        nonlocal last_print
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await visitor(i)
            phase.done += 1
            now = time.perf_counter()
            if marks and phase.done >= marks[0]:
                mark = marks.pop(0)
                print(
                    f"  {mark:>6} sent in {now - start:6.1f} s ({mark / (now - start):6.1f}/s)",
                    flush=True,
                )
                if sampler is not None:
                    sampler.sample(mark)
                last_print = now
            elif now - last_print > 15:
                print(f"  {phase.done:>6} sent in {now - start:6.1f} s", flush=True)
                last_print = now

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return phase, time.perf_counter() - start


async def settle_pending(
    http: httpx.AsyncClient, chat_key: str, run_id: str, phase: Phase, message_id: str
) -> list[int]:
    """Poll the replies that came back 202 (still being worked on); return those never
    answered within two minutes."""
    left = set(phase.pending)
    deadline = time.monotonic() + 120
    while left and time.monotonic() < deadline:
        for i in sorted(left):
            r = await http.get(
                f"/v1/chat/messages/{message_id}",
                params={"visitor_id": f"oc-{run_id}-{i}"},
                headers={"X-Chat-Key": chat_key, "X-Forwarded-For": shopper_address(i)},
            )
            if r.status_code == 200 and r.json().get("status") == "answered":
                left.discard(i)
        if left:
            await asyncio.sleep(2)
    return sorted(left)


def report(name: str, phase: Phase, wall: float, n: int) -> dict[str, float]:
    lat = phase.latencies
    row = {
        "n": n,
        "answered_in_call": len(lat),
        "pending": len(phase.pending),
        "failed": len(phase.failed),
        "wall_s": wall,
        "per_s": n / wall,
    }
    print(f"{name}: {n} messages in {wall:.1f} s = {n / wall:.1f}/s")
    if lat:
        row |= {f"p{p}_ms": pct(lat, p) * 1000 for p in (50, 95, 99)}
        print(
            f"  answered in the call: {len(lat)}  p50 {row['p50_ms']:.0f} ms  "
            f"p95 {row['p95_ms']:.0f} ms  p99 {row['p99_ms']:.0f} ms"
        )
    print("  intents of the replies: " + ", ".join(f"{k} {v}" for k, v in phase.intents.items()))
    if phase.pending:
        print(f"  202 pending (answered later or missing, see below): {len(phase.pending)}")
    if phase.resent:
        print(f"  resent after a dropped connection (same message id): {phase.resent}")
    for i, why in sorted(phase.failed.items())[:20]:
        print(f"  FAILED visitor {i}: {why}")
    if len(phase.failed) > 20:
        print(f"  ... and {len(phase.failed) - 20} more failures")
    return row


async def count_running(temporal: str) -> int:
    client = await Client.connect(temporal)
    counted = await client.count_workflows(
        "WorkflowType = 'CustomerWorkflow' AND ExecutionStatus = 'Running'"
    )
    return counted.count


async def bench(
    args: argparse.Namespace,
    api: str,
    temporal: str,
    chat_key: str,
    token: Callable[[str], str],
    sampler: Sampler,
) -> dict[str, object]:
    n, c = args.conversations, args.concurrency
    run_id = uuid.uuid4().hex[:6]
    for i in range(n):
        token(shopper(run_id, i))  # signed before the clock starts (a widget's page load)
    marks = [m for m in (1000, 5000, 10000) if m < n] + [n]
    results: dict[str, object] = {"conversations": n, "concurrency": c}
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx.AsyncClient(base_url=api, timeout=120, limits=limits) as http:
        sampler.sample(0)
        print(f"ramp: {n} visitors open a conversation ({c} requests in flight)")
        ramp, wall = await run_phase(
            http, chat_key, token, run_id, n, c, FIRST, "m1", marks, sampler
        )
        results["ramp"] = report("ramp", ramp, wall, n)
        missing_first = await settle_pending(http, chat_key, run_id, ramp, "m1")

        print(f"answer: each of the {n} open conversations gets one more message")
        answer, wall = await run_phase(http, chat_key, token, run_id, n, c, SECOND, "m2", [n], None)
        results["answer"] = report("answer", answer, wall, n)
        missing = await settle_pending(http, chat_key, run_id, answer, "m2")
        sampler.sample(n, "after the answers")

    print("CPU per message (ms):")
    for name, (a, b) in (("ramp", (0, -2)), ("answer", (-2, -1))):
        row_a, row_b = sampler.rows[a], sampler.rows[b]
        per = {
            p.name: (row_b[f"{p.name} cpu_s"] - row_a[f"{p.name} cpu_s"]) / n * 1000
            for p in sampler.procs
        }
        results[f"{name}_cpu_ms_per_message"] = per
        print(f"  {name:<7}" + "  ".join(f"{k} {v:5.1f}" for k, v in per.items()))
    answered = n - len(answer.failed) - len(missing)
    print(f"answered: {answered} of {n} second messages")
    for i in missing[:50]:
        print(f"  MISSING: visitor oc-{run_id}-{i} (202 and never answered)")
    for i in sorted(answer.failed)[:50]:
        print(f"  MISSING: visitor oc-{run_id}-{i} ({answer.failed[i]})")
    if missing_first or ramp.failed:
        print(f"  first messages unanswered: {len(missing_first) + len(ramp.failed)}")
    running = await count_running(temporal)
    print(f"Temporal: {running} CustomerWorkflow executions running (expected {n})")
    results |= {
        "answered": answered,
        "missing": len(missing) + len(answer.failed),
        "running_workflows": running,
        "memory": sampler.rows,
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with fresh_stack() as up:
        print(f"supportflow up -> ready: {up.ready_s:.2f} s (fresh data directory)")
        sampler = Sampler([Proc(up.proc.pid, "worker/API"), temporal_child(up.proc.pid)])
        print("pids: " + "  ".join(f"{p.name} {p.pid}" for p in sampler.procs), flush=True)
        results = asyncio.run(bench(args, up.api, up.temporal, up.chat_key, up.tokens, sampler))
    results["up_to_ready_s"] = up.ready_s
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

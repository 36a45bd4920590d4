"""Chat throughput with 1, 2 and 4 worker processes (`supportflow up --workers N`), one stack
per N on a fresh data directory, the same load for each.

  .venv/bin/python -m bench.scale_out [--workers 1,2,4] [--turns 600] [--concurrency 32]

Each verified customer asks about one of their own orders (understand -> store lookup ->
reply), `--concurrency` customers at a time until `--turns` are answered. Prints per N the
turns per second, p50/p99 latency, and the CPU seconds each part of the stack used (the API
process, the worker processes, the Temporal dev server), and the throughput against N=1
measured in the same run. Exits non-zero only on a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench.stack import Stack, fresh_stack, pct
from bench.turn_latency import customers_with_orders, run_load
from supportflow.sim.client import shopper_address
from supportflow.sim.memory import children


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / 100.0


def _parts(stack: Stack) -> dict[str, list[int]]:
    """The stack's processes by part: the API (with its in-process worker when N=1), the
    worker processes, the Temporal dev server."""
    parts: dict[str, list[int]] = {"api": [stack.proc.pid], "workers": [], "temporal": []}
    for pid in children(stack.proc.pid):
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"\0worker" in cmd:
            parts["workers"].append(pid)
        elif b"temporal" in cmd:
            parts["temporal"].append(pid)
    return parts


def _cpu(parts: dict[str, list[int]]) -> dict[str, float]:
    out = {}
    for name, pids in parts.items():
        total = 0.0
        for pid in pids:
            try:
                total += _cpu_s(pid)
            except OSError:
                continue
        out[name] = total
    return out


async def measure(stack: Stack, turns: int, concurrency: int) -> dict[str, object]:
    people = customers_with_orders()
    for email, _ in people:
        stack.tokens(email)
    run = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=stack.api, timeout=120) as http:

        def chat(offset: int) -> Callable[[int, int], Awaitable[None]]:
            async def one(c: int, t: int) -> None:
                email, order = people[(offset + c) % len(people)]
                r = await http.post(
                    "/v1/chat/messages",
                    headers={
                        "X-Chat-Key": stack.chat_key,
                        "X-Forwarded-For": shopper_address(offset + c),
                    },
                    json={
                        "visitor_id": f"scale-{run}-{offset}-{c}",
                        "message_id": str(t),
                        "text": f"where is my order {order}",
                        "identity_token": stack.tokens(email),
                    },
                )
                if r.status_code != 200 or order not in r.json()["reply"]:
                    raise RuntimeError(f"bad turn: {r.status_code} {r.text[:200]}")

            return one

        await run_load(40, 8, chat(900))  # warm-up: connections, caches, the model
        parts = _parts(stack)
        before = _cpu(parts)
        latencies, wall = await run_load(turns, concurrency, chat(0))
        after = _cpu(parts)
    return {
        "turns": len(latencies),
        "wall_s": wall,
        "per_s": len(latencies) / wall,
        "p50_ms": pct(latencies, 50) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
        "cpu_s": {k: round(after[k] - before[k], 2) for k in after},
        "worker_processes": len(parts["workers"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--turns", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results: dict[int, dict[str, object]] = {}
    for n in (int(x) for x in args.workers.split(",")):
        with fresh_stack(stop_timeout=60, workers=n) as stack:
            r = asyncio.run(measure(stack, args.turns, args.concurrency))
        results[n] = r
        print(
            f"workers={n}: {r['turns']} turns in {r['wall_s']:.1f} s = {r['per_s']:.1f}/s  "
            f"p50 {r['p50_ms']:.0f} ms  p99 {r['p99_ms']:.0f} ms  cpu s {r['cpu_s']}",
            flush=True,
        )
    base = results.get(1)
    if base is not None:
        for n, r in results.items():
            ratio = float(r["per_s"]) / float(base["per_s"])  # type: ignore[arg-type]
            print(f"  throughput workers={n} / workers=1: {ratio:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

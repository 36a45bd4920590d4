"""Chat-turn latency against the Temporal floor, on the embedded stack.

  .venv/bin/python -m bench.turn_latency [--turns 200] [--concurrency 20] [--workers N]
      [--product-questions]

Starts `supportflow up` on a fresh data directory (measuring seconds to `ready`), then
times chat turns through the HTTP API (order-status questions about real orders from their
own customers, each verified by a signed identity token as a store's logged-in shoppers are,
so each turn checks the token and runs understand -> store lookup -> reply), sequentially
and with N concurrent customers; and, on the same Temporal server in the same run, the
floor: update -> one activity -> reply. Prints p50/p99 and the ratios. Exits non-zero only
on a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path

import httpx
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from bench.floor import FloorWorkflow, Ping, echo
from bench.stack import fresh_stack, pct
from supportflow.sim.client import shopper_address

PRODUCT_QUESTION = "is the water bottle available in 1000ml glass red?"
READY = re.compile(r"supportflow ready in ([\d.]+)s\s+api=(\S+)")


def summary(name: str, xs: list[float], wall: float) -> dict[str, float]:
    row = {
        "p50_ms": pct(xs, 50) * 1000,
        "p99_ms": pct(xs, 99) * 1000,
        "mean_ms": statistics.fmean(xs) * 1000,
        "per_s": len(xs) / wall,
    }
    print(
        f"  {name:<34} n={len(xs):<4} p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms"
        f"  mean {row['mean_ms']:7.1f} ms  {row['per_s']:6.1f}/s"
    )
    return row


def customers_with_orders() -> list[tuple[str, str]]:
    seed = resources.files("supportflow.demo_store").joinpath("seed/db.json.gz")
    with seed.open("rb") as raw, gzip.open(raw) as f:
        db = json.load(f)
    out = []
    for user in db["users"].values():
        if user["orders"]:
            out.append((user["email"], user["orders"][0]))
    return out


async def run_load(
    n_turns: int, concurrency: int, one: Callable[[int, int], Awaitable[None]]
) -> tuple[list[float], float]:
    """`concurrency` customers each send turns one after another until n_turns are done."""
    latencies: list[float] = []
    per_customer = max(1, n_turns // concurrency)

    async def customer(c: int) -> None:
        for t in range(per_customer):
            start = time.perf_counter()
            await one(c, t)
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(customer(c) for c in range(concurrency)))
    return latencies, time.perf_counter() - start


async def bench(
    args: argparse.Namespace, api: str, temporal: str, chat_key: str, token: Callable[[str], str]
) -> dict[str, object]:
    people = customers_with_orders()
    for email, _ in people:
        token(email)  # signed before the clock starts, as a widget has its token on page load
    run_id = uuid.uuid4().hex[:6]
    results: dict[str, object] = {}
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:

        def chat(offset: int, product: bool = False) -> Callable[[int, int], Awaitable[None]]:
            async def one(c: int, t: int) -> None:
                email, order = people[(offset + c) % len(people)]
                # A product question is handed to the sales agent (a child workflow).
                text, expect = (
                    (PRODUCT_QUESTION, "Water Bottle")
                    if product
                    else (
                        f"where is my order {order}",
                        order,
                    )
                )
                r = await http.post(
                    "/v1/chat/messages",
                    # Each customer from an address of its own, as the stack's rate limits
                    # expect (bench/stack.py: the stack trusts us as their proxy).
                    headers={
                        "X-Chat-Key": chat_key,
                        "X-Forwarded-For": shopper_address(offset + c),
                    },
                    json={
                        "visitor_id": f"bench-{run_id}-{offset}-{c}",
                        "message_id": f"{t}",
                        "text": text,
                        "identity_token": token(email),
                    },
                )
                if r.status_code != 200 or expect not in r.json()["reply"]:
                    raise RuntimeError(f"bad turn: {r.status_code} {r.text[:200]}")

            return one

        # Warm-up: first requests pay for connections, caches and the model's first load.
        await run_load(20, 4, chat(900))
        print("chat turn (HTTP API -> workflow update -> understand, lookup, reply):")
        lat, wall = await run_load(args.turns, 1, chat(0))
        results["chat_sequential"] = summary("sequential", lat, wall)
        lat, wall = await run_load(args.turns, args.concurrency, chat(100))
        results["chat_concurrent"] = summary(f"{args.concurrency} concurrent customers", lat, wall)
        if args.product_questions:
            print("product question (-> a SalesAgentWorkflow child -> catalogue read -> reply):")
            lat, wall = await run_load(args.turns, 1, chat(300, product=True))
            results["product_sequential"] = summary("sequential", lat, wall)
            lat, wall = await run_load(args.turns, args.concurrency, chat(400, product=True))
            results["product_concurrent"] = summary(
                f"{args.concurrency} concurrent customers", lat, wall
            )

    client = await Client.connect(temporal, data_converter=pydantic_data_converter)
    queue = f"floor-{run_id}"
    async with Worker(client, task_queue=queue, workflows=[FloorWorkflow], activities=[echo]):

        def floor(offset: int) -> Callable[[int, int], Awaitable[None]]:
            async def one(c: int, t: int) -> None:
                op = WithStartWorkflowOperation(
                    FloorWorkflow.run,
                    id=f"floor-{run_id}-{offset}-{c}",
                    task_queue=queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
                await client.execute_update_with_start_workflow(
                    FloorWorkflow.ask, Ping(text=str(t)), start_workflow_operation=op
                )

            return one

        await run_load(20, 4, floor(900))
        print("floor (update-with-start -> one activity -> reply, same server):")
        lat, wall = await run_load(args.turns, 1, floor(0))
        results["floor_sequential"] = summary("sequential", lat, wall)
        lat, wall = await run_load(args.turns, args.concurrency, floor(100))
        results["floor_concurrent"] = summary(f"{args.concurrency} concurrent", lat, wall)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes for `up --workers` (1: the worker inside the API's process)",
    )
    parser.add_argument(
        "--product-questions",
        action="store_true",
        help="also time product questions (answered by the sales agent's child workflow)",
    )
    args = parser.parse_args()
    with fresh_stack(stop_timeout=60, workers=args.workers) as up:
        print(f"supportflow up -> ready: {up.ready_s:.2f} s (fresh data directory)")
        results = asyncio.run(bench(args, up.api, up.temporal, up.chat_key, up.tokens))
    results["up_to_ready_s"] = up.ready_s
    seq = results["chat_sequential"], results["floor_sequential"]
    con = results["chat_concurrent"], results["floor_concurrent"]
    print("ratios (chat turn / floor):")
    for label, (ours, floor) in (("sequential", seq), ("concurrent", con)):
        assert isinstance(ours, dict) and isinstance(floor, dict)
        print(
            f"  {label:<11} p50 {ours['p50_ms'] / floor['p50_ms']:5.2f}x"
            f"  p99 {ours['p99_ms'] / floor['p99_ms']:5.2f}x"
            f"  throughput {ours['per_s'] / floor['per_s']:5.2f}x"
        )
    if args.product_questions:
        for label in ("sequential", "concurrent"):
            ours, order = results[f"product_{label}"], results[f"chat_{label}"]
            assert isinstance(ours, dict) and isinstance(order, dict)
            print(
                f"  product question / order status, {label:<11}"
                f" p50 {ours['p50_ms'] / order['p50_ms']:5.2f}x"
                f"  p99 {ours['p99_ms'] / order['p99_ms']:5.2f}x"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

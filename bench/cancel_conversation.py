"""A three-turn cancel-and-refund conversation through the embedded stack: time and cost.

  .venv/bin/python -m bench.cancel_conversation [--conversations 40] [--concurrency 4]

Starts `supportflow up`, then for each of N pending orders from the seed runs, through the
HTTP chat API, as the order's customer verified by a signed identity token on every
message: "cancel order X" -> the reason -> "yes". Checks
each order ends cancelled in the store, prints p50/p99 of the whole conversation and of
each turn, and counts Temporal Cloud billable actions from every conversation's history.
Exits non-zero only on a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import time
from collections import Counter
from collections.abc import Callable
from importlib import resources
from typing import Any

import httpx
from temporalio.client import Client

from bench.stack import fresh_stack, pct
from supportflow.sim.client import shopper_address
from supportflow.temporal.billable import count_actions as count

TURNS = ("cancel order {order} please", "I no longer need it", "yes, cancel it")


def pending_orders(n: int) -> list[tuple[str, str]]:
    seed = resources.files("supportflow.demo_store").joinpath("seed/db.json.gz")
    with seed.open("rb") as raw, gzip.open(raw) as f:
        db = json.load(f)
    out = []
    for order in db["orders"].values():
        if order["status"] == "pending":
            out.append((db["users"][order["user_id"]]["email"], order["order_id"]))
    return out[:n]


async def run(
    args: argparse.Namespace, api: str, temporal: str, chat_key: str, token: Callable[[str], str]
) -> None:
    orders = pending_orders(args.conversations)
    for email, _ in orders:
        token(email)  # signed before the clock starts, as a widget has its token on page load
    whole: list[float] = []
    per_turn: list[list[float]] = [[] for _ in TURNS]
    customers: list[str] = []
    queue: asyncio.Queue[tuple[int, str, str]] = asyncio.Queue()
    for i, (email, order) in enumerate(orders):
        queue.put_nowait((i, email, order))

    async with httpx.AsyncClient(base_url=api, timeout=120) as http:

        async def conversation(i: int, email: str, order: str) -> None:
            started = time.perf_counter()
            for t, text in enumerate(TURNS):
                t0 = time.perf_counter()
                r = await http.post(
                    "/v1/chat/messages",
                    # Each customer from an address of its own (the stack trusts us as their
                    # proxy, bench/stack.py): its rate limits apply per customer.
                    headers={"X-Chat-Key": chat_key, "X-Forwarded-For": shopper_address(i)},
                    json={
                        "visitor_id": f"bench-cancel-{i}",
                        "message_id": f"{i}-{t}",
                        "text": text.format(order=order),
                        # Every message: one without it would be an anonymous visitor's.
                        "identity_token": token(email),
                    },
                )
                per_turn[t].append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(f"turn failed: {r.status_code} {r.text[:200]}")
                if t == 0:
                    customers.append(r.json()["customer_id"])
            whole.append(time.perf_counter() - started)

        async def worker() -> None:
            while not queue.empty():
                await conversation(*queue.get_nowait())

        wall = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        wall = time.perf_counter() - wall

    print(f"{len(whole)} cancel conversations, {args.concurrency} at a time, {wall:.1f} s")
    print(
        f"  whole conversation  p50 {pct(whole, 50) * 1000:7.1f} ms"
        f"  p99 {pct(whole, 99) * 1000:7.1f} ms"
    )
    for t, xs in enumerate(per_turn):
        print(
            f"  turn {t + 1}              p50 {pct(xs, 50) * 1000:7.1f} ms"
            f"  p99 {pct(xs, 99) * 1000:7.1f} ms"
        )
    await verify_and_count(args, temporal, orders, customers)


async def verify_and_count(
    args: argparse.Namespace, temporal: str, orders: list[tuple[str, str]], customers: list[str]
) -> None:
    client = await Client.connect(temporal)
    totals: Counter[str] = Counter()
    per_conversation: list[int] = []
    async for wf in client.list_workflows("WorkflowType = 'CustomerWorkflow'"):
        history = await client.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history()
        actions = count(json.loads(history.to_json()))
        totals += actions
        per_conversation.append(sum(actions.values()))
    print(
        f"billable actions per conversation (from {len(per_conversation)} histories): "
        f"p50 {pct([float(x) for x in per_conversation], 50):.0f}, "
        f"max {max(per_conversation)}; by type {dict(sorted(totals.items()))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with fresh_stack(stop_timeout=60) as up:
        print(f"supportflow up -> ready: {up.ready_s:.2f} s")
        asyncio.run(run(args, up.api, up.temporal, up.chat_key, up.tokens))
        store_check(up.store, pending_orders(args.conversations))


def store_check(store: str, orders: list[tuple[str, str]]) -> None:
    """Every order ended cancelled with exactly one refund, read from the store's API."""
    bad: list[str] = []
    with httpx.Client(base_url=store, timeout=10) as http:
        for _, order in orders:
            doc: dict[str, Any] = http.get(f"/orders/{order.replace('#', '%23')}").json()
            refunds = [p for p in doc["payment_history"] if p["transaction_type"] == "refund"]
            if doc["status"] != "cancelled" or len(refunds) != 1:
                bad.append(order)
    print(f"store: {len(orders) - len(bad)}/{len(orders)} orders cancelled with one refund")
    if bad:
        print(f"  not as expected: {bad[:10]}")


if __name__ == "__main__":
    main()

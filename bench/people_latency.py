"""People behind the agents through the embedded stack: how fast a person is reached and
heard, and what a conversation with one approval costs.

  .venv/bin/python -m bench.people_latency [--conversations 100] [--approvals 20]

Starts `supportflow up`; signs in as the demo admin operator (its API token from
demo-tenant.json). For N customers (verified by identity tokens) it measures:
- handoff -> inbox: from sending "talk to a human" until GET /v1/inbox lists it;
- operator reply -> customer's screen: from sending POST .../replies until the customer's
  GET /v1/chat/updates shows it (and, for a tenth of them, until an open chat WebSocket
  receives it: that path polls every 2 s);
- approval round trip: with the tenant's approval_above set to 1, a cancel asked for and
  confirmed, then POST /v1/approvals/{id}: until the customer's updates show "cancelled";
- audit entries and Temporal Cloud billable actions of one approval conversation.
Baseline in the same run: a plain chat turn (greeting -> reply), which every figure above
is compared with. Exits non-zero only on a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import websockets
from temporalio.client import Client

from bench.cancel_conversation import pending_orders
from bench.stack import Stack, fresh_stack, pct
from supportflow.sim.client import shopper_address
from supportflow.temporal.billable import count_actions


class Desk:
    def __init__(self, up: Stack, http: httpx.AsyncClient) -> None:
        assert up.data_dir is not None
        keys = json.loads((up.data_dir / "demo-tenant.json").read_text())
        self.up, self.http = up, http
        self.operator = {"Authorization": f"Bearer {keys['operator_api_token']}"}
        self.admin = {"X-Api-Key": keys["api_key"]}

    async def say(self, i: int, visitor: str, text: str, email: str) -> dict[str, Any]:
        r = await self.http.post(
            "/v1/chat/messages",
            headers={"X-Chat-Key": self.up.chat_key, "X-Forwarded-For": shopper_address(i)},
            json={
                "visitor_id": visitor,
                "message_id": uuid.uuid4().hex,
                "text": text,
                "identity_token": self.up.tokens(email),
            },
        )
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    async def updates(self, i: int, visitor: str, after: int) -> dict[str, Any]:
        r = await self.http.get(
            "/v1/chat/updates",
            params={"visitor_id": visitor, "after": after},
            headers={"X-Chat-Key": self.up.chat_key, "X-Forwarded-For": shopper_address(i)},
        )
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    async def seen(self, i: int, visitor: str, after: int, needle: str) -> float:
        """Poll the customer's updates every 10 ms until ``needle`` shows; when it did."""
        while True:
            got = await self.updates(i, visitor, after)
            if any(needle in m["text"] for m in got["messages"]):
                return time.perf_counter()
            await asyncio.sleep(0.01)


async def baseline(desk: Desk, emails: list[str]) -> list[float]:
    out = []
    for i, email in enumerate(emails):
        t0 = time.perf_counter()
        await desk.say(10_000 + i, f"bench-hi-{i}", "hi", email)
        out.append(time.perf_counter() - t0)
    return out


async def handoffs(desk: Desk, emails: list[str]) -> dict[str, list[float]]:
    got: dict[str, list[float]] = {"inbox": [], "reply": [], "socket": []}
    for i, email in enumerate(emails):
        visitor = f"bench-human-{i}"
        t0 = time.perf_counter()
        asked = await desk.say(i, visitor, "I want to talk to a human", email)
        customer = asked["customer_id"]
        while True:
            r = await desk.http.get("/v1/inbox", params={"q": customer}, headers=desk.operator)
            if r.json()["items"]:
                got["inbox"].append(time.perf_counter() - t0)
                break
            await asyncio.sleep(0.005)
        base = f"/v1/conversations/{customer}"
        (await desk.http.post(f"{base}/claim", json={}, headers=desk.operator)).raise_for_status()
        after = (await desk.updates(i, visitor, 0))["last_seq"]
        text = f"Hello from the team ({i})"
        if i % 10 == 0:
            got["socket"].append(await _over_socket(desk, visitor, base, text, after))
        else:
            t1 = time.perf_counter()
            r = await desk.http.post(f"{base}/replies", json={"text": text}, headers=desk.operator)
            r.raise_for_status()
            got["reply"].append(await desk.seen(i, visitor, after, text) - t1)
        r = await desk.http.post(f"{base}/release", json={}, headers=desk.operator)
        r.raise_for_status()
    return got


async def _over_socket(desk: Desk, visitor: str, base: str, text: str, after: int) -> float:
    ws_url = desk.up.api.replace("http://", "ws://")
    url = f"{ws_url}/v1/chat/stream?chat_key={desk.up.chat_key}&visitor_id={visitor}&after={after}"
    async with websockets.connect(url) as ws:
        t1 = time.perf_counter()
        r = await desk.http.post(f"{base}/replies", json={"text": text}, headers=desk.operator)
        r.raise_for_status()
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame.get("type") == "message" and frame.get("text") == text:
                return time.perf_counter() - t1


async def approvals(desk: Desk, orders: list[tuple[str, str]]) -> tuple[list[float], str]:
    r = await desk.http.put("/v1/policy", json={"approval_above": 1}, headers=desk.admin)
    r.raise_for_status()
    rounds: list[float] = []
    workflow_id = ""
    for i, (email, order) in enumerate(orders):
        visitor = f"bench-approve-{i}"
        await desk.say(20_000 + i, visitor, f"cancel order {order} please", email)
        await desk.say(20_000 + i, visitor, "I no longer need it", email)
        asked = await desk.say(20_000 + i, visitor, "yes, cancel it", email)
        if "approv" not in asked["reply"]:
            raise RuntimeError(f"no approval asked for: {asked['reply'][:120]}")
        r = await desk.http.get(
            "/v1/inbox", params={"q": asked["customer_id"]}, headers=desk.operator
        )
        [line] = r.json()["items"]
        workflow_id = line["workflow_id"]
        after = (await desk.updates(20_000 + i, visitor, 0))["last_seq"]
        t0 = time.perf_counter()
        r = await desk.http.post(
            f"/v1/approvals/{line['approval']['approval_id']}",
            json={"decision": "approve"},
            headers=desk.operator,
        )
        r.raise_for_status()
        rounds.append(await desk.seen(20_000 + i, visitor, after, "cancelled") - t0)
    return rounds, workflow_id


async def run(args: argparse.Namespace, up: Stack) -> None:
    orders = pending_orders(10_000)
    emails = list(dict.fromkeys(e for e, _ in orders))[: args.conversations]
    # Approvals by customers the hand-overs did not use: each is a conversation of its own.
    to_approve = [(e, o) for e, o in orders if e not in emails]
    to_approve = list({e: (e, o) for e, o in to_approve}.values())[: args.approvals]
    for email in [*emails, *(e for e, _ in to_approve)]:
        up.tokens(email)
    async with httpx.AsyncClient(base_url=up.api, timeout=120) as http:
        desk = Desk(up, http)
        floor = await baseline(desk, emails[:20])
        human = await handoffs(desk, emails)
        rounds, approval_wf = await approvals(desk, to_approve)
        audit = await http.get("/v1/audit", params={"workflow_id": approval_wf}, headers=desk.admin)
        audit_entries = [e["action"] for e in audit.json()["entries"]]
    client = await Client.connect(up.temporal)
    history = await client.get_workflow_handle(approval_wf).fetch_history()
    actions = count_actions(json.loads(history.to_json()))

    def line(name: str, xs: list[float]) -> None:
        p50 = pct(xs, 50)
        print(
            f"  {name:34s} n={len(xs):3d}  p50 {p50 * 1000:7.1f} ms"
            f"  p99 {pct(xs, 99) * 1000:7.1f} ms"
            f"  ({p50 / pct(floor, 50):.2f}x a chat turn)"
        )

    print(f"baseline: a chat turn p50 {pct(floor, 50) * 1000:.1f} ms (n={len(floor)})")
    line("handoff -> listed in the inbox", human["inbox"])
    line("operator reply -> customer (HTTP)", human["reply"])
    line("operator reply -> customer (socket)", human["socket"])
    line("approve -> customer told 'cancelled'", rounds)
    print(f"audit entries of one approval conversation: {len(audit_entries)} {audit_entries}")
    print(
        f"billable actions of one approval conversation: {sum(actions.values())} "
        f"{dict(sorted(actions.items()))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--approvals", type=int, default=20)
    args = parser.parse_args()
    with fresh_stack(stop_timeout=60) as up:
        print(f"supportflow up -> ready: {up.ready_s:.2f} s")
        asyncio.run(run(args, up))


if __name__ == "__main__":
    main()

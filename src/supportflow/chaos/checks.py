"""After the chaos: prove nothing was lost, doubled or left half done.

Each check reads the systems of record, not what the simulator believes: the workflows'
``transcript`` queries, the store's database (its log of applied writes, its orders and holds)
and the Temporal histories, which are replayed against the project's workflow code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Replayer

from supportflow.demo_store.db import create_store_engine, read_transaction
from supportflow.demo_store.invariants import applied_writes, check, doubled_effects
from supportflow.demo_store.money import to_cents
from supportflow.demo_store.repository import Doc, StoreRepository
from supportflow.demo_store.seeding import load_seed
from supportflow.sim.model import ConversationResult
from supportflow.worker import workflows
from supportflow.workflows.contract import TranscriptView, customer_workflow_id
from supportflow.workflows.customer import CustomerWorkflow

log = logging.getLogger(__name__)

# Writes that are one step of a cancel saga (hold -> refund -> cancel, release undoes hold).
SAGA_OPERATIONS = frozenset({"hold", "release", "refund", "cancel"})
MAX_PROBLEMS_SHOWN = 20
MAX_PROBLEM_CHARS = 300


@dataclass
class CheckResult:
    name: str
    ok: bool
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "summary": self.summary,
            "figures": self.figures,
            "problems": self.problems[:MAX_PROBLEMS_SHOWN],
            "problems_total": len(self.problems),
        }


# -- every inbound message answered exactly once ---------------------------------------------


def answered_once(
    conversations: Sequence[ConversationResult], transcripts: dict[str, TranscriptView | None]
) -> CheckResult:
    """Per message id the simulator sent: it saw an answer, and the workflow's transcript has
    exactly one customer entry and one agent reply for it."""
    problems: list[str] = []
    sent = answered = lost = doubled = dedup_replays = 0
    for conv in conversations:
        ids = list(dict.fromkeys(m.message_id for m in conv.messages))
        sent += len(ids)
        for m in conv.messages:
            dedup_replays += m.duplicate
        unanswered = {m.message_id for m in conv.messages if not m.answered}
        answered += len(ids) - len(unanswered)
        for mid in sorted(unanswered):
            problems.append(f"{conv.visitor_id} {mid}: the simulator saw no answer")
        view = transcripts.get(conv.workflow_id or "")
        if view is None:
            if ids:
                lost += len(ids)
                problems.append(f"{conv.visitor_id}: no transcript for {conv.workflow_id}")
            continue
        entries = Counter((e.message_id, e.role) for e in view.entries)
        for mid in ids:
            customer, agent = entries[(mid, "customer")], entries[(mid, "agent")]
            if customer == 0 or agent == 0:
                lost += 1
            if customer > 1 or agent > 1:
                doubled += 1
            if (customer, agent) != (1, 1):
                problems.append(
                    f"{conv.workflow_id} {mid}: {customer} customer entries, {agent} replies"
                )
    ok = not problems
    return CheckResult(
        "every message answered exactly once",
        ok,
        f"{sent} messages: {answered} answered, {lost} lost, {doubled} doubled in transcripts",
        {
            "messages": sent,
            "answered": answered,
            "lost": lost,
            "duplicates": doubled,
            "deduplicated_resends": dedup_replays,
        },
        problems,
    )


async def fetch_transcripts(
    client: Client, workflow_ids: Sequence[str], *, attempts: int = 5
) -> dict[str, TranscriptView | None]:
    sem = asyncio.Semaphore(16)

    async def one(wf_id: str) -> TranscriptView | None:
        handle = client.get_workflow_handle_for(CustomerWorkflow.run, wf_id)
        async with sem:
            for attempt in range(attempts):
                try:
                    view: TranscriptView = await handle.query(CustomerWorkflow.transcript)
                    return view
                except RPCError as err:
                    log.warning("transcript of %s: %s (attempt %d)", wf_id, err, attempt + 1)
                    await asyncio.sleep(1 + attempt)
        return None

    ids = sorted(set(workflow_ids))
    views = await asyncio.gather(*(one(i) for i in ids))
    return dict(zip(ids, views, strict=True))


def workflow_id_of(conv: ConversationResult, tenant_id: str) -> str | None:
    if conv.workflow_id:
        return conv.workflow_id
    if conv.customer_id:
        return customer_workflow_id(tenant_id, conv.customer_id)
    return None


# -- no action applied twice ----------------------------------------------------------------


def no_doubled_actions(events: Sequence[Doc]) -> CheckResult:
    doubled = doubled_effects(events)
    keyless = sum(1 for e in events if e["idempotency_key"] is None)
    keys = len({e["idempotency_key"] for e in events if e["idempotency_key"] is not None})
    return CheckResult(
        "no action applied twice",
        not doubled,
        f"{len(events)} store writes under {keys} idempotency keys: {len(doubled)} doubled",
        {"store_writes": len(events), "doubled": len(doubled), "writes_without_key": keyless},
        [str(v) for v in doubled],
    )


# -- every saga completed or compensated ----------------------------------------------------


def sagas_settled(
    conversations: Sequence[ConversationResult],
    events: Sequence[Doc],
    orders: dict[str, Doc],
    held: set[str],
    seed_orders: dict[str, Doc],
) -> CheckResult:
    """No order left held; every order a cancel saga touched is either cancelled with each
    payment refunded exactly once, or as it was (compensated, or never started)."""
    ops: dict[str, Counter[str]] = {}
    for e in events:
        ops.setdefault(str(e["entity_id"]), Counter())[str(e["operation"])] += 1
    touched = {oid for oid, c in ops.items() if SAGA_OPERATIONS & set(c)}
    touched |= {c.order_id for c in conversations if c.order_id and c.order_id in seed_orders}
    outcome: Counter[str] = Counter()
    problems = [f"{oid}: still held" for oid in sorted(held)]
    for oid in sorted(touched):
        before, after = seed_orders.get(oid), orders.get(oid)
        if before is None or after is None:
            problems.append(f"{oid}: not in the seed or not in the store")
            continue
        done = ops.get(oid, Counter())
        if after["status"] == "cancelled" and before["status"] != "cancelled":
            wrong = _refunded_exactly_once(before, after)
            problems += [f"{oid}: {w}" for w in wrong]
            outcome["completed (cancelled and refunded)"] += 1
        elif done["refund"] or after["payment_history"] != before["payment_history"]:
            problems.append(f"{oid}: refunded but not cancelled (status {after['status']!r})")
            outcome["half done"] += 1
        elif done["hold"]:
            outcome["compensated (held, released)"] += 1
        elif done:
            outcome["completed (single step)"] += 1
        else:
            outcome["untouched"] += 1
    return CheckResult(
        "every saga completed or compensated",
        not problems,
        ", ".join(f"{n} {k}" for k, n in sorted(outcome.items())) or "no sagas",
        {"orders": len(touched), "held": len(held), **dict(outcome)},
        problems,
    )


def _refunded_exactly_once(before: Doc, after: Doc) -> list[str]:
    """Each method got back exactly what it had paid, net, before the cancel."""
    paid = before["payment_history"]
    history = after["payment_history"]
    if history[: len(paid)] != paid:
        return ["payment history rewritten"]
    added = history[len(paid) :]
    if any(r["transaction_type"] != "refund" for r in added):
        return ["a payment added by the cancel"]
    owed: Counter[str] = Counter()
    for p in paid:
        sign = 1 if p["transaction_type"] == "payment" else -1
        owed[p["payment_method_id"]] += sign * to_cents(p["amount"])
    refunded: Counter[str] = Counter()
    for r in added:
        refunded[r["payment_method_id"]] += to_cents(r["amount"])
    owed = +owed  # drop methods with nothing net paid
    if refunded != owed:
        return [f"refunded {dict(refunded)}c, net paid {dict(owed)}c"]
    return []


def read_store(store_db: Path) -> tuple[dict[str, Doc], set[str]]:
    """Every order, and the ids of orders under a hold."""
    engine = create_store_engine(store_db)
    try:
        with read_transaction(engine) as conn:
            repo = StoreRepository(conn)
            orders = {o["order_id"]: o for o in repo.all_orders()}
            return orders, set(repo.active_holds())
    finally:
        engine.dispose()


# -- store invariants -----------------------------------------------------------------------


def store_invariants(store_db: Path) -> CheckResult:
    violations = check(store_db)
    return CheckResult(
        "store invariants hold",
        not violations,
        f"{len(violations)} violations",
        {"violations": len(violations)},
        [str(v) for v in violations],
    )


# -- every history replays ------------------------------------------------------------------


async def histories_replay(client: Client, save_failed: Path | None = None) -> CheckResult:
    """Every run of every CustomerWorkflow (continue-as-new chains: each run) replays
    deterministically against the current workflow code. Histories that do not are written
    to ``save_failed`` (when given), ready for ``Replayer`` or a regression test."""
    # The client's own converter: the stack's payloads are encrypted with its keys.
    replayer = Replayer(workflows=workflows(), data_converter=client.data_converter)
    runs = continued = 0
    problems: list[str] = []
    listing = client.list_workflows("WorkflowType = 'CustomerWorkflow'")
    async with replayer.workflow_replay_iterator(listing.map_histories()) as results:
        async for result in results:
            runs += 1
            events = result.history.events
            if events and events[-1].event_type == (
                EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            ):
                continued += 1
            if result.replay_failure is not None:
                first = str(result.replay_failure).splitlines()[0][:MAX_PROBLEM_CHARS]
                problems.append(f"{result.history.workflow_id}: {first}")
                if save_failed is not None:
                    name = result.history.workflow_id.replace("/", "_") + f"-{runs}.json"
                    await asyncio.to_thread(_save, save_failed / name, result.history.to_json())
    return CheckResult(
        "every history replays",
        runs > 0 and not problems,
        f"{runs} runs replayed ({continued} continued as new): {len(problems)} failures",
        {"histories": runs, "continued_as_new": continued, "replay_failures": len(problems)},
        problems or ([] if runs else ["no histories found"]),
    )


def _save(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")


# -- all of them ----------------------------------------------------------------------------


async def settle(client: Client, workflow_ids: Sequence[str], limit_s: float) -> int:
    """Wait until no workflow has an activity pending (retries of sagas finishing after the
    faults stopped); returns how many still had one when ``limit_s`` ran out."""
    deadline = time.monotonic() + limit_s
    pending = sorted(set(workflow_ids))
    while pending:
        busy: list[str] = []
        for wf_id in pending:
            try:
                desc = await client.get_workflow_handle(wf_id).describe()
            except RPCError:
                busy.append(wf_id)
                continue
            if desc.raw_description.pending_activities:
                busy.append(wf_id)
        pending = busy
        if not pending or time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    return len(pending)


async def run_checks(
    client: Client,
    conversations: Sequence[ConversationResult],
    tenant_id: str,
    store_db: Path,
    save_failed: Path | None = None,
) -> list[CheckResult]:
    for conv in conversations:
        conv.workflow_id = workflow_id_of(conv, tenant_id)
    ids = [c.workflow_id for c in conversations if c.workflow_id]
    transcripts = await fetch_transcripts(client, ids)
    events = await asyncio.to_thread(applied_writes, store_db)
    orders, held = await asyncio.to_thread(read_store, store_db)
    seed_orders: dict[str, Doc] = (await asyncio.to_thread(load_seed))["orders"]
    return [
        answered_once(conversations, transcripts),
        no_doubled_actions(events),
        sagas_settled(conversations, events, orders, held, seed_orders),
        await asyncio.to_thread(store_invariants, store_db),
        await histories_replay(client, save_failed),
    ]

"""The chaos run's checks catch what they are there to catch: a lost or doubled message, a
write applied twice, a saga left half done or held (on the real store), a short chaos."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from supportflow.chaos.checks import (
    answered_once,
    no_doubled_actions,
    read_store,
    sagas_settled,
)
from supportflow.chaos.monkey import ChaosPlan, ChaosTally
from supportflow.chaos.run import plan_carried_out
from supportflow.demo_store.invariants import applied_writes, doubled_effects
from supportflow.demo_store.seeding import load_seed
from supportflow.sim.model import ConversationResult, SentMessage
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.workflows.contract import Channel, TranscriptEntry, TranscriptView
from tests.demo_store.conftest import ThreadedStore

WF = "sf/t/customer/c1"
TWICE = (("m1", "customer"), ("m1", "agent"))


def conversation(*ids: str, answered: bool = True) -> ConversationResult:
    conv = ConversationResult(0, "v1", "cancel_confirm", "a@example.com", None, workflow_id=WF)
    for mid in ids:
        conv.messages.append(
            SentMessage(mid, "hi", 0.0, reply="hello" if answered else None, attempts=1)
        )
    return conv


def transcript(*roles: tuple[str, str]) -> TranscriptView:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    entries = [
        TranscriptEntry(role=role, channel=Channel.CHAT, message_id=mid, text="x", at=at)
        for mid, role in roles
    ]
    return TranscriptView(
        tenant_id="t",
        customer_id="c1",
        store_user_id=None,
        identities=[],
        entries=entries,
        cases=[],
        turns=len(entries) // 2,
        runs=1,
    )


def test_each_message_once_in_and_once_out_passes() -> None:
    view = transcript(("m0", "customer"), ("m0", "agent"), ("m1", "customer"), ("m1", "agent"))
    # An agent message of its own (a confirmation timeout) is no inbound message.
    view.entries.append(view.entries[-1].model_copy(update={"message_id": "timeout:case-1"}))
    result = answered_once([conversation("m0", "m1")], {WF: view})
    assert result.ok, result.problems
    assert result.figures["messages"] == 2 and result.figures["answered"] == 2


@pytest.mark.parametrize(
    ("roles", "lost", "doubled"),
    [
        ((("m0", "customer"), ("m0", "agent"), ("m1", "customer")), 1, 0),  # m1 never answered
        ((("m0", "customer"), ("m0", "agent")), 1, 0),  # m1 never arrived
        (  # m1 taken as two turns
            (("m0", "customer"), ("m0", "agent"), ("m1", "customer"), ("m1", "agent"), *TWICE),
            0,
            1,
        ),
    ],
)
def test_a_lost_or_doubled_message_fails(
    roles: tuple[tuple[str, str], ...], lost: int, doubled: int
) -> None:
    result = answered_once([conversation("m0", "m1")], {WF: transcript(*roles)})
    assert not result.ok
    assert (result.figures["lost"], result.figures["duplicates"]) == (lost, doubled)


def test_a_message_the_simulator_saw_unanswered_fails_even_if_the_transcript_has_it() -> None:
    view = transcript(("m0", "customer"), ("m0", "agent"))
    result = answered_once([conversation("m0", answered=False)], {WF: view})
    assert not result.ok
    assert result.figures["answered"] == 0


def test_no_transcript_fails() -> None:
    result = answered_once([conversation("m0")], {WF: None})
    assert not result.ok and result.figures["lost"] == 1


def test_a_key_applied_twice_is_a_doubled_action() -> None:
    events: list[dict[str, Any]] = [
        {"idempotency_key": "k1", "operation": "hold", "entity_id": "#W1"},
        {"idempotency_key": "k2", "operation": "refund", "entity_id": "#W1"},
        {"idempotency_key": "k2", "operation": "refund", "entity_id": "#W1"},
        {"idempotency_key": None, "operation": "cancel", "entity_id": "#W1"},
    ]
    assert [v.subject for v in doubled_effects(events)] == ["k2"]
    result = no_doubled_actions(events)
    assert not result.ok
    assert result.figures == {"store_writes": 4, "doubled": 1, "writes_without_key": 1}
    assert no_doubled_actions(events[:2]).ok


def test_plan_not_carried_out_fails() -> None:
    plan = ChaosPlan(kills=5, temporal_restarts=1)
    short = ChaosTally(kills=3, temporal_restarts=1)
    short.store_faults["fail_before"] = 4
    assert not plan_carried_out(plan, short).ok
    full = ChaosTally(kills=5, temporal_restarts=1)
    assert not plan_carried_out(plan, full).ok  # the store never faulted
    full.store_faults["fail_before"] = 4
    assert plan_carried_out(plan, full).ok


# -- sagas, on the real store ---------------------------------------------------------------


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedStore]:
    with ThreadedStore(tmp_path_factory.mktemp("chaos-store") / "store.db") as running:
        yield running


def pending_orders(n: int) -> list[str]:
    seed = load_seed()
    return sorted(o for o, doc in seed["orders"].items() if doc["status"] == "pending")[:n]


def settle_check(db: Path, conversations: list[ConversationResult]) -> tuple[bool, list[str]]:
    orders, held = read_store(db)
    result = sagas_settled(conversations, applied_writes(db), orders, held, load_seed()["orders"])
    return result.ok, result.problems


async def test_saga_check_on_the_real_store(real_store: ThreadedStore) -> None:
    done, undone, half, untouched = pending_orders(4)
    convs = [
        ConversationResult(i, f"v{i}", "cancel_confirm", "a@example.com", oid)
        for i, oid in enumerate((done, undone, half, untouched))
    ]
    async with StoreClient(real_store.url) as store:
        await store.hold_order(done, "k-done-hold")
        await store.refund_order(done, "k-done-refund")
        await store.cancel_order(done, "no longer needed", "k-done-cancel")
        await store.hold_order(undone, "k-undone-hold")
        await store.release_order(undone, "k-undone-release", "k-undone-hold")
        assert settle_check(real_store.db_path, convs) == (True, [])

        # A saga stopped after its refund: held, refunded, not cancelled.
        await store.hold_order(half, "k-half-hold")
        await store.refund_order(half, "k-half-refund")
        ok, problems = settle_check(real_store.db_path, convs)
        assert not ok
        assert f"{half}: still held" in problems
        assert any(p.startswith(f"{half}: refunded but not cancelled") for p in problems)

        # Finished forward (the workflow's retry later): it passes again.
        await store.cancel_order(half, "no longer needed", "k-half-cancel")
        assert settle_check(real_store.db_path, convs) == (True, [])
    assert doubled_effects(applied_writes(real_store.db_path)) == []

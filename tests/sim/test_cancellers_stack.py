"""`supportflow simulate --cancellers`, end to end against a real embedded stack (`supportflow
up` in a process of its own): each canceller places an order at the demo store, asks in chat
(as that verified customer) to cancel it, and answers the retention offer and the confirmation
as its model says; the store's final state is what each canceller wanted, and the stack's
retention experiment counts exactly the saves they made, per arm. Marked slow (a stack of its
own): about 15 s on a shared 2-core machine, start and stop included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from supportflow.sim import Target, embedded_stack
from supportflow.sim.canceller_model import MODEL_LINE, CancellerModel
from supportflow.sim.canceller_report import passed, summarize, write_canceller_report
from supportflow.sim.cancellers import CancellerOptions, simulate_cancellers
from supportflow.sim.shopper_setup import SetupRefused

# Cancellers who make the arms tell apart: 10% off always keeps the order (p = 1 * 10 /
# (10 + 1e-6)); without an offer, half change their mind at the confirmation.
DECISIVE = CancellerModel(
    keep_after_discount_max=1.0,
    discount_half_percent=1e-6,
    mistake_factor=1.0,
    confirm_cancel=0.5,
    think_s=(0.1, 0.3),
)


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Target]:
    root = tmp_path_factory.mktemp("canceller-stack")
    async with embedded_stack(root / "data", root / "up.log") as target:
        yield target


async def _policy(target: Target) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=target.api_url) as api:
        r = await api.get("/v1/policy", headers={"X-Api-Key": target.api_key})
        r.raise_for_status()
        doc: dict[str, Any] = r.json()
        return doc


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_twelve_cancellers_are_counted_per_arm_as_the_store_has_their_orders(
    stack: Target, tmp_path: Path
) -> None:
    before = await _policy(stack)
    options = CancellerOptions(cancellers=12, seed=5, ramp_s=3.0, model=DECISIVE)
    run = await simulate_cancellers(stack, options, progress=False)
    s = summarize(run)
    cs = run.cancellers

    assert [(c.index, c.errors) for c in cs if c.errors] == []
    assert all(c.order_id for c in cs)
    # Every canceller's order is in the state the canceller wanted, by the store's word.
    async with httpx.AsyncClient(base_url=stack.store_url) as store:
        for c in cs:
            assert c.order_id is not None
            status = (await store.get(f"/orders/{quote(c.order_id, safe='')}")).json()["status"]
            wanted = "pending" if c.wants_kept else "cancelled"
            assert (c.wants_kept, status) == (c.wants_kept, wanted), (c.index, c.turns)
    # Each case reached the offer; the ten-off arm's offer is 10% off, and here always taken.
    assert all(c.exposed for c in cs), [(c.index, c.ended, c.turns) for c in cs]
    offered = [c for c in cs if c.offer_seen is not None]
    assert {c.offer_seen for c in offered} <= {"10% off next order"}
    assert all(c.took_offer and c.ended == "saved" for c in offered)
    assert all(c.arm == "ten-off" for c in offered)
    assert all(c.arm == "control" for c in cs if c.offer_seen is None)

    # The stack's results: saves per arm, as many as the store has kept orders, per arm.
    assert run.results is not None and run.results["status"] == "stopped"
    ck = s["checks"]
    assert ck["outcome_is_save"], run.results
    assert ck["exposures_match"] and ck["saves_match"], ck
    assert ck["per_arm_match"] and len(ck["per_arm"]) == 2, ck["per_arm"]
    arms = {a["arm"]: a for a in s["arms"]}
    assert set(arms) == {"control", "ten-off"}
    assert arms["ten-off"]["saves"] == arms["ten-off"]["exposures"] == len(offered)
    assert sum(a["exposures"] for a in arms.values()) == 12
    assert all(a["rate_interval"] for a in s["arms"] if a["exposures"])
    assert passed(s), s["findings"]

    # The tenant's policy is as it was; the report names the model.
    assert await _policy(stack) == before
    assert MODEL_LINE in write_canceller_report(run, tmp_path)[0].read_text("utf-8")


async def test_another_running_retention_experiment_is_not_stopped_and_nothing_changes(
    stack: Target,
) -> None:
    headers = {"X-Api-Key": stack.api_key}
    async with httpx.AsyncClient(base_url=stack.api_url) as api:
        body = {
            "name": "theirs",
            "behaviour": "retention",
            "arms": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}],
        }
        r = await api.post("/v1/experiments", headers=headers, json=body)
        theirs = r.json()["experiment_id"]
        (await api.post(f"/v1/experiments/{theirs}/start", headers=headers)).raise_for_status()
        before = await _policy(stack)
        with pytest.raises(SetupRefused, match="starting the experiment: http 409"):
            await simulate_cancellers(stack, CancellerOptions(cancellers=1), progress=False)
        assert (await api.get(f"/v1/experiments/{theirs}", headers=headers)).json()[
            "status"
        ] == "running"
        assert await _policy(stack) == before
        (await api.post(f"/v1/experiments/{theirs}/stop", headers=headers)).raise_for_status()

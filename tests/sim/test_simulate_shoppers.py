"""`supportflow simulate --shoppers`, end to end against a real embedded stack (`supportflow
up` in a process of its own): the store's webhooks start sales workflows, reminders arrive by
email after the real one-minute delay, shoppers buy with the codes, and the experiment's
results count exactly what the shoppers did. About two minutes: marked slow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from supportflow.sim import Target, embedded_stack
from supportflow.sim.shopper_arms import parse_arms
from supportflow.sim.shopper_model import MODEL_LINE, ShopperModel
from supportflow.sim.shopper_report import summarize, write_shopper_report
from supportflow.sim.shopper_setup import SetupRefused
from supportflow.sim.shoppers import ShopperOptions, simulate_shoppers

# Shoppers who make the arms tell apart: all consent, all read, and 10% off always sells
# (p = 0 + 1 * 10 / (10 + 1e-6)); a reminder with no offer never does.
DECISIVE = ShopperModel(
    start_checkout=1.0,
    email_consent=1.0,
    buy_at_once=0.25,
    come_back=0.1,
    open_reminder=1.0,
    buy_after_reminder=0.0,
    buy_after_discount_max=1.0,
    discount_half_percent=1e-6,
    think_s=(1.0, 3.0),
)


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Target]:
    root = tmp_path_factory.mktemp("shopper-stack")
    async with embedded_stack(root / "data", root / "up.log") as target:
        yield target


async def _policy(target: Target) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=target.api_url) as api:
        r = await api.get("/v1/policy", headers={"X-Api-Key": target.api_key})
        r.raise_for_status()
        doc: dict[str, Any] = r.json()
        return doc


@pytest.mark.slow
@pytest.mark.timeout(480)
async def test_twenty_shoppers_are_counted_per_arm_as_they_shopped(
    stack: Target, tmp_path: Path
) -> None:
    before = await _policy(stack)
    options = ShopperOptions(shoppers=20, seed=11, ramp_s=2.0, model=DECISIVE)
    run = await simulate_shoppers(stack, options, progress=False)

    s = summarize(run)
    shoppers = run.shoppers
    assert [o.errors for o in shoppers if o.errors] == []
    checkouts = [o for o in shoppers if o.checkout_id]
    assert len(checkouts) == 20  # start_checkout = 1
    # The stack counted one exposure per checkout and one conversion per order.
    assert s["checks"]["exposures_match"] and s["checks"]["conversions_match"], s["checks"]
    assert s["checks"]["sales_workflows_still_running"] == 0
    assert [a["arm"] for a in s["arms"]] == ["control", "ten-off"]
    assert run.results is not None and run.results["status"] == "stopped"

    # Only the ten-off arm sends: every reminder offers 10% off, comes after the delay,
    # and (10% off always sells here) its shopper bought with the code.
    reminded = [o for o in checkouts if o.offer is not None]
    assert reminded, "no reminder arrived (a 20-shopper run has ~7 ten-off abandoners)"
    assert {o.offer for o in reminded} == {"10% off"}
    assert all(o.reminder_after_s is not None for o in reminded)
    assert all(58 <= float(o.reminder_after_s or 0) <= 60 + 45 for o in reminded)
    assert all(o.bought == "after_reminder" and o.used_code for o in reminded)
    ten_off = next(a for a in s["arms"] if a["arm"] == "ten-off")
    assert ten_off["conversions"] >= len(reminded)
    # Nobody bought at the control's reminder: there is none.
    assert not [o for o in checkouts if o.bought == "after_reminder" and not o.used_code]
    # The orders placed with a code carry the discount.
    async with httpx.AsyncClient(base_url=stack.store_url) as store:
        for o in reminded:
            assert o.order_id is not None
            order = (await store.get(f"/orders/{quote(o.order_id, safe='')}")).json()
            assert [d["type"] for d in order["discount_codes"]] == ["percentage"]

    # Every sales touch's workflow was counted; a sent reminder costs more than a hold-out.
    assert all(sum(o.billable_actions.values()) > 0 for o in checkouts)
    assert s["billable_actions"]["touches_counted"] == 20
    # The tenant's policy is as it was.
    assert await _policy(stack) == before
    assert MODEL_LINE in write_shopper_report(run, tmp_path)[0].read_text("utf-8")


async def test_another_running_experiment_is_not_stopped_and_nothing_changes(
    stack: Target,
) -> None:
    headers = {"X-Api-Key": stack.api_key}
    async with httpx.AsyncClient(base_url=stack.api_url) as api:
        body = {
            "name": "theirs",
            "behaviour": "abandoned_checkout",
            "arms": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}],
        }
        r = await api.post("/v1/experiments", headers=headers, json=body)
        theirs = r.json()["experiment_id"]
        (await api.post(f"/v1/experiments/{theirs}/start", headers=headers)).raise_for_status()
        before = await _policy(stack)
        options = ShopperOptions(shoppers=1, arms=parse_arms([]))
        with pytest.raises(SetupRefused, match="starting the experiment: http 409"):
            await simulate_shoppers(stack, options, progress=False)
        assert (await api.get(f"/v1/experiments/{theirs}", headers=headers)).json()[
            "status"
        ] == "running"
        assert await _policy(stack) == before
        (await api.post(f"/v1/experiments/{theirs}/stop", headers=headers)).raise_for_status()

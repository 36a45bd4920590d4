"""The shopper report: every rate, difference and uplift with its interval, the model named,
and the stack's counts checked against what the shoppers did."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from supportflow.sim.shopper_arms import parse_arms
from supportflow.sim.shopper_model import MODEL_LINE
from supportflow.sim.shopper_report import (
    points_cell,
    print_summary,
    rate_cell,
    summarize,
    uplift_cell,
    write_shopper_report,
)
from supportflow.sim.shoppers import ShopperOptions, ShopperOutcome, ShopperRun

MODEL = "intention-to-treat, Wilson 95% per arm, Newcombe hybrid score 95% for differences"


def _results(control: tuple[int, int], treated: tuple[int, int]) -> dict[str, object]:
    """The API's results document, in its shape (sales/experiment_results.py)."""
    return {
        "confidence": 0.95,
        "model": MODEL,
        "relative_uplift_model": "MOVER-R Wilson 95% for the ratio of rates, minus 1",
        "control": "control",
        "arms": [
            {"arm": "control", "exposures": control[0], "conversions": control[1],
             "rate": control[1] / control[0], "rate_interval": [0.2, 0.45]},
            {"arm": "ten-off", "exposures": treated[0], "conversions": treated[1],
             "rate": treated[1] / treated[0], "rate_interval": [0.3, 0.55]},
        ],
        "comparisons": [
            {"arm": "ten-off", "versus": "control", "difference": 0.1,
             "difference_interval": [-0.05, 0.24], "relative_uplift": 0.33,
             "relative_uplift_interval": [-0.1, 0.9], "note": None},
        ],
        "notes": [],
    }  # fmt: skip


def _run(orders: int) -> ShopperRun:
    shoppers = [
        ShopperOutcome(index=0, user_id="a", path="left"),
        ShopperOutcome(index=1, user_id="b", path="bought_at_once", checkout_id="ck1",
                       bought="at_once", billable_actions={"workflow started": 1, "activity": 2}),
        ShopperOutcome(index=2, user_id="c", path="abandoned", checkout_id="ck2", consented=True,
                       offer="10% off", reminder_after_s=61.0, read_reminder=True,
                       bought="after_reminder" if orders > 1 else None, used_code=orders > 1,
                       reminders_received=1,
                       billable_actions={"workflow started": 1, "activity": 2, "timer": 1}),
        ShopperOutcome(index=3, user_id="d", path="abandoned", checkout_id="ck3",
                       billable_actions={"workflow started": 1, "activity": 2, "timer": 1}),
    ]  # fmt: skip
    run = ShopperRun(
        options=ShopperOptions(shoppers=4, arms=parse_arms([])),
        api_url="http://127.0.0.1:1",
        started_at=1000.0,
        ended_at=1150.0,
        experiment_id="exp_0123456789abcdef",
        results=_results((1, 0), (2, 2)),
        shoppers=shoppers,
    )
    return run


def test_summary_checks_the_stacks_counts_against_the_shoppers() -> None:
    s = summarize(_run(orders=2))
    assert s["model"] == MODEL_LINE and s["intervals"] == MODEL
    assert s["checks"] == {
        "checkouts": 3,
        "exposures": 3,
        "orders": 2,
        "conversions": 2,
        "exposures_match": True,
        "conversions_match": True,
        "sales_workflows_still_running": 0,
    }
    sh = s["shoppers"]
    assert (sh["left_without_checkout"], sh["reminders_received"], sh["orders_with_code"]) == (
        1,
        1,
        1,
    )
    b = s["billable_actions"]
    assert (b["touches_counted"], b["total"], b["per_touch"]["mean"]) == (3, 11, 11 / 3)
    assert b["by_path"]["bought at once"]["mean"] == 3
    assert b["by_path"]["abandoned, reminder received"]["touches"] == 1
    # One order the stack did not count: a mismatch, said.
    assert not summarize(_run(orders=1))["checks"]["conversions_match"]


def test_never_an_uplift_without_its_interval() -> None:
    assert points_cell(0.1, [-0.05, 0.24]) == "+10.0 pts [-5.0, +24.0]"
    assert points_cell(0.1, None) == "-" and points_cell(None, [0.0, 1.0]) == "-"
    assert uplift_cell(0.33, [-0.1, 0.9]) == "+33% [-10, +90]"
    assert uplift_cell(0.33, None) == "-"
    assert rate_cell(0.25, [0.1, 0.4]) == "25.0% [10.0, 40.0]"
    assert rate_cell(None, [0.0, 1.0]) == "- (no exposures)"


def test_reports_name_the_model_beside_the_figures(tmp_path: Path) -> None:
    run = _run(orders=2)
    md, js = write_shopper_report(run, tmp_path / "out")
    text = md.read_text("utf-8")
    assert MODEL_LINE in text and MODEL in text
    assert "| ten-off | reminder, 10% off | 2 | 2 | 100.0% [30.0, 55.0] | " in text
    assert "+10.0 pts [-5.0, +24.0]" in text and "+33% [-10, +90]" in text
    doc = json.loads(js.read_text("utf-8"))
    assert doc["summary"]["model"] == MODEL_LINE
    assert len(doc["shoppers"]) == 4 and doc["results"]["model"] == MODEL

    console = Console(record=True, width=200)
    print_summary(console, summarize(run), md)
    out = console.export_text()
    assert MODEL_LINE in out and "+10.0 pts [-5.0, +24.0]" in out
    assert "billable actions per sales touch mean 3.7" in out

"""`supportflow simulate --shoppers N --arm ...`: the arms parsed and checked before any stack
is touched, with a clear error for bad ones."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from supportflow.cli.main import app
from supportflow.sim.shopper_arms import (
    DEFAULT_ARMS,
    describe,
    longest_delay_minutes,
    parse_arm,
    parse_arms,
)
from supportflow.sim.shopper_cli import shopper_options
from supportflow.sim.shopper_setup import run_policy


def test_arms_parse_as_experiments_create_writes_them() -> None:
    assert parse_arm("ten-off:50:offer=discount,discount_percent=10") == {
        "name": "ten-off",
        "weight": 50,
        "params": {"offer": "discount", "discount_percent": 10},
    }
    assert parse_arm("control:1:send=FALSE") == {
        "name": "control",
        "weight": 1,
        "params": {"send": False},
    }
    arms = parse_arms(["hold:2:send=false", "ship:1:offer=free_shipping,delay_minutes=3"])
    assert [(a.name, a.weight) for a in arms] == [("hold", 2), ("ship", 1)]
    assert [describe(a) for a in arms] == [
        "hold-out (no message)",
        "reminder, free shipping, after 3 min",
    ]
    assert longest_delay_minutes(arms, 1) == 3 and longest_delay_minutes(arms, 5) == 5


def test_no_arms_is_the_default_hold_out_against_ten_off() -> None:
    arms = parse_arms([])
    assert [a.name for a in arms] == ["control", "ten-off"]
    assert parse_arms(list(DEFAULT_ARMS)) == arms
    assert not arms[0].params.send and arms[1].params.discount_percent == 10


@pytest.mark.parametrize(
    ("specs", "says"),
    [
        (["control"], "NAME:WEIGHT"),
        (["control:half"], "whole number"),
        (["a:1:offer"], "key=value"),
        (["a:1:colour=red", "b:1"], "unknown key 'colour'"),
        (["a:1:send=maybe", "b:1"], "true or false"),
        (["a:1:send=false,send=true", "b:1"], "given twice"),
        (["only:1"], "arms"),  # one arm: nothing to compare
        (["a:1", "a:1"], "appears twice"),
        (["a:1", "b:1:offer=discount"], "discount_percent"),
        (["a:1:send=false,offer=free_shipping", "b:1"], "hold-out"),
        (["a:1", "b:1:offer=exchange"], "retention only"),
        (["a:0", "b:1"], "weight"),
    ],
)
def test_bad_arms_are_refused_saying_why(specs: list[str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_arms(specs)


def test_options_from_the_command_line() -> None:
    options = shopper_options(40, 3, ["c:1:send=false", "t:1:delay_minutes=2"], 1, 5.0)
    assert (options.shoppers, options.seed, options.reminder_delay_min) == (40, 3, 1)
    # An abandoner watches for the latest arm's reminder: 2 minutes plus the margin.
    assert options.window_s == 120 + options.reminder_margin_s
    with pytest.raises(ValueError, match="at least 1"):
        shopper_options(0, 0, [], 1, 0.0)


def test_the_cli_refuses_bad_arms_before_starting_anything() -> None:
    result = CliRunner().invoke(
        app, ["simulate", "--shoppers", "5", "--arm", "control:50", "--arm", "x:1:offer=gift"]
    )
    assert result.exit_code == 2
    assert "--arm" in result.output and "offer" in result.output
    assert "starting an embedded stack" not in result.output


def test_the_run_policy_turns_sales_on_and_keeps_the_rest() -> None:
    before = {
        "confirmation_timeout": "PT20S",
        "sales": {
            "enabled": False,
            "channels": ["email", "sms"],
            "quiet_hours": {"timezone": "UTC", "start": "21:00:00", "end": "08:00:00"},
            "abandoned_checkout": {"enabled": False, "delay": "PT1H", "offer": "discount"},
            "attribution_window": "P7D",
        },
    }
    doc = run_policy(before, 2)
    assert doc["confirmation_timeout"] == "PT20S"
    sales = doc["sales"]
    assert (sales["enabled"], sales["channels"], sales["quiet_hours"]) == (True, ["email"], None)
    assert sales["abandoned_checkout"] == {"enabled": True, "delay": "PT2M", "offer": "discount"}
    assert sales["attribution_window"] == "P7D"
    assert before["sales"]["enabled"] is False  # the original, to restore, is untouched


def test_the_run_policy_is_one_the_stack_accepts() -> None:
    from datetime import timedelta

    from supportflow.policy.load import parse_policy
    from supportflow.policy.model import TenantPolicy

    policy = parse_policy(run_policy(TenantPolicy().model_dump(mode="json"), 1))
    assert policy.sales.enabled and policy.sales.quiet_hours is None
    assert policy.sales.abandoned_checkout.delay == timedelta(minutes=1)
    assert policy.sales.channels == ("email",)

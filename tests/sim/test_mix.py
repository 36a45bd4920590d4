"""The channel mix: parsing `--channels`, and dealing channels out to customers."""

from __future__ import annotations

from collections import Counter

import pytest

from supportflow.sim.mix import counts, ends_on, parse_mix, plan_channels


def test_parse_mix() -> None:
    assert parse_mix("chat=50,email=30,sms=20") == (("chat", 50), ("email", 30), ("sms", 20))
    assert parse_mix(" Chat = 1 , sms=0 ") == (("chat", 1),)  # a zero share is no channel
    for bad, says in (
        ("chat=50,fax=10", "unknown channel 'fax'"),
        ("chat", "NAME=SHARE"),
        ("chat=half", "whole number"),
        ("chat=-1", "negative"),
        ("chat=1,chat=2", "twice"),
        ("chat=0", "above 0"),
        ("", "above 0"),
    ):
        with pytest.raises(ValueError, match=says):
            parse_mix(bad)


def test_counts_add_up_by_largest_remainder() -> None:
    mix = (("chat", 50), ("email", 30), ("sms", 20))
    assert counts(mix, 100) == {"chat": 50, "email": 30, "sms": 20}
    assert counts(mix, 7) == {"chat": 4, "email": 2, "sms": 1}  # 3.5, 2.1, 1.4
    assert sum(counts((("chat", 1), ("email", 1), ("sms", 1)), 10).values()) == 10


def test_plan_is_the_seeds_and_chat_only_is_unchanged() -> None:
    mix = (("chat", 50), ("email", 30), ("sms", 20))
    plan = plan_channels(mix, 40, seed=3)
    assert plan == plan_channels(mix, 40, seed=3)
    assert plan != plan_channels(mix, 40, seed=4)
    assert Counter(plan) == {"chat": 20, "email": 12, "sms": 8}
    assert plan_channels((("chat", 100),), 5, seed=3) == ["chat"] * 5


def test_a_share_of_email_and_sms_customers_start_in_chat() -> None:
    mix = (("chat", 50), ("email", 30), ("sms", 20))
    plan = plan_channels(mix, 40, seed=3, switch_share=0.5)
    assert Counter(plan) == {"chat": 20, "email": 6, "chat+email": 6, "sms": 4, "chat+sms": 4}
    assert [ends_on(label) for label in plan] == plan_channels(mix, 40, seed=3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        plan_channels(mix, 40, seed=3, switch_share=1.5)

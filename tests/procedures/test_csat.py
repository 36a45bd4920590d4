"""CSAT's rules (sales-v1 runs): which messages are only a rating, and how often the question
may be asked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from supportflow.procedures.csat import QUIET, may_ask, rating_of
from supportflow.replies.render import render
from supportflow.replies.templates import CHANNEL_TEMPLATES, DEFAULT_TEMPLATES
from tests.procedures.conftest import NOW


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("5", 5),
        (" 1 ", 1),
        ("5/5", 5),
        ("3 / 5", 3),
        ("4 out of 5", 4),
        ("4 stars", 4),
        ("Five stars!", 5),
        ("five", 5),
        ("two", 2),
        ("2*", 2),
        ("5, thanks", 5),
        ("⭐⭐⭐⭐", 4),
    ],
)
def test_a_message_that_is_only_a_rating(text: str, rating: int) -> None:
    assert rating_of(text) == rating


@pytest.mark.parametrize(
    "text",
    [
        "5 more shirts please",
        "0",
        "6",
        "10",
        "55",
        "1.5",
        "#W1234567",
        "where is order 5",
        "thanks",
        "5 " * 30,
    ],
)
def test_anything_else_is_not_a_rating(text: str) -> None:
    assert rating_of(text) is None


def test_asked_at_most_once_per_quiet_window() -> None:
    assert may_ask(None, NOW)
    assert not may_ask(NOW, NOW + QUIET - timedelta(seconds=1))
    assert may_ask(NOW, NOW + QUIET)


def test_the_question_is_short_and_shorter_by_sms() -> None:
    asked = render("csat_ask", {})
    assert asked.startswith("How did we do?") and "1 (poor) to 5 (great)" in asked
    assert len(CHANNEL_TEMPLATES["csat_ask.sms"]) < len(DEFAULT_TEMPLATES["csat_ask"])
    assert render("csat_thanks", {}) == "Thanks for your rating!"

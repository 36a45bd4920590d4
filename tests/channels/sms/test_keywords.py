"""STOP/START/HELP keywords: Twilio's lists, whole-body matching, and what each one does."""

from __future__ import annotations

import pytest

from supportflow.channels.sms.keywords import (
    HELP_KEYWORDS,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    SmsKeyword,
    classify_keyword,
    help_reply,
    keyword_outcome,
    start_reply,
    stop_reply,
)
from supportflow.channels.sms.segments import Encoding, segments


def test_lists_are_twilios_defaults() -> None:
    assert {
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "revoke",
        "optout",
    } == OPT_OUT_KEYWORDS
    assert {"start", "yes", "unstop"} == OPT_IN_KEYWORDS
    assert {"help", "info"} == HELP_KEYWORDS


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        *[(w.upper(), SmsKeyword.OPT_OUT) for w in OPT_OUT_KEYWORDS],
        *[(w, SmsKeyword.OPT_IN) for w in OPT_IN_KEYWORDS],
        *[(w.title(), SmsKeyword.HELP) for w in HELP_KEYWORDS],
        ("  Stop \n", SmsKeyword.OPT_OUT),
        ("sToP", SmsKeyword.OPT_OUT),
        ("\u200bSTOP", SmsKeyword.OPT_OUT),
        ("Cancel", SmsKeyword.OPT_OUT),
        ("Stop.", SmsKeyword.OPT_OUT),
        ("STOP!!", SmsKeyword.OPT_OUT),
        ("Unstop", SmsKeyword.OPT_IN),
    ],
)
def test_whole_body_keywords(body: str, expected: SmsKeyword) -> None:
    assert classify_keyword(body) is expected


@pytest.mark.parametrize(
    "body",
    [
        "cancel my order",
        "Can I cancel order #1234?",
        "please stop",
        "STOP PLEASE",
        "stop sending me texts about the sale",
        "yes please",
        "help me with my return",
        "info on shipping?",
        "stop?",
        "s t o p",
        "",
        "   ",
        "stopp",
        "end of the month",
    ],
)
def test_anything_but_the_bare_word_is_an_ordinary_message(body: str) -> None:
    assert classify_keyword(body) is SmsKeyword.NONE


def test_cancel_my_order_goes_to_the_agent_even_from_a_subscribed_number() -> None:
    outcome = keyword_outcome("cancel my order", store_name="Acme", opted_out=False)
    assert outcome.keyword is SmsKeyword.NONE
    assert outcome.deliver and outcome.reply is None and not outcome.opted_out


def test_stop_opts_out_with_one_confirmation_naming_the_store() -> None:
    first = keyword_outcome("STOP", store_name="Acme Outdoor", opted_out=False)
    assert first.keyword is SmsKeyword.OPT_OUT
    assert first.opted_out and not first.deliver
    assert first.reply == (
        "You're unsubscribed from Acme Outdoor messages. Reply START to resubscribe."
    )
    again = keyword_outcome("stop", store_name="Acme Outdoor", opted_out=True)
    assert again.opted_out and again.reply is None and not again.deliver


def test_start_opts_back_in() -> None:
    outcome = keyword_outcome("start", store_name="Acme", opted_out=True)
    assert outcome.keyword is SmsKeyword.OPT_IN
    assert not outcome.opted_out and not outcome.deliver
    assert outcome.reply == start_reply("Acme")
    assert "Acme" in start_reply("Acme")
    # Asked while subscribed: still answered, state unchanged.
    assert keyword_outcome("UNSTOP", store_name="Acme", opted_out=False).reply


def test_yes_is_an_answer_unless_the_number_is_opted_out() -> None:
    answer = keyword_outcome("Yes", store_name="Acme", opted_out=False)
    assert answer.keyword is SmsKeyword.NONE and answer.deliver and answer.reply is None
    opt_in = keyword_outcome("YES", store_name="Acme", opted_out=True)
    assert opt_in.keyword is SmsKeyword.OPT_IN and not opt_in.opted_out
    assert opt_in.reply == start_reply("Acme") and not opt_in.deliver


def test_help_answers_only_subscribed_numbers() -> None:
    outcome = keyword_outcome("HELP", store_name="Acme", opted_out=False)
    assert outcome.keyword is SmsKeyword.HELP and outcome.reply == help_reply("Acme")
    assert "Acme" in outcome.reply and "STOP" in outcome.reply and not outcome.deliver
    silent = keyword_outcome("info", store_name="Acme", opted_out=True)
    assert silent.reply is None and silent.opted_out


def test_an_opted_out_number_still_reaches_the_conversation_but_stays_opted_out() -> None:
    outcome = keyword_outcome("where is my parcel", store_name="Acme", opted_out=True)
    assert outcome.deliver and outcome.opted_out and outcome.reply is None


@pytest.mark.parametrize("reply", [stop_reply, start_reply, help_reply])
def test_replies_are_one_gsm7_segment(reply: object) -> None:
    assert callable(reply)
    text = reply("Ana\u2019s Garden \u2014 Plants")
    assert "Ana's Garden - Plants" in text
    info = segments(text)
    assert info.encoding is Encoding.GSM7 and info.segments == 1


def test_store_name_is_one_short_line() -> None:
    text = stop_reply("A very\nlong   store name that goes on and on and on forever and ever")
    assert "\n" not in text
    assert "..." in text and len(text) < 160
    assert stop_reply("  ") == (
        "You're unsubscribed from our store messages. Reply START to resubscribe."
    )

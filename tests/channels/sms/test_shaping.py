"""Replies shaped for SMS: Markdown gone, one paragraph, GSM-7 kept, cut to segment limits."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportflow.channels.sms.plaintext import plain_text
from supportflow.channels.sms.segments import Encoding, segments, shape_reply

_MARKER = re.compile(r" \((\d+)/(\d+)\)$")


def _unmarked(bodies: list[str]) -> list[str]:
    if len(bodies) == 1:
        assert not _MARKER.search(bodies[0])
        return bodies
    out = []
    for i, body in enumerate(bodies, 1):
        match = _MARKER.search(body)
        assert match, body
        assert (int(match.group(1)), int(match.group(2))) == (i, len(bodies))
        out.append(body[: match.start()])
    return out


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**Good news!** Your order _shipped_.", "Good news! Your order shipped."),
        ("Track it [here](https://t.example/abc).", "Track it here (https://t.example/abc)."),
        ("See [https://t.example](https://t.example).", "See https://t.example."),
        ("Mail <mailto:help@shop.example>", "Mail mailto:help@shop.example"),
        ("Use code `SAVE10` at checkout", "Use code SAVE10 at checkout"),
        ("## Returns\nYou have 30 days.", "Returns: You have 30 days."),
        (
            "Options:\n* Refund\n* Exchange\n\nReply with one.",
            "Options:\n- Refund\n- Exchange\nReply with one.",
        ),
        ("1. Pack it\n2) Ship it", "1. Pack it\n2. Ship it"),
        ("Hi Anna\n\nYour parcel left today", "Hi Anna. Your parcel left today"),
        ("Hi Anna,\n\nthanks", "Hi Anna, thanks"),
        ("> quoted\nline", "quoted line"),
        ("***both***", "both"),
        ("~~old~~ new", "old new"),
        ("above\n\n---\n\nbelow", "above. below"),
        ("```\ncode\n```", "code"),
        (
            "snake_case_name and https://x.example/a_b_c*d*",
            "snake_case_name and https://x.example/a_b_c*d*",
        ),
        ("It\u2019s \u201cready\u201d \u2014 see you\u2026", 'It\'s "ready" - see you...'),
        ("e\u0301te\u0301", "été"),
        ("tab\there\u00a0and\u200bhere", "tab here andhere"),
        ("# Only a heading", "Only a heading"),
        ("a\x000\x00b\x01 \x7f", "a0b"),
        ("", ""),
        ("   \n\n  ", ""),
    ],
)
def test_plain_text(markdown: str, expected: str) -> None:
    assert plain_text(markdown) == expected


def test_typography_no_longer_forces_ucs2() -> None:
    reply = "We\u2019ve refunded \u20ac20 \u2013 you\u2019ll see it in 3\u20135 days."
    assert segments(reply).encoding is Encoding.UCS2
    [body] = shape_reply(reply)
    assert body == "We've refunded €20 - you'll see it in 3-5 days."
    assert segments(body).encoding is Encoding.GSM7


def test_letters_outside_gsm_are_kept() -> None:
    [body] = shape_reply("Merci François, c\u2019est noté ✅")
    assert body == "Merci François, c'est noté ✅"
    assert segments(body).encoding is Encoding.UCS2


def test_short_reply_is_one_unmarked_body() -> None:
    assert shape_reply("Your order **#1234** shipped today.") == ["Your order #1234 shipped today."]


def test_long_reply_splits_at_sentences_and_numbers_the_parts() -> None:
    sentences = [f"Sentence number {i} says something useful about your order." for i in range(30)]
    bodies = shape_reply(" ".join(sentences), max_segments=2)
    assert len(bodies) > 1
    for body in bodies:
        assert segments(body).segments <= 2
    texts = _unmarked(bodies)
    for text in texts:
        assert text.endswith("order.")  # cut between sentences, not inside one
    assert " ".join(texts) == " ".join(sentences)


def test_a_sentence_longer_than_a_body_is_cut_between_words() -> None:
    words = [f"word{i}" for i in range(200)]
    bodies = shape_reply(" ".join(words), max_segments=1)
    assert all(segments(b).segments == 1 for b in bodies)
    assert " ".join(_unmarked(bodies)).split() == words


def test_a_word_longer_than_a_body_is_cut_between_characters() -> None:
    url = "https://shop.example/track?" + "x" * 1000
    bodies = shape_reply(f"Track: {url} thanks", max_segments=1)
    assert all(segments(b).segments == 1 for b in bodies)
    assert "".join(_unmarked(bodies)).replace(" ", "") == f"Track:{url}thanks"


def test_emoji_reply_counts_ucs2_and_never_splits_a_pair() -> None:
    reply = " ".join(["Thanks 😀"] * 100)
    bodies = shape_reply(reply, max_segments=1)
    for body in bodies:
        info = segments(body)
        assert info.encoding is Encoding.UCS2 and info.segments == 1
    assert " ".join(_unmarked(bodies)).split() == reply.split()


def test_markers_reserve_room_when_the_count_gains_a_digit() -> None:
    # Enough one-segment bodies that the count reaches two digits.
    bodies = shape_reply(" ".join(f"Line {i} is here." for i in range(300)), max_segments=1)
    assert len(bodies) >= 10
    assert all(segments(b).segments == 1 for b in bodies)
    assert bodies[-1].endswith(f"({len(bodies)}/{len(bodies)})")


def test_list_items_keep_their_lines_and_there_are_no_blank_lines() -> None:
    [body] = shape_reply("Options:\n\n- Refund\n\n- Exchange\n\n\nThanks!")
    assert "\n\n" not in body
    assert body == "Options:\n- Refund\n- Exchange\nThanks!"


def test_nothing_to_send_and_bad_limit() -> None:
    assert shape_reply("  \n **  ** ") == []
    with pytest.raises(ValueError, match="max_segments"):
        shape_reply("hi", max_segments=0)


# --- properties --------------------------------------------------------------------------

_WORD_CHARS = st.sampled_from(
    [*"abcdefghijklmnopqrstuvwxyzABCXYZ0123456789€[]{}éÑ", "ê", "😀", "漢", "\u2019"]
)
_WORD = st.text(_WORD_CHARS, min_size=1, max_size=12)
_SEPARATOR = st.sampled_from([" ", " ", " ", ". ", "! ", "? ", ", ", "\n", "\n- ", "\n\n"])


@st.composite
def _replies(draw: st.DrawFn) -> str:
    words = draw(st.lists(_WORD, min_size=1, max_size=250))
    out = words[0]
    for word in words[1:]:
        out += draw(_SEPARATOR) + word
    return out


@settings(max_examples=150, deadline=None)
@given(_replies(), st.integers(min_value=1, max_value=4))
def test_every_body_fits_and_all_words_survive(reply: str, max_segments: int) -> None:
    bodies = shape_reply(reply, max_segments=max_segments)
    for body in bodies:
        assert 0 < segments(body).segments <= max_segments
        assert "\n\n" not in body
    assert " ".join(_unmarked(bodies)).split() == plain_text(reply).split()


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=0, max_size=1500), st.integers(min_value=1, max_value=3))
def test_any_text_fits_and_no_character_is_lost(reply: str, max_segments: int) -> None:
    bodies = shape_reply(reply, max_segments=max_segments)
    for body in bodies:
        assert 0 < segments(body).segments <= max_segments
    joined = "".join(_unmarked(bodies))
    assert re.sub(r"\s+", "", joined) == re.sub(r"\s+", "", plain_text(reply))

"""HTML to text, reply stripping and charset decoding: results, and bounded time on
hostile input (html.parser and the reply parser's patterns are quadratic or worse on some
inputs when used naively)."""

from __future__ import annotations

import time

import pytest

from supportflow.channels.email.charsets import decode_bytes, one_line, scrub
from supportflow.channels.email.html_text import html_to_text
from supportflow.channels.email.reply import strip_reply

# -- HTML ----------------------------------------------------------------------------------


def test_blocks_lists_entities_and_hidden_parts() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<h1>Title</h1><p>One&nbsp;two &amp; three &#8364;5</p><div>a<br>b</div>"
        "<ol><li>first</li><li>second</li></ol><script>if (a<b) alert(1)</script>"
        "<pre>  keep\n  spacing</pre><p>x</p></body></html>"
    )
    assert html_to_text(html) == (
        "Title\n\nOne two & three €5\n\na\nb\n\n- first\n- second\n\n  keep\n  spacing\n\nx"
    )


def test_blockquotes_become_quoted_lines() -> None:
    html = "<p>New text</p><blockquote>Old <b>text</b><br>more<blockquote>older</blockquote>"
    assert html_to_text(html) == "New text\n\n> Old text\n> more\n>\n> > older"


def test_unclosed_head_does_not_swallow_the_body() -> None:
    assert html_to_text("<head><title>x</title><body><p>Visible</p>") == "Visible"


def test_stray_angle_brackets_are_text() -> None:
    assert html_to_text("1 < 2 and 3 > 2 <b>bold</b>") == "1 < 2 and 3 > 2 bold"


@pytest.mark.parametrize(
    "hostile",
    [
        "<a " * 300_000,
        "</" * 500_000,
        "<!" * 500_000,
        "<" * 1_000_000,
        "<!--" * 250_000,
        "<script>" + "</s" * 300_000,
        "<blockquote>" * 80_000 + "x<br>" * 1000,
        ("<a " + "b='" * 600 + ">") * 500,
        "&#x" * 300_000,
    ],
)
def test_hostile_html_is_linear(hostile: str) -> None:
    started = time.perf_counter()
    text = html_to_text(hostile)
    assert time.perf_counter() - started < 5
    assert len(text) <= 4 * len(hostile)


# -- replies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        # a line starting "Thanks," is not a signature
        (
            "Hi,\nThanks, but my order #1234 has not arrived.\nCan you check?\n\n"
            "Best regards,\nJohn",
            "Hi,\nThanks, but my order #1234 has not arrived.\nCan you check?",
        ),
        # "From:/To:" in the customer's own words is not Outlook's header block
        (
            "Please change the address\nFrom: 1 Main St\nTo: 2 High St\nThank you",
            "Please change the address\nFrom: 1 Main St\nTo: 2 High St",
        ),
        (
            "Cancel it.\n\n-----Original Message-----\nFrom: Shop\nSent: Monday\n\nHello",
            "Cancel it.",
        ),
        (
            "Cancel it.\n\n________________________________\nFrom: Shop <s@x.test>\n"
            "Sent: Monday\nTo: me@x.test\nSubject: Re\n\nHello",
            "Cancel it.",
        ),
        (
            "Bitte stornieren.\n\nAm 08.01.2024 um 10:12 schrieb Shop <s@x.test>:\n> Hallo",
            "Bitte stornieren.",
        ),
        (
            "Merci.\n\nLe lun. 8 janv. 2024 à 10:12, Shop <s@x.test> a écrit :\n> Bonjour",
            "Merci.",
        ),
        # our own fallback: an attribution over three lines the library does not match
        (
            "Yes.\n\nOn Monday, 8 January 2024,\nShop Support <s@x.test>\nwrote:\n> Hi",
            "Yes.",
        ),
        # bottom-quoted without attribution
        ("Sure, go ahead.\n\n> Shall we refund?\n> Shop", "Sure, go ahead."),
        # interleaved answers keep their questions
        ("> Which order?\n1234\n> Which size?\nM", "> Which order?\n1234\n> Which size?\nM"),
        ("I want:\n- a refund\n- a label", "I want:\n- a refund\n- a label"),
        ("Yes please.\n\nGet Outlook for iOS", "Yes please."),
        # nothing left: the whole text
        ("> only a quote\n> here", "> only a quote\n> here"),
        ("Thanks!", "Thanks!"),
        ("-- \nJust a signature", "-- \nJust a signature"),
    ],
)
def test_strip_reply(text: str, reply: str) -> None:
    assert strip_reply(text) == reply


@pytest.mark.parametrize(
    "hostile",
    [
        "\n" * 200_000,
        ("On " + "x " * 20_000 + "\n") * 5,
        "On x\n" * 40_000,
        "From: a\nTo: b\n" * 20_000,
        "> " * 100_000,
        " " * 200_000,
        "-" * 200_000,
        "_" * 200_000,
    ],
)
def test_strip_reply_is_fast_on_hostile_text(hostile: str) -> None:
    started = time.perf_counter()
    strip_reply(hostile)
    assert time.perf_counter() - started < 3


# -- charsets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "charset", "text"),
    [
        ("café".encode("latin-1"), "iso-8859-1", "café"),
        ("café".encode(), "iso-8859-1", "café"),  # UTF-8 mislabelled Latin-1
        ("café".encode(), "us-ascii", "café"),
        (b"caf\xe9", "utf-8", "café"),  # Windows-1252 mislabelled UTF-8
        ("日本".encode("shift_jis"), "Shift_JIS", "日本"),
        ("日本".encode("iso-2022-jp"), "iso-2022-jp", "日本"),
        ("hi".encode("utf-16"), "utf-16", "hi"),
        ("café".encode(), "x-unknown", "café"),
        ("café".encode(), "base64", "café"),  # a codec, not a charset
        ("café".encode(), "idna", "café"),
        ("café".encode(), None, "café"),
    ],
)
def test_decode_bytes(data: bytes, charset: str | None, text: str) -> None:
    assert decode_bytes(data, charset) == text


def test_decode_never_raises_on_garbage() -> None:
    assert isinstance(decode_bytes(b"\x82\xa0\xff\xfe\x80", "shift_jis"), str)
    assert isinstance(decode_bytes(b"\xff\xfe\xfd", "utf-7"), str)
    assert isinstance(decode_bytes(b"\x00\xff", "\x00bad"), str)


def test_scrub_and_one_line() -> None:
    # a raw 8-bit byte the email package kept as a surrogate is decoded, not dropped
    assert scrub("a\r\nb\x00c\x1b[31m\x85\udce9") == "a\nbc[31mé"
    assert one_line(" Hello\r\nBcc: x@y\t z ") == "Hello Bcc: x@y z"

"""Property tests: parse_mail never raises anything but MalformedMail / MailTooLarge, on
random bytes and on random but mail-shaped MIME (headers, charsets, transfer encodings,
nested multiparts), and what it returns is always clean text; the HTML and reply helpers
never raise either."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportflow.channels.email.html_text import html_to_text
from supportflow.channels.email.parse import MailTooLarge, MalformedMail, ParsedMail, parse_mail
from supportflow.channels.email.reply import strip_reply

MAX = 64 * 1024
FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def check(mail: ParsedMail) -> None:
    for text in (mail.subject, mail.text, mail.reply_text, mail.from_name or ""):
        text.encode("utf-8")  # valid Unicode, no lone surrogates
        assert "\x00" not in text and "\r" not in text
    assert "\n" not in mail.subject
    if mail.text.strip():
        assert mail.reply_text.strip()
    for attachment in mail.attachments:
        assert "/" not in attachment.filename and "\\" not in attachment.filename
        assert attachment.filename and not attachment.filename.startswith(".")
    for msg_id in [mail.message_id, mail.in_reply_to, *mail.references]:
        assert msg_id is None or (msg_id.startswith("<") and msg_id.endswith(">"))


def parse_or_refuse(raw: bytes) -> None:
    started = time.perf_counter()
    try:
        mail = parse_mail(raw, max_bytes=MAX)
    except (MalformedMail, MailTooLarge):
        return
    finally:
        assert time.perf_counter() - started < 5
    check(mail)


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(raw: bytes) -> None:
    parse_or_refuse(raw)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_after_a_from_header(body: bytes) -> None:
    parse_or_refuse(b"From: a@example.com\r\n" + body)


HEADER_NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Cc",
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Date",
        "Return-Path",
        "Auto-Submitted",
        "Precedence",
        "List-Id",
        "X-Auto-Response-Suppress",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "MIME-Version",
    ]
)
CHARSETS = st.sampled_from(
    ["utf-8", "iso-8859-1", "us-ascii", "shift_jis", "iso-2022-jp", "utf-16", "x-bogus", "base64"]
)
TYPES = st.sampled_from(
    ["text/plain", "text/html", "application/pdf", "message/rfc822", "multipart/mixed", "image/x"]
)
ENCODINGS = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "bogus"])


def tokens(pieces: list[str], max_size: int) -> st.SearchStrategy[str]:
    """Text made of ``pieces`` (single characters and longer tokens)."""
    return st.lists(st.sampled_from(pieces), max_size=max_size).map("".join)


TEXT = tokens([*"ab <>&;=?\"'()@,.:-_\\/\t\r\n>éü日", "=?utf-8?q?", "?="], 80)


@st.composite
def header_value(draw: st.DrawFn) -> str:
    return draw(TEXT).replace("\r", " ").replace("\n", "\n ")


@st.composite
def part(draw: st.DrawFn, depth: int = 0) -> bytes:
    ctype = draw(TYPES)
    charset = draw(CHARSETS)
    encoding = draw(ENCODINGS)
    lines = [
        f"Content-Type: {ctype}; charset={charset}"
        + (f'; name="{draw(TEXT)}"' if draw(st.booleans()) else ""),
        f"Content-Transfer-Encoding: {encoding}",
    ]
    if draw(st.booleans()):
        lines.append(f"Content-Disposition: {draw(st.sampled_from(['inline', 'attachment']))}")
    head = "\r\n".join(lines).encode("utf-8", "surrogateescape")
    if ctype.startswith("multipart/") and depth < 3:
        boundary = draw(st.sampled_from(["b1", "b2", "=_x", ""]))
        head = head.replace(b"; charset=", f'; boundary="{boundary}"; x='.encode())
        children = draw(st.lists(part(depth + 1), max_size=3))
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + c + b"\r\n" for c in children)
        if draw(st.booleans()):
            body += b"--" + boundary.encode() + b"--\r\n"
    else:
        body = draw(st.binary(max_size=300)) if draw(st.booleans()) else draw(TEXT).encode()
    return head + b"\r\n\r\n" + body


@st.composite
def message(draw: st.DrawFn) -> bytes:
    headers = draw(st.lists(st.tuples(HEADER_NAMES, header_value()), max_size=12))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode()
    return head + draw(part())


@FUZZ
@given(message())
def test_mail_shaped_mime(raw: bytes) -> None:
    parse_or_refuse(raw)


@FUZZ
@given(tokens([*"<>/!-&#;x=\"' \nab", "<p>", "</p>", "<br>", "<script>", "<!--"], 400))
def test_html_to_text_never_raises(html: str) -> None:
    assert isinstance(html_to_text(html), str)


@FUZZ
@given(tokens([*"> -_\nab:@", "On ", " wrote:", "From: ", "-- \n", "Thanks,"], 400))
def test_strip_reply_never_empty(text: str) -> None:
    reply = strip_reply(text)
    if text.strip():
        assert reply.strip()

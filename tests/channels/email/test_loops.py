"""Mail that must get no answer, and the per-sender rate limit."""

from __future__ import annotations

from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from supportflow.channels.email.loops import auto_reason, header_reason
from supportflow.channels.email.parse import parse_mail

FIXTURES = Path(__file__).parent / "fixtures"
MAX = 10 * 1024 * 1024


def msg(*header_lines: str, body: str = "hello") -> Message:
    raw = "\r\n".join(header_lines) + "\r\n\r\n" + body + "\r\n"
    return BytesParser(policy=policy.default).parsebytes(raw.encode())


def person(*extra: str) -> Message:
    return msg("From: Jane <jane@example.com>", "Subject: order", *extra)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (("Auto-Submitted: auto-replied",), "auto_submitted"),
        (("Auto-Submitted: auto-generated (vacation)",), "auto_submitted"),
        (("Auto-Submitted: auto-notified; owner-email=x@y.z",), "auto_submitted"),
        (("Auto-Submitted: No",), None),
        (("Auto-Submitted: no (a person wrote this)",), None),
        (("Precedence: bulk",), "precedence"),
        (("Precedence: List",), "precedence"),
        (("Precedence: junk",), "precedence"),
        (("Precedence: first-class",), None),
        (("X-Autoreply: yes",), "autoreply_header"),
        (("X-Autorespond: Vacation",), "autoreply_header"),
        (("X-Auto-Response-Suppress: All",), "autoreply_header"),
        (("X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply, All",), "autoreply_header"),
        # a sender's wish about what it gets back, set on mail people write: not a robot
        (("X-Auto-Response-Suppress: OOF, AutoReply",), None),
        (("List-Id: Deals <deals.example>",), "list"),
        (("List-Unsubscribe: <mailto:u@deals.example>",), "list"),
        (("Return-Path: <>",), "null_sender"),
        (("Return-Path: <jane@example.com>",), None),
        (
            ("Content-Type: multipart/report; report-type=delivery-status; boundary=x",),
            "mailer_daemon",
        ),
        (
            ("Content-Type: multipart/report; report-type=disposition-notification",),
            "mailer_daemon",
        ),
    ],
)
def test_header_reasons(headers: tuple[str, ...], reason: str | None) -> None:
    assert header_reason(person(*headers)) == reason


def test_read_receipts_and_bounces_by_sender() -> None:
    assert header_reason(msg("From: MAILER-DAEMON@mx.example.com")) == "mailer_daemon"
    assert header_reason(msg("From: Postmaster <postmaster@example.com>")) == "mailer_daemon"
    assert header_reason(msg("From: owner-deals@lists.example")) == "list"
    assert header_reason(msg("From: deals-request@lists.example")) == "list"


def test_envelope_sender() -> None:
    assert header_reason(person(), envelope_sender="") == "null_sender"
    assert header_reason(person(), envelope_sender="<>") == "null_sender"
    assert header_reason(person(), envelope_sender="mailer-daemon@mx.example") == "mailer_daemon"
    assert header_reason(person(), envelope_sender="jane@example.com") is None
    assert header_reason(person(), envelope_sender=None) is None


def test_our_own_addresses_in_any_form() -> None:
    ours = {"Shop Support <Support+Demo@shop.test>", "mail@shop.test"}
    own = msg("From: support+demo@SHOP.test")
    assert header_reason(own, ours=ours) == "our_own"
    assert header_reason(person(), ours=ours, envelope_sender="mail@shop.test") == "our_own"
    assert header_reason(person(), ours=ours) is None


def test_fixtures_bounce_out_of_office_and_list() -> None:
    expected = {
        "bounce.eml": "null_sender",
        "out_of_office.eml": "auto_submitted",
        "list.eml": "precedence",
        "gmail_reply.eml": None,
        "outlook_reply.eml": None,
        "apple_mail_reply.eml": None,
    }
    for name, reason in expected.items():
        mail = parse_mail((FIXTURES / name).read_bytes(), max_bytes=MAX)
        assert mail.auto == reason, name
        assert auto_reason(mail) == reason, name


def test_bounce_without_null_return_path_is_still_a_bounce() -> None:
    raw = (FIXTURES / "bounce.eml").read_bytes().replace(b"Return-Path: <>\n", b"")
    raw = raw.replace(b"Auto-Submitted: auto-replied\n", b"")
    assert parse_mail(raw, max_bytes=MAX).auto == "mailer_daemon"
    raw = raw.replace(b"MAILER-DAEMON@mx.example.com", b"reports@mx.example.com")
    assert parse_mail(raw, max_bytes=MAX).auto == "mailer_daemon"  # multipart/report


def test_auto_reason_on_parsed_mail_adds_our_own() -> None:
    raw = b"From: Shop <support+demo@shop.test>\r\nSubject: x\r\n\r\nhi\r\n"
    mail = parse_mail(raw, max_bytes=MAX)
    assert mail.auto is None
    assert auto_reason(mail, ours={"support+demo@shop.test"}) == "our_own"
    assert auto_reason(mail, ours=set()) is None

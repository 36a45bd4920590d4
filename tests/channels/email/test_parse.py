"""parse_mail on MIME as real clients write it (fixtures/), and on bad input."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from supportflow.channels.email.parse import (
    MAX_TEXT_CHARS,
    AttachmentInfo,
    MailTooLarge,
    MalformedMail,
    parse_mail,
    safe_filename,
)

FIXTURES = Path(__file__).parent / "fixtures"
MAX = 10 * 1024 * 1024


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -- clients' replies ----------------------------------------------------------------------


def test_gmail_reply_prefers_plain_and_strips_the_quote() -> None:
    mail = parse_mail(fixture("gmail_reply.eml"), max_bytes=MAX)
    assert mail.from_address == "jane.roe@gmail.example"
    assert mail.from_name == "Jane Roe"
    assert mail.to == ["support+demo@shop.test"]
    assert mail.subject == "Re: Your order #1042"
    assert mail.message_id == "<CAHk9q3t0pXvBz1nQ=QbX+7yFv9P8a@mail.gmail.com>"
    assert mail.in_reply_to == "<sf-out-1.demo@shop.test>"
    assert mail.references == ["<sf-out-1.demo@shop.test>"]
    assert mail.date == datetime(2024, 1, 9, 7, 31, 5, tzinfo=UTC)
    # text/plain chosen (no HTML left), quoted-printable decoded
    assert mail.text.startswith("Hi, the parcel still hasn\u2019t arrived.")
    assert "<div" not in mail.text
    assert "> Your order #1042 has shipped" in mail.text
    assert mail.reply_text == (
        "Hi, the parcel still hasn\u2019t arrived. Can you check where it is?\n\nJane"
    )
    assert mail.auto is None and mail.headers_ok
    assert mail.thread_ids == ["<sf-out-1.demo@shop.test>"]


def test_outlook_reply_in_latin1_cut_at_the_german_header_block() -> None:
    mail = parse_mail(fixture("outlook_reply.eml"), max_bytes=MAX)
    assert mail.subject == "AW: Your order #1042"
    assert "Schöne Grüße aus München" in mail.text
    assert mail.reply_text == (
        "Bitte stornieren Sie die Bestellung. Schöne Grüße aus München.\n\nMax"
    )


def test_apple_mail_reply_loses_quote_and_phone_footer() -> None:
    mail = parse_mail(fixture("apple_mail_reply.eml"), max_bytes=MAX)
    assert mail.message_id == "<5B1C6E0A-7F0B-4C55-9A3E-2B7F1C9D4E11@icloud.example>"
    assert "Sent from my iPhone" in mail.text
    assert mail.reply_text == "Yes please, send a replacement in size M."


def test_format_flowed_is_unwrapped_and_signature_cut() -> None:
    mail = parse_mail(fixture("thunderbird_flowed.eml"), max_bytes=MAX)
    first_line = mail.text.split("\n")[0]
    assert first_line.endswith("rather than an exchange.")  # two flowed lines joined
    assert mail.reply_text == first_line
    assert "Ana Silva" not in mail.reply_text and "+351" not in mail.reply_text


def test_signature_after_rfc3676_delimiter_is_cut() -> None:
    mail = parse_mail(fixture("signature.eml"), max_bytes=MAX)
    assert mail.reply_text == "I want a refund for order 1045, the zip broke after one day."
    assert "Head of Things" in mail.text


# -- bodies and charsets -------------------------------------------------------------------


def test_html_only_body_becomes_text() -> None:
    mail = parse_mail(fixture("html_only.eml"), max_bytes=MAX)
    assert mail.text == (
        "Hello & good day,\n\n"
        "Does the Merino sweater run small?\n"
        "I\u2019m usually an M \u2014 café au lait colour.\n\n"
        "- Order #1043\n- Size M\n\n"
        "Height  180 cm"
    )
    for hidden in ("ignored", "comment", "font-family", "<"):
        assert hidden not in mail.text


def test_latin1_body_and_encoded_headers() -> None:
    mail = parse_mail(fixture("latin1.eml"), max_bytes=MAX)
    assert mail.from_name == "Renée Dupré"
    assert mail.subject == "Commande retardée"
    # 0x96 is an en dash in Windows-1252, which mail labelled Latin-1 really is
    assert mail.text == (
        "Bonjour, ma commande n'est pas arrivée. Où est mon colis ? Merci d'avance \u2013 Renée"
    )


def test_shift_jis_body_and_iso_2022_jp_subject() -> None:
    mail = parse_mail(fixture("shift_jis.eml"), max_bytes=MAX)
    assert mail.subject == "注文について"
    assert mail.from_name == "山田"
    assert mail.text == "こんにちは。注文番号 1044 の商品が届いていません。"


def test_unknown_and_wrong_charsets_decode_without_raising() -> None:
    mail = parse_mail(fixture("broken_charset.eml"), max_bytes=MAX)
    assert "First part says café in UTF-8" in mail.text
    assert "\u201cquoted\u201d naïve" in mail.text
    assert "Third part names a codec" in mail.text
    assert mail.subject.startswith("Hello")


def test_plain_alternative_that_is_empty_falls_back_to_html() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/alternative; "
        b'boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n \r\n'
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>Real text</p>\r\n--b--\r\n"
    )
    assert parse_mail(raw, max_bytes=MAX).text == "Real text"


def test_long_text_is_cut_and_flagged() -> None:
    raw = b"From: a@example.com\r\nSubject: long\r\n\r\n" + b"word " * (MAX_TEXT_CHARS // 2)
    mail = parse_mail(raw, max_bytes=MAX)
    assert mail.text_truncated and len(mail.text) == MAX_TEXT_CHARS


# -- attachments ---------------------------------------------------------------------------


def test_attachments_recorded_with_safe_names_and_sizes() -> None:
    mail = parse_mail(fixture("attachments.eml"), max_bytes=MAX)
    assert mail.text == "The mug arrived broken, see the photo:"
    assert mail.attachments == [
        AttachmentInfo("attachment.png", "image/png", 1024),
        AttachmentInfo("passwd", "application/pdf", 3016),
        AttachmentInfo("Reçu numéro 1046.pdf", "application/octet-stream", 13),
        AttachmentInfo("attachment.eml", "message/rfc822", mail.attachments[3].size),
    ]
    assert mail.attachments[3].size > 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ("..", "attachment.bin"),
        (".htaccess", "htaccess"),
        ("a\x00b\r\nc.txt", "abc.txt"),
        ('in<va>lid:"name"?.txt', "in_va_lid__name__.txt"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
        (None, "attachment.bin"),
    ],
)
def test_safe_filename(name: str | None, expected: str) -> None:
    assert safe_filename(name) == expected


# -- bad input -----------------------------------------------------------------------------


def test_twenty_megabyte_mail_is_refused_before_parsing() -> None:
    raw = b"From: big@example.com\r\nSubject: big\r\n\r\n" + b"A" * (20 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(MailTooLarge) as caught:
        parse_mail(raw, max_bytes=MAX)
    assert time.perf_counter() - started < 0.5
    assert caught.value.size == len(raw) and caught.value.max_bytes == MAX


def test_missing_from_parses_with_no_sender() -> None:
    mail = parse_mail(fixture("missing_from.eml"), max_bytes=MAX)
    assert mail.from_address is None and mail.from_name is None
    assert mail.text == "Who am I?"
    assert not mail.headers_ok


@pytest.mark.parametrize(
    "from_header",
    [b"<>", b"undisclosed-recipients:;", b"not an address", b'"x" <a@@b>', b"a@b..com"],
)
def test_null_or_bad_from_gives_no_sender(from_header: bytes) -> None:
    mail = parse_mail(b"From: " + from_header + b"\r\nSubject: s\r\n\r\nhello\r\n", max_bytes=MAX)
    assert mail.from_address is None


def test_subject_with_encoded_crlf_stays_one_line() -> None:
    mail = parse_mail(fixture("subject_injection.eml"), max_bytes=MAX)
    assert "\r" not in mail.subject and "\n" not in mail.subject
    assert mail.subject == "Hello Bcc: victim@example.com body"


def test_duplicate_from_headers_are_not_ok() -> None:
    raw = b"From: a@example.com\r\nFrom: b@example.com\r\nSubject: s\r\n\r\nhi\r\n"
    mail = parse_mail(raw, max_bytes=MAX)
    assert mail.from_address == "a@example.com" and not mail.headers_ok


@pytest.mark.parametrize(
    "raw",
    [b"", b"   \r\n\r\n", b"just some text without any header\r\n", b"\x00\x01\x02garbage"],
)
def test_nothing_usable_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedMail):
        parse_mail(raw, max_bytes=MAX)


def test_header_only_noise_is_malformed() -> None:
    with pytest.raises(MalformedMail):
        parse_mail(b"X-Noise: 1\r\n\r\n", max_bytes=MAX)


def test_broken_mime_structure_is_tolerated() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: s\r\nContent-Type: multipart/mixed; "
        b'boundary="never"\r\n\r\nbody without any boundary line\r\n'
    )
    mail = parse_mail(raw, max_bytes=MAX)
    assert mail.from_address == "a@example.com"


def test_deeply_nested_multiparts_stay_bounded() -> None:
    depth = 200
    head = b"From: a@example.com\r\nSubject: deep\r\n"
    parts = b""
    for i in range(depth):
        parts += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
    parts += b"Content-Type: text/plain\r\n\r\ninner\r\n"
    for i in reversed(range(depth)):
        parts += b"--b%d--\r\n" % i
    started = time.perf_counter()
    mail = parse_mail(head + parts, max_bytes=MAX)
    assert time.perf_counter() - started < 5
    assert mail.from_address == "a@example.com" and not mail.headers_ok


def test_hostile_headers_do_not_crash() -> None:
    raw = (
        b"From: " + b"(" * 5000 + b"a@example.com\r\n"
        b"To: " + b"x@y.z, " * 5000 + b"\r\n"
        b"Subject: =?utf-8?b?" + b"!!!!" * 100 + b"?=\r\n"
        b"Message-ID: " + b"<" * 1000 + b"\r\n"
        b"Date: not a date\r\n"
        b"\r\nhello\r\n"
    )
    mail = parse_mail(raw, max_bytes=MAX)
    assert mail.text == "hello"
    assert mail.date is None and mail.message_id is None
    assert not mail.headers_ok


def test_message_ids_are_normalised() -> None:
    raw = (
        b"From: a@example.com\r\nMessage-ID:   bare-id@example.com  \r\n"
        b"In-Reply-To: <one@x> <two@x>\r\nReferences: <r1@x>\r\n <r2@x> junk <r1@x>\r\n"
        b"\r\nhi\r\n"
    )
    mail = parse_mail(raw, max_bytes=MAX)
    assert mail.message_id == "<bare-id@example.com>"
    assert mail.in_reply_to == "<one@x>"
    assert mail.references == ["<r1@x>", "<r2@x>"]


def test_envelope_and_our_addresses_feed_loop_detection() -> None:
    raw = b"From: Shop <Support+Demo@Shop.test>\r\nSubject: s\r\n\r\nhi\r\n"
    assert parse_mail(raw, max_bytes=MAX, ours={"support+demo@shop.test"}).auto == "our_own"
    raw = b"From: a@example.com\r\nSubject: s\r\n\r\nhi\r\n"
    assert parse_mail(raw, max_bytes=MAX, envelope_sender="").auto == "null_sender"
    assert parse_mail(raw, max_bytes=MAX, envelope_sender="a@example.com").auto is None

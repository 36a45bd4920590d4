"""Inbound email (raw MIME) to a ParsedMail, with the standard library's parser.

The body is the text/plain part where there is one (in multipart/alternative the plain
alternative), else the HTML converted to text (html_text.py); format=flowed plain text
(RFC 3676) is unwrapped. Any other leaf part, and any part sent as an attachment or with
a file name, is an attachment: recorded with a sanitised name, type and size, never kept.
Forwarded messages (message/rfc822) and delivery reports count as attachments too.

Untrusted input, so: the size is checked before anything is parsed (MailTooLarge);
charsets are decoded without ever raising (charsets.py); headers are read so that one bad
header cannot fail the message (headers.py); the part tree is walked to a bounded depth
and number of parts; text is capped at MAX_TEXT_CHARS. A message is refused
(MalformedMail) only when nothing in it is usable: no header fields at all, or no sender,
text, subject or attachment.

The work is linear in the size of the message (about a second for a 10 MB one at worst),
so callers on an event loop may run it inline for ordinary mail and in a thread for big.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser

from supportflow.channels.email import headers
from supportflow.channels.email.charsets import decode_bytes, one_line, scrub
from supportflow.channels.email.html_text import html_to_text
from supportflow.channels.email.loops import header_reason
from supportflow.channels.email.parsed import (
    AttachmentInfo,
    MailTooLarge,
    MalformedMail,
    ParsedMail,
)
from supportflow.channels.email.reply import strip_reply

__all__ = [
    "AttachmentInfo",
    "MailTooLarge",
    "MalformedMail",
    "ParsedMail",
    "build_mail",
    "parse_mail",
    "safe_filename",
]

# The body text kept; a longer one is cut (ParsedMail.text_truncated).
MAX_TEXT_CHARS = 100_000
# The MIME tree walked: deeper or further parts are ignored (a defect, not an error).
MAX_DEPTH = 20
MAX_PARTS = 500
_MAX_FILENAME = 120

# Headers that a well-formed message has once at most (duplicates are a spoofing trick).
_SINGLE = ("from", "sender", "reply-to", "subject", "message-id", "date", "to", "cc")
_RESERVED_IN_NAMES = re.compile(r'[<>:"|?*\\/]')


def safe_filename(name: str | None, content_type: str = "application/octet-stream") -> str:
    """An attachment's name safe to show and to use as a file name: the last path
    component, without control or reserved characters or leading dots, at most 120
    characters (the extension kept); a name by type when nothing is left."""
    text = scrub(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = _RESERVED_IN_NAMES.sub("_", "".join(c for c in text if c.isprintable()))
    text = " ".join(text.split()).strip(" .")
    if len(text) > _MAX_FILENAME:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            text = stem[: _MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            text = text[:_MAX_FILENAME]
    if not text:
        text = "attachment" + (mimetypes.guess_extension(content_type) or ".bin")
    return text


@dataclass
class _Body:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[AttachmentInfo] = field(default_factory=list)
    parts: int = 0
    defects: bool = False


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # a Content-Type header the stdlib parser chokes on
        return "text/plain"


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return "attachment"
    return name if isinstance(name, str) and name.strip() else None


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        return None


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    try:
        raw = part.get_payload()
    except Exception:
        return b""
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _size(part: Message) -> int:
    if part.is_multipart():
        try:
            return len(part.as_bytes())
        except Exception:  # the generator can fail on what the parser accepted
            return 0
    return len(_payload_bytes(part))


def _unflow(text: str, *, delsp: bool) -> str:
    """RFC 3676 format=flowed: lines ending in a space continue on the next line."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        if pending is not None and depth == pending_depth:
            pending += content
        else:
            if pending is not None:
                out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
            pending, pending_depth = content, depth
        if not flowed:
            out.append(">" * depth + (" " if depth else "") + pending)
            pending = None
    if pending is not None:
        out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
    return "\n".join(out)


def _leaf_text(part: Message) -> str:
    text = scrub(decode_bytes(_payload_bytes(part), _charset(part)))
    try:
        flowed = str(part.get_param("format", "") or "").lower() == "flowed"
        delsp = str(part.get_param("delsp", "") or "").lower() == "yes"
    except Exception:
        flowed = delsp = False
    return _unflow(text, delsp=delsp) if flowed else text


def _children(part: Message) -> list[Message]:
    try:
        payload = part.get_payload()
    except Exception:
        return []
    if not isinstance(payload, list):
        return []
    return [p for p in payload if isinstance(p, Message)]


def _visit(part: Message, depth: int, body: _Body) -> None:
    if depth > MAX_DEPTH or body.parts >= MAX_PARTS:
        body.defects = True
        return
    body.parts += 1
    ctype = _content_type(part)
    if ctype.startswith("message/"):
        body.attachments.append(
            AttachmentInfo(safe_filename(_filename(part), ctype), ctype, _size(part))
        )
        return
    if part.is_multipart():
        children = _children(part)
        if ctype != "multipart/alternative":
            for child in children:
                _visit(child, depth + 1, body)
            return
        # Alternatives of one content: the plain one if it has text, else the richest
        # (last) HTML one; attachments of every alternative are recorded.
        subs: list[_Body] = []
        for child in children:
            sub = _Body(parts=body.parts)
            _visit(child, depth + 1, sub)
            body.parts = sub.parts
            body.defects |= sub.defects
            body.attachments += sub.attachments
            subs.append(sub)
        chosen = next((s for s in subs if any(t.strip() for t in s.plain)), None) or next(
            (s for s in reversed(subs) if any(t.strip() for t in s.html)), None
        )
        if chosen is not None:
            body.plain += chosen.plain
            body.html += chosen.html
        return
    filename = _filename(part)
    if ctype in ("text/plain", "text/html") and _disposition(part) != "attachment" and not filename:
        (body.plain if ctype == "text/plain" else body.html).append(_leaf_text(part))
        return
    body.attachments.append(AttachmentInfo(safe_filename(filename, ctype), ctype, _size(part)))


def _tidy(text: str) -> str:
    """Trailing spaces off every line, at most one blank line in a row, no blank ends."""
    lines: list[str] = []
    for line in text.split("\n"):
        line = line.rstrip()
        if not line and (not lines or not lines[-1]):
            continue
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _headers_ok(msg: Message, from_count: int) -> bool:
    if headers.header_defects(msg) or from_count != 1:
        return False
    for name in _SINGLE:
        if headers.count(msg, name) > 1 or headers.has_defects(msg, name):
            return False
    return True


def build_mail(
    msg: Message,
    *,
    plain: Sequence[str] = (),
    html: Sequence[str] = (),
    attachments: Sequence[AttachmentInfo] = (),
    envelope_sender: str | None = None,
    ours: Collection[str] = (),
    defects: bool = False,
) -> ParsedMail:
    """A ParsedMail from a message's headers (``msg``) and its body texts, however they
    were obtained (our MIME walk, or a provider's parsed fields). Plain texts win over
    HTML. Raises MalformedMail when there is no sender, text, subject or attachment."""
    from_boxes = headers.mailboxes(msg, "from")
    from_address = headers.normal_address(from_boxes[0][1]) if from_boxes else None
    from_name = one_line(from_boxes[0][0], 200) if from_boxes and from_boxes[0][0] else None
    if from_address is None:
        from_name = None
    plain_text = "\n\n".join(t for t in plain if t.strip())
    if plain_text.strip():
        text = _tidy(scrub(plain_text))
    else:
        text = _tidy("\n\n".join(html_to_text(scrub(h)) for h in html if h.strip()))
    truncated = len(text) > MAX_TEXT_CHARS
    text = text[:MAX_TEXT_CHARS]
    subject = headers.subject(msg)
    if from_address is None and not text and not subject and not attachments:
        raise MalformedMail("no sender, text, subject or attachment in the message")
    message_ids = headers.msg_ids(headers.first(msg, "message-id"))
    reply_ids = headers.msg_ids(headers.first(msg, "in-reply-to"))
    return ParsedMail(
        from_address=from_address,
        from_name=from_name or None,
        to=headers.addresses(msg, "to"),
        cc=headers.addresses(msg, "cc"),
        subject=subject,
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=reply_ids[0] if reply_ids else None,
        references=headers.references(msg),
        date=headers.date(msg),
        text=text,
        reply_text=strip_reply(text) if text else "",
        attachments=list(attachments),
        auto=header_reason(
            msg, from_address=from_address, envelope_sender=envelope_sender, ours=ours
        ),
        headers_ok=not defects and _headers_ok(msg, len(from_boxes)),
        text_truncated=truncated,
    )


def parse_mail(
    raw: bytes,
    *,
    max_bytes: int,
    envelope_sender: str | None = None,
    ours: Collection[str] = (),
) -> ParsedMail:
    """Parse one raw message (module doc). ``envelope_sender``: SMTP MAIL FROM when known
    ("" for the null sender); ``ours``: our own addresses (loops.py "our_own").
    Raises MailTooLarge (over ``max_bytes``) or MalformedMail (nothing usable), nothing
    else."""
    if len(raw) > max_bytes:
        raise MailTooLarge(len(raw), max_bytes)
    if not raw.strip():
        raise MalformedMail("empty message")
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        if not msg.keys():
            raise MalformedMail("no header fields: not an email message")
        body = _Body()
        _visit(msg, 0, body)
        return build_mail(
            msg,
            plain=body.plain,
            html=body.html,
            attachments=body.attachments,
            envelope_sender=envelope_sender,
            ours=ours,
            defects=body.defects,
        )
    except MalformedMail:
        raise
    except RecursionError as err:
        raise MalformedMail("message nested too deeply to parse") from err
    except Exception as err:
        # Every step above tolerates bad input; this is the last guard against a crash in
        # the standard library's parser on hostile bytes: refuse, never fail the caller.
        raise MalformedMail(f"message could not be parsed ({type(err).__name__})") from err

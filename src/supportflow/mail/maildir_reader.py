"""The Maildir's messages, newest first, as plain dicts (for /dev/mail and tests).

Blocking file reads: call it from a thread (``asyncio.to_thread``/``run_in_threadpool``).
"""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path


def list_messages(
    maildir_dir: Path, *, to: str | None = None, limit: int = 100
) -> list[dict[str, str]]:
    """Messages as ``{id, message_id, from, to, subject, date, text}``, newest delivery first.

    ``to`` keeps those addressed to that address (To/Cc header or envelope recipient, any
    case); ``id`` is the Maildir key."""
    try:
        box = mailbox.Maildir(maildir_dir, factory=None, create=False)
    except mailbox.NoSuchMailboxError:
        return []
    wanted = to.strip().lower() if to else None
    found: list[tuple[float, str, EmailMessage]] = []
    for key in box.iterkeys():  # iterating a Mailbox yields messages, not keys
        try:
            delivered = box.get_message(key).get_date()
            message = BytesParser(policy=policy.default).parsebytes(box.get_bytes(key))
        except (KeyError, FileNotFoundError):
            continue  # removed while we read
        assert isinstance(message, EmailMessage)
        if wanted is not None and wanted not in _recipients(message):
            continue
        found.append((delivered, key, message))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [_view(key, delivered, message) for delivered, key, message in found[:limit]]


def _recipients(message: EmailMessage) -> set[str]:
    values = [str(v) for h in ("To", "Cc", "X-Original-To") for v in message.get_all(h, [])]
    return {addr.lower() for _, addr in getaddresses(values) if addr}


def _view(key: str, delivered: float, message: EmailMessage) -> dict[str, str]:
    return {
        "id": key,
        "message_id": str(message.get("Message-ID", "")),
        "from": str(message.get("From", "")),
        "to": str(message.get("To", "")),
        "subject": str(message.get("Subject", "")),
        "date": _date(message, delivered),
        "text": body_text(message),
    }


def _date(message: EmailMessage, delivered: float) -> str:
    header = message.get("Date")
    if header is not None:
        try:
            return parsedate_to_datetime(str(header)).isoformat()
        except (TypeError, ValueError):
            pass
    return datetime.fromtimestamp(delivered, UTC).isoformat()


def body_text(message: EmailMessage) -> str:
    """The plain-text body; an HTML-only message's text with the tags taken out."""
    part = message.get_body(preferencelist=("plain", "html"))
    if not isinstance(part, EmailMessage):
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # unknown charset, broken encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        return _html_text(content)
    return content


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "tr", "li"):
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.chunks.append(data)


def _html_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    return "".join(parser.chunks).strip()

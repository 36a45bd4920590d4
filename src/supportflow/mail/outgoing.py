"""The mail a caller wants sent, checked, and the RFC 5322 message built from it.

Every value that becomes a header is refused if it holds a line break: a customer's words can
reach a subject or a display name, and a CR/LF there would add headers of their choosing
(``Bcc:``, a second body). The check raises ``ValueError`` before anything is built or sent.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

# Longer header values are a caller's bug, not a subject line; RFC 5322 lines stop at 998.
MAX_HEADER_CHARS = 998
# <left@right>, printable ASCII, no spaces or angle brackets inside (RFC 5322 msg-id, loosely).
_MSG_ID = re.compile(r"^<[!-;=?-~]+@[!-;=?-~]+>$")
_LINE_BREAKS = ("\r", "\n", "\x00")


@dataclass(frozen=True, kw_only=True)
class OutgoingMail:
    to: str
    subject: str
    text: str
    # The caller's deterministic id (see message_id_for): a retried activity sends the same
    # id, which MailSender recognises and does not send again.
    message_id: str
    html: str | None = None
    # Display name shown with the From address (the tenant's store name).
    from_name: str | None = None
    # Defaults to Settings.mail_from; a tenant with its own sending domain sets it.
    from_address: str | None = None
    # Threading in the customer's mail client (issue 13): the message replied to, and the
    # thread's ids, oldest first.
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    # RFC 3834: an automatic answer says so ("auto-replied"), so that other robots (out of
    # office, ticket systems) do not answer it back; a person's reply leaves it out.
    auto_submitted: bool = False
    # A sales message (issue 14): RFC 2369 List-Unsubscribe (an https link) with RFC 8058's
    # one-click POST, and Auto-Submitted "auto-generated" (it answers nobody).
    list_unsubscribe: str | None = None


def message_id_for(key: str, mail_from: str) -> str:
    """A Message-ID that depends only on ``key`` (e.g. workflow id + step), in the sender's
    domain, so every retry of the same step produces the same id."""
    domain = mail_from.rpartition("@")[2] or "supportflow.localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def normalise_message_id(value: str) -> str:
    """``<id@host>`` from ``id@host`` or ``<id@host>``; ValueError for anything else."""
    _refuse_line_breaks("message id", value)
    value = value.strip()
    if not value.startswith("<"):
        value = f"<{value}>"
    if not _MSG_ID.match(value):
        raise ValueError("a message id must look like <left@right> (printable ASCII)")
    return value


def _refuse_line_breaks(what: str, value: str) -> None:
    if any(ch in value for ch in _LINE_BREAKS):
        raise ValueError(f"{what} must not contain line breaks")
    if len(value) > MAX_HEADER_CHARS:
        raise ValueError(f"{what} is longer than {MAX_HEADER_CHARS} characters")


def _address(what: str, value: str) -> Address:
    _refuse_line_breaks(what, value)
    try:
        # addr_spec takes exactly one bare address: "a@b, c@d" or "Name <a@b>" is refused.
        addr = Address(addr_spec=value.strip())
    except (ValueError, IndexError) as err:
        raise ValueError(f"{what} is not one email address") from err
    if not addr.username or not addr.domain:
        raise ValueError(f"{what} is not one email address")
    return addr


def build_message(mail: OutgoingMail, *, default_from: str) -> EmailMessage:
    """The message to send: plain text, plus an HTML alternative when given."""
    to = _address("recipient", mail.to)
    sender = _address("sender", mail.from_address or default_from)
    _refuse_line_breaks("subject", mail.subject)
    if mail.from_name is not None:
        _refuse_line_breaks("sender name", mail.from_name)
    message_id = normalise_message_id(mail.message_id)
    in_reply_to = normalise_message_id(mail.in_reply_to) if mail.in_reply_to else None
    references = [normalise_message_id(r) for r in mail.references]

    # The SMTP policy writes CRLF line ends, as the wire wants.
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = Address(
        display_name=mail.from_name or "", username=sender.username, domain=sender.domain
    )
    msg["To"] = to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    if mail.auto_submitted:
        msg["Auto-Submitted"] = "auto-replied"
        # Exchange and Outlook: no out-of-office or other automatic answer to this.
        msg["X-Auto-Response-Suppress"] = "All"
    if mail.list_unsubscribe is not None:
        _refuse_line_breaks("unsubscribe link", mail.list_unsubscribe)
        msg["List-Unsubscribe"] = f"<{mail.list_unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if not mail.auto_submitted:
            msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(mail.text)
    if mail.html is not None:
        msg.add_alternative(mail.html, subtype="html")
    return msg

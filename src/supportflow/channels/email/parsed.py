"""What a parsed inbound email is, and how parsing one can fail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class MalformedMail(ValueError):
    """The bytes hold nothing usable as an email (no header fields, or no sender, text,
    subject or attachment at all). Defects in otherwise usable mail are tolerated."""


class MailTooLarge(ValueError):
    """The message is over the size limit; it was not parsed."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(f"message of {size} bytes is over the limit of {max_bytes} bytes")
        self.size = size
        self.max_bytes = max_bytes


@dataclass(frozen=True)
class AttachmentInfo:
    """An attachment, recorded and never processed: its contents are not kept."""

    filename: str  # sanitised: no directories, control or reserved characters
    content_type: str
    size: int  # decoded bytes


@dataclass(frozen=True)
class ParsedMail:
    from_address: str | None  # lower-cased addr-spec; None for a null, missing or bad From
    from_name: str | None
    to: list[str]
    cc: list[str]
    subject: str  # decoded, one line (no CR/LF: nothing can be injected into a reply)
    message_id: str | None  # "<...>"
    in_reply_to: str | None  # "<...>"
    references: list[str]  # "<...>", oldest first
    date: datetime | None
    text: str  # the body as text (text/plain preferred, else HTML converted)
    reply_text: str  # text without quoted history and signature; text if nothing is left
    attachments: list[AttachmentInfo]
    auto: str | None  # why this mail must get no answer (loops.py), or None
    headers_ok: bool  # one From with one valid mailbox, no duplicated or defective headers
    text_truncated: bool = field(default=False)  # text was cut at parse.MAX_TEXT_CHARS

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this mail answers, oldest first: References, then In-Reply-To."""
        ids = [*self.references, *([self.in_reply_to] if self.in_reply_to else [])]
        return list(dict.fromkeys(ids))

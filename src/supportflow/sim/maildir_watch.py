"""Answers by email, as they land in the stack's Maildir, found by the message they answer.

`supportflow up` delivers the mail it sends into ``<data dir>/mail`` (a Maildir). Many
simulated email customers wait at once; one watcher serves them all: a scan (in a thread,
at most every ``interval_s``) reads only files it has not seen and indexes every mail that
answers one (``In-Reply-To``) by the message it answers, whether or not anyone waits for it
yet (an answer can land while a scan is under way). Other mail (sign-in codes) is passed
over once. Each answer is handed out once and then dropped.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from supportflow.mail.maildir_reader import body_text

_MSG_ID = re.compile(r"<[^<>\s]+>")


def normalise_id(value: str) -> str | None:
    """The first ``<id@host>`` in a header value (None if there is none)."""
    m = _MSG_ID.search(value or "")
    return m.group(0) if m else None


@dataclass(frozen=True)
class ReceivedMail:
    message_id: str | None
    in_reply_to: str
    references: tuple[str, ...]
    subject: str
    sender: str  # the From header as written
    date: str  # the Date header as written
    text: str  # the text/plain body (the HTML-only body's text otherwise)
    arrived_at: float  # when the watcher found it (epoch seconds)


class MaildirWatcher:
    def __init__(self, root: Path, interval_s: float = 0.2) -> None:
        self._root = root
        self._interval_s = interval_s
        self._seen: set[str] = set()  # Maildir keys (the file name before ":")
        self._answers: dict[str, ReceivedMail] = {}  # by the Message-ID they answer
        self._taken: set[str] = set()
        self._lock = asyncio.Lock()
        self._last_scan = 0.0

    async def wait(self, message_id: str, deadline: float) -> ReceivedMail | None:
        """The first mail answering ``message_id``; None at the deadline (monotonic)."""
        while True:
            await self._scan_if_stale()
            if message_id in self._answers:
                self._taken.add(message_id)
                return self._answers.pop(message_id)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            await asyncio.sleep(min(self._interval_s, left))

    async def _scan_if_stale(self) -> None:
        async with self._lock:
            if time.monotonic() - self._last_scan < self._interval_s:
                return
            found = await asyncio.to_thread(self._scan)
            self._last_scan = time.monotonic()
            for mail in found:
                # The first answer counts; a later one to the same message is not its answer.
                if mail.in_reply_to not in self._taken:
                    self._answers.setdefault(mail.in_reply_to, mail)

    def _scan(self) -> list[ReceivedMail]:
        out: list[ReceivedMail] = []
        for sub in ("new", "cur"):
            try:
                entries = list(os.scandir(self._root / sub))
            except FileNotFoundError:
                continue  # no mail delivered yet
            for entry in entries:
                key = entry.name.split(":", 1)[0]
                if key in self._seen or entry.name.startswith("."):
                    continue
                try:
                    raw = Path(entry.path).read_bytes()
                except FileNotFoundError:
                    continue  # moved from new/ to cur/ meanwhile: the next scan finds it
                self._seen.add(key)
                mail = _answer(raw)
                if mail is not None:
                    out.append(mail)
        return out


def _answer(raw: bytes) -> ReceivedMail | None:
    """The mail, if it answers one (has an In-Reply-To)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    parent = normalise_id(str(message.get("In-Reply-To", "")))
    if parent is None:
        return None
    return ReceivedMail(
        message_id=normalise_id(str(message.get("Message-ID", ""))),
        in_reply_to=parent,
        references=tuple(_MSG_ID.findall(str(message.get("References", "")))),
        subject=str(message.get("Subject", "")),
        sender=str(message.get("From", "")),
        date=str(message.get("Date", "")),
        text=body_text(message),
        arrived_at=time.time(),
    )

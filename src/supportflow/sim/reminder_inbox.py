"""Sales reminders as they land in the stack's Maildir, found by the shopper they went to.

`supportflow up` delivers the mail it sends into ``<data dir>/mail``. A sales message is
told from other mail by its ``List-Unsubscribe`` header (every sales email carries one; an
answer to a support question or a sign-in code does not). One inbox serves every simulated
shopper: a scan (in a thread, at most every ``interval_s``) reads only files it has not seen,
and the mail already there when the run began is passed over (``prime``), so a reminder from
an earlier run is never taken for this one's.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path

from supportflow.mail.maildir_reader import body_text

# The code in a reminder ("Use code SAVE-7K2Q9P for 10% off"): replies/templates.py.
_CODE = re.compile(r"\bUse code ([A-Za-z0-9][A-Za-z0-9_-]{2,63})\b")


@dataclass(frozen=True)
class Reminder:
    message_id: str
    arrived_at: float  # epoch seconds, when the inbox found it
    code: str | None  # the discount code it offers, if any (never logged)


def code_in(text: str) -> str | None:
    m = _CODE.search(text)
    return m.group(1) if m else None


def _parse(raw: bytes) -> tuple[set[str], Reminder] | None:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    if message.get("List-Unsubscribe") is None:
        return None
    to = [str(v) for h in ("To", "Cc") for v in message.get_all(h, [])]
    recipients = {addr.lower() for _, addr in getaddresses(to) if addr}
    reminder = Reminder(
        message_id=str(message.get("Message-ID", "")),
        arrived_at=time.time(),
        code=code_in(body_text(message)),
    )
    return recipients, reminder


class ReminderInbox:
    def __init__(self, root: Path, interval_s: float = 0.5) -> None:
        self._root = root
        self._interval_s = interval_s
        self._seen: set[str] = set()  # Maildir keys (the file name before ":")
        self._by_address: dict[str, list[Reminder]] = defaultdict(list)
        self._lock = asyncio.Lock()
        self._last_scan = 0.0

    async def prime(self) -> None:
        """Pass over the mail already delivered (earlier runs, other tenants' mail)."""
        await asyncio.to_thread(self._scan, True)
        self._last_scan = time.monotonic()

    async def wait(self, address: str, deadline: float) -> Reminder | None:
        """The first sales mail to ``address``; None at ``deadline`` (monotonic)."""
        wanted = address.lower()
        while True:
            await self.refresh()
            found = self._by_address.get(wanted)
            if found:
                return found[0]
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            await asyncio.sleep(min(self._interval_s, left))

    async def rescan(self) -> None:
        """Read what has landed since the last scan, however recent that was."""
        self._last_scan = 0.0
        await self.refresh()

    def received(self, address: str) -> list[Reminder]:
        """Every sales mail to ``address`` found since ``prime``."""
        return list(self._by_address.get(address.lower(), []))

    async def refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._last_scan < self._interval_s:
                return
            found = await asyncio.to_thread(self._scan, False)
            self._last_scan = time.monotonic()
            for recipients, reminder in found:
                for address in recipients:
                    self._by_address[address].append(reminder)

    def _scan(self, only_mark: bool) -> list[tuple[set[str], Reminder]]:
        out: list[tuple[set[str], Reminder]] = []
        for sub in ("new", "cur"):
            try:
                entries = list(os.scandir(self._root / sub))
            except FileNotFoundError:
                continue  # no mail delivered yet
            for entry in entries:
                key = entry.name.split(":", 1)[0]
                if key in self._seen or entry.name.startswith("."):
                    continue
                if only_mark:
                    self._seen.add(key)
                    continue
                try:
                    raw = Path(entry.path).read_bytes()
                except FileNotFoundError:
                    continue  # moved from new/ to cur/ meanwhile: the next scan finds it
                self._seen.add(key)
                parsed = _parse(raw)
                if parsed is not None:
                    out.append(parsed)
        return out

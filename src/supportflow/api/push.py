"""Wake the chat sockets of one conversation when an operator's action added to it.

In-process only: an operator's reply handled by this API process wakes this process's open
sockets at once; sockets on other processes find it at their next poll
(``chat.UPDATE_POLL_SECONDS``). Either way the message comes from the conversation itself;
this only says "look now".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator


class Nudges:
    def __init__(self) -> None:
        self._waiting: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    @staticmethod
    def key(tenant_id: str, customer_id: str) -> str:
        return f"{tenant_id}/{customer_id}"

    def nudge(self, tenant_id: str, customer_id: str) -> None:
        for event in self._waiting.get(self.key(tenant_id, customer_id), ()):
            event.set()

    @contextlib.contextmanager
    def listening(self, tenant_id: str, customer_id: str) -> Iterator[asyncio.Event]:
        """An event set when this conversation is nudged (the holder clears it)."""
        key = self.key(tenant_id, customer_id)
        event = asyncio.Event()
        self._waiting[key].add(event)
        try:
            yield event
        finally:
            self._waiting[key].discard(event)
            if not self._waiting[key]:
                del self._waiting[key]

"""How often one sender may write by email or SMS before it is answered no more for a while.

Headers catch most auto-responders (channels/email/loops.py), not all: two robots answering
each other by email, or a script texting in a loop, would keep a conversation turning for
ever. Past the limit (Settings.rate_limit_email_per_sender / _sms_per_sender) a message is
recorded and not answered. Counters live in this process (the `limits` package's memory
storage, a moving window): with several API processes each counts its own share, so the
effective limit is at most N times the setting (docs/channels.md).
"""

from __future__ import annotations

import hashlib
from typing import Literal

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from supportflow.observability.metrics import count_rate_limit_refusal  # issue 15 item 5
from supportflow.settings import Settings


class SenderLimiter:
    def __init__(self, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._items = {
            "email": parse(settings.rate_limit_email_per_sender),
            "sms": parse(settings.rate_limit_sms_per_sender),
        }

    def allow(self, tenant_id: str, channel: Literal["email", "sms"], sender: str) -> bool:
        """Count one message from ``sender``; False when it is over the limit."""
        # Counters are keyed by a hash: the address never sits in memory as a key.
        key = hashlib.sha256(sender.strip().lower().encode()).hexdigest()[:32]
        allowed = self._limiter.hit(self._items[channel], tenant_id, channel, key)
        if not allowed:
            count_rate_limit_refusal(f"{channel}-sender")  # observability (issue 15 item 5)
        return allowed

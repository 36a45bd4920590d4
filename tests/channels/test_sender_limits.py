"""The per-sender limit on email and SMS (channels/limits.py): a sender past it is recorded and
not answered, which ends loops between robots that slip past the headers."""

from __future__ import annotations

import time

from supportflow.channels.limits import SenderLimiter
from supportflow.settings import Settings


def _limiter(email: str = "3/minute", sms: str = "2/minute") -> SenderLimiter:
    return SenderLimiter(Settings(rate_limit_email_per_sender=email, rate_limit_sms_per_sender=sms))


def test_each_sender_of_each_tenant_and_channel_counts_alone() -> None:
    limit = _limiter()
    assert [limit.allow("t1", "email", "a@example.com") for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert limit.allow("t1", "email", " A@Example.com ") is False, "the same sender, any case"
    assert limit.allow("t1", "email", "b@example.com") is True
    assert limit.allow("t2", "email", "a@example.com") is True
    assert [limit.allow("t1", "sms", "+13035550100") for _ in range(3)] == [True, True, False]


def test_the_window_moves_on() -> None:
    limit = _limiter(email="1/second")
    assert limit.allow("t", "email", "a@example.com")
    assert not limit.allow("t", "email", "a@example.com")
    time.sleep(1.1)
    assert limit.allow("t", "email", "a@example.com")

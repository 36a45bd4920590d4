"""Retry a short transaction that lost a race on a unique key."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

T = TypeVar("T")


def retry_on_conflict(attempt: Callable[[], T], *, tries: int = 3) -> T:
    """Run ``attempt`` (one transaction); when another request inserted the same key at the
    same moment, run it again: the second read sees the other's row."""
    for _ in range(tries - 1):
        try:
            return attempt()
        except IntegrityError:
            continue
    return attempt()

"""Money as integer cents inside the store; the documents keep the seed's 2-decimal floats."""

from __future__ import annotations


def to_cents(amount: float) -> int:
    return round(amount * 100)


def to_amount(cents: int) -> float:
    return cents / 100

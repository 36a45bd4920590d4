"""What agents tell the management agent: one ``AgentEvent`` per thing worth counting.

Each event has a key unique in its tenant (``event_key``): recording it twice (a retried
activity, a replayed workflow) stores it once. The management agent also writes events of its
own from the audit trail and the inbox (management/collect.py), under the keys the helpers
below derive, so that a part that later records the same fact itself, with the same helper,
still counts it once.

Ids and amounts only: ``subject`` is an opaque id (an order, a workflow), ``data`` a few small
flat fields. Never an email, a name, a phone number or message text.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

EventKind = Literal[
    "case_closed",
    "handoff",
    "sla_breach",
    "refund",
    "store_error",
    "sales_touch",
    "conversion",
    "save",
    "csat",
    # Read from the audit trail: an operator decided an approval, or took a conversation over.
    "approval",
    "takeover",
    # The watchdog (issue 14 routing/watchdog): a workflow running past its expected life.
    "stuck_workflow",
]
EVENT_KINDS: frozenset[str] = frozenset(get_args(EventKind))
CaseOutcome = Literal["resolved", "escalated", "abandoned"]

MAX_KEY = 200
MAX_SUBJECT = 100
MAX_DATA_KEYS = 8
_KEY = re.compile(r"^[A-Za-z0-9_#:.+\-/@=]{1,200}$")
_SUBJECT = re.compile(r"^[A-Za-z0-9_#:.+\-/]{1,100}$")
_DATA_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# Data values are ids, labels and numbers: no spaces and no "@", so no free text or email.
_DATA_TEXT = re.compile(r"^[A-Za-z0-9_#:.+\-/]{0,64}$")

DataValue = str | int | float | bool | None


class AgentEvent(BaseModel):
    """One countable fact. ``amount`` is money (refund, conversion); ``data`` holds what the
    kind needs: case_closed ``outcome`` (resolved|escalated|abandoned), ``by_person`` (bool),
    ``intent``; sales_touch ``arm``, ``experiment``; csat ``rating`` (1-5); store_error
    ``action`` (the store write that failed, when known)."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str = Field(min_length=1, max_length=40)
    event_key: str = Field(min_length=1, max_length=MAX_KEY)
    kind: EventKind
    at: datetime
    amount: Decimal | None = None
    subject: str | None = None
    data: dict[str, DataValue] = Field(default_factory=dict)

    @field_validator("event_key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError("event_key must be an id (letters, digits and _#:.+-/@=)")
        return value

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str | None) -> str | None:
        if value is not None and not _SUBJECT.match(value):
            raise ValueError("subject must be an opaque id (no spaces, no '@')")
        return value

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("at must carry a time zone")
        return value.astimezone(UTC)

    @field_validator("amount")
    @classmethod
    def _money(cls, value: Decimal | None) -> Decimal | None:
        if value is None:
            return None
        if not value.is_finite() or value < 0 or value >= Decimal("10000000000"):
            raise ValueError("amount must be a sum of money between 0 and 9999999999.99")
        return value.quantize(Decimal("0.01"))

    @field_validator("data")
    @classmethod
    def _small(cls, value: dict[str, DataValue]) -> dict[str, DataValue]:
        if len(value) > MAX_DATA_KEYS:
            raise ValueError(f"data may have at most {MAX_DATA_KEYS} fields")
        for key, item in value.items():
            if not _DATA_KEY.match(key):
                raise ValueError(f"data key {key!r} must be a short snake_case name")
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"data.{key} must be a finite number")
            if isinstance(item, str) and not _DATA_TEXT.match(item):
                raise ValueError(f"data.{key} must be an id or a label (no spaces, no '@')")
        return value

    @model_validator(mode="after")
    def _kind_fields(self) -> AgentEvent:
        d = self.data
        if self.kind == "case_closed":
            if d.get("outcome") not in get_args(CaseOutcome):
                raise ValueError(
                    "a case_closed event needs data.outcome: resolved|escalated|abandoned"
                )
            if not isinstance(d.get("by_person", False), bool):
                raise ValueError("data.by_person must be true or false")
        if self.kind == "csat":
            rating = d.get("rating")
            if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
                raise ValueError("a csat event needs data.rating, a whole number from 1 to 5")
        if (
            self.kind in ("refund", "conversion")
            and self.amount is None
            and d.get("amount_known") is not False
        ):
            raise ValueError(f"a {self.kind} event needs an amount (or data.amount_known: false)")
        return self


def _fit(key: str) -> str:
    """``key`` as is when it is short and plain enough, else its kind and a hash of it (the
    same input always gives the same key)."""
    if len(key) <= MAX_KEY and _KEY.match(key):
        return key
    kind = key.split(":", 1)[0][:32]
    return f"{kind}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _instant(at: datetime) -> str:
    """One spelling per instant (UTC, microseconds), whatever the source gave."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- keys shared by every part that may record the same fact ---------------------------------
def handoff_key(workflow_id: str, since: datetime) -> str:
    """A conversation handed to a person at ``since`` (the inbox line's ``since``)."""
    return _fit(f"handoff:{workflow_id}:{_instant(since)}")


def sla_breach_key(workflow_id: str, since: datetime, breach: str) -> str:
    """An SLA (``sla_first_response``, ``sla_resolution``) breached in the hand-over that began
    at ``since``."""
    return _fit(f"sla:{workflow_id}:{_instant(since)}:{breach}")


def stuck_key(workflow_id: str, since: datetime) -> str:
    """A store write that could not finish and was handed over at ``since``."""
    return _fit(f"stuck:{workflow_id}:{_instant(since)}")


def store_write_key(kind: str, idempotency_key: str) -> str:
    """A store write (a refund) by its own idempotency key, which its audit entry carries."""
    return _fit(f"{kind}:{idempotency_key}")


def audit_key(seq: int) -> str:
    """An audit entry without an idempotency key, by its place in the tenant's trail."""
    return f"audit:{seq}"

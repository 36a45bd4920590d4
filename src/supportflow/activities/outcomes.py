"""What a support turn settled, recorded for the management agent and the sales record
(sales-v1 runs): the cases it closed, the customer's rating (CSAT), and a retention offer's
answer (the save).

One local activity per turn that settled something, in the agents worker: it runs in the
same workflow task as the turn's reply, so it adds no billable action (all local activities
of a workflow task are one). Idempotent: each agent event has a key made of its kind and the
case id (which holds the workflow id), stored once per tenant (management/record.py); the
sales touch's id is made the same way (sales/touches.py writes it once). Ids, labels and
numbers only: no text, email or name; a discount code goes to the touch row, never to a log.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from supportflow.management.events import AgentEvent
from supportflow.management.record import record_agent_event
from supportflow.sales import touches

log = logging.getLogger(__name__)

_ID = re.compile(r"^[A-Za-z0-9_#:.+\-/]+$")


class ClosedCase(BaseModel):
    case_id: str
    outcome: Literal["resolved", "escalated", "abandoned"]
    intent: str
    # Closed by an operator rather than the agent.
    by_person: bool = False


class Rating(BaseModel):
    case_id: str
    rating: int = Field(ge=1, le=5)
    channel: str


class RetentionAnswer(BaseModel):
    case_id: str
    order_id: str
    status: Literal["saved", "declined"]
    offer: Literal["discount", "free_shipping", "exchange"]
    # When the offer was made (the touch's exposure) and when it was answered.
    offered_at: datetime
    discount_code: str | None = None


class RetentionClosed(BaseModel):
    """A cancel case of a retention experiment that closed (sales-agent-v1): whether its
    order was kept ("saved"), cancelled, or left to a person or refused by the store."""

    case_id: str
    status: Literal["saved", "cancelled", "escalated", "refused"]


class TurnOutcomes(BaseModel):
    tenant_id: str
    workflow_id: str
    store_user_id: str | None = None
    # The turn's time (the workflow's clock).
    at: datetime
    closed: list[ClosedCase] = Field(default_factory=list)
    rating: Rating | None = None
    retention: RetentionAnswer | None = None
    retention_closed: list[RetentionClosed] = Field(default_factory=list)


def event_key(kind: str, case_id: str) -> str:
    """The event's key: its kind and the case (whose id holds the workflow id); hashed when
    too long or not a plain id."""
    key = f"{kind}:{case_id}"
    if len(key) <= 200 and _ID.match(key):
        return key
    return f"{kind}:sha256:{hashlib.sha256(case_id.encode()).hexdigest()}"


def _opaque(value: str, limit: int) -> str:
    """``value`` as an id of at most ``limit`` characters (hashed when it does not fit)."""
    if len(value) <= limit and _ID.match(value):
        return value
    return "h:" + hashlib.sha256(value.encode()).hexdigest()[: max(8, limit - 2)]


def events_for(inp: TurnOutcomes) -> list[AgentEvent]:
    """The agent events of one turn's outcomes (an invalid one is left out and logged)."""
    drafts: list[dict[str, object]] = []
    for c in inp.closed:
        drafts.append(
            {
                "kind": "case_closed",
                "event_key": event_key("case_closed", c.case_id),
                "subject": _opaque(c.case_id, 100),
                "data": {
                    "outcome": c.outcome,
                    "by_person": c.by_person,
                    "intent": _opaque(c.intent, 64),
                },
            }
        )
    if inp.rating is not None:
        r = inp.rating
        drafts.append(
            {
                "kind": "csat",
                "event_key": event_key("csat", r.case_id),
                "subject": _opaque(r.case_id, 100),
                "data": {
                    "rating": r.rating,
                    "case_id": _opaque(r.case_id, 64),
                    "channel": _opaque(r.channel, 16),
                },
            }
        )
    if inp.retention is not None and inp.retention.status == "saved":
        t = inp.retention
        drafts.append(
            {
                "kind": "save",
                "event_key": event_key("save", t.case_id),
                "subject": _opaque(t.order_id, 100),
                "data": {"offer": t.offer, "case_id": _opaque(t.case_id, 64)},
            }
        )
    out: list[AgentEvent] = []
    for d in drafts:
        try:
            out.append(AgentEvent.model_validate({"tenant_id": inp.tenant_id, "at": inp.at, **d}))
        except ValidationError as err:
            log.warning("agent event left out: %s (%d errors)", d["kind"], err.error_count())
    return out


class OutcomeActivities:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @activity.defn(name="record_turn_outcomes")
    def record_turn_outcomes(self, inp: TurnOutcomes) -> int:
        """Record the turn's outcomes; how many agent events were new."""
        new = sum(record_agent_event(self._sessions, e) for e in events_for(inp))
        t = inp.retention
        if t is not None and inp.store_user_id is not None:
            try:
                self._touch(inp, t, inp.store_user_id)
            except IntegrityError:
                # A tenant with no row (a bare test or tool tenant): nothing to attribute to.
                log.warning("retention touch not recorded: unknown tenant %s", inp.tenant_id)
        for closed in inp.retention_closed:
            # Written when the arm was assigned (activities/retention_arms.py); the case's
            # end is what its experiment counts.
            touches.settle_touch(
                self._sessions, event_key("retention", closed.case_id), closed.status
            )
        return new

    def _touch(self, inp: TurnOutcomes, t: RetentionAnswer, store_user_id: str) -> None:
        """The offer as a sales touch (exposure at the offer, status its answer), once."""
        touch_id = event_key("retention", t.case_id)
        touches.open_touch(
            self._sessions,
            touch_id=touch_id,
            tenant_id=inp.tenant_id,
            store_user_id=store_user_id,
            kind="retention",
            subject_id=t.order_id[:100],
            workflow_id=inp.workflow_id[:255],
            at=t.offered_at,
            experiment_id=None,
            arm=None,
        )
        touches.close_touch(
            self._sessions,
            touch_id,
            status=t.status,
            discount_code=t.discount_code,
            sent_at=t.offered_at,
        )

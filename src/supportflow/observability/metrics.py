"""Our own Prometheus metrics, in the process's default registry, and where each is counted.

API process (api/, observability/asgi.py and the rate limiters):
  supportflow_turns_total{channel, outcome}        a customer's message at the door
  supportflow_turn_latency_seconds{channel}        chat: request to answer (or to "pending")
  supportflow_rate_limit_refusals_total{limit}     a refusal, by the limit that ran out
Worker process (observability/temporal.py, an activity interceptor; activities run there):
  supportflow_understanding_total{outcome}         confident / unclear / needs_human
  supportflow_intents_total{intent}                the understood intent (the intent table)
  supportflow_handoffs_total{reason}               a conversation entering the inbox
  supportflow_cases_closed_total{outcome}          resolved / escalated / abandoned
  supportflow_store_errors_total{kind, activity}   a store failure seen by an activity
  supportflow_refunds_total{scope}                 refunds applied (partial / full)
  supportflow_refund_amount_total                  sum of the partial refunds' amounts

Labels are bounded sets only: no tenant, customer, order or workflow ids and no text (a
shop with thousands of tenants would make thousands of series per metric; per-tenant figures
are the management agent's, docs/management.md).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TURNS = Counter(
    "supportflow_turns",
    "Customer messages arriving, by channel and what became of them at the door.",
    ["channel", "outcome"],
)
TURN_LATENCY = Histogram(
    "supportflow_turn_latency_seconds",
    "Chat: from the request to the agent's answer, or to the holding reply (202).",
    ["channel"],
    buckets=(0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30),
)
RATE_LIMIT_REFUSALS = Counter(
    "supportflow_rate_limit_refusals",
    "Requests refused by a rate limit, by the limit that ran out.",
    ["limit"],
)
UNDERSTANDING = Counter(
    "supportflow_understanding",
    "Messages understood: confident, unclear (a clarifying question) or needing a person.",
    ["outcome"],
)
INTENTS = Counter(
    "supportflow_intents",
    "The intent each understood message was read as (others: intent 'other').",
    ["intent"],
)
HANDOFFS = Counter(
    "supportflow_handoffs",
    "Conversations entering the operators' inbox, by reason (handoff, approval, stuck, sla).",
    ["reason"],
)
CASES_CLOSED = Counter(
    "supportflow_cases_closed",
    "Cases closed, by outcome (resolved, escalated, abandoned).",
    ["outcome"],
)
STORE_ERRORS = Counter(
    "supportflow_store_errors",
    "Store failures seen by activities, by kind and activity type (retried attempts count).",
    ["kind", "activity"],
)
REFUNDS = Counter(
    "supportflow_refunds",
    "Refunds the store applied: partial (an amount) or full (what was outstanding).",
    ["scope"],
)
REFUND_AMOUNT = Counter(
    "supportflow_refund_amount",
    "Sum of the partial refunds' amounts, in the stores' currencies (full refunds: unknown).",
)

# Every outcome label the door uses, so dashboards see zeros rather than no series.
_DOOR_OUTCOMES = {
    "chat": ("answered", "pending"),
    "email": ("accepted",),
    "sms": ("accepted",),
}
for _channel, _outcomes in _DOOR_OUTCOMES.items():
    for _outcome in (*_outcomes, "refused", "rate_limited", "error"):
        TURNS.labels(_channel, _outcome)
for _outcome in ("confident", "unclear", "needs_human"):
    UNDERSTANDING.labels(_outcome)
TURN_LATENCY.labels("chat")


def count_turn(channel: str, outcome: str, seconds: float | None = None) -> None:
    TURNS.labels(channel, outcome).inc()
    if seconds is not None:
        TURN_LATENCY.labels(channel).observe(seconds)


def count_rate_limit_refusal(limit: str) -> None:
    RATE_LIMIT_REFUSALS.labels(limit).inc()

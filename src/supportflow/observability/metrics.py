"""Our own Prometheus metrics, in the process's default registry, and where each is counted.

API process (api/, observability/asgi.py and ws.py, the rate limiters, the SMTP door):
  supportflow_turns_total{channel, transport, outcome}   a customer's message at the door
  supportflow_turn_latency_seconds{channel, transport}   chat: message to answer (or "pending")
  supportflow_rate_limit_refusals_total{limit}     a refusal, by the limit that ran out
Worker process (observability/temporal.py, an activity interceptor; activities run there):
  supportflow_understanding_total{outcome}         confident / unclear / needs_human
  supportflow_intents_total{intent}                the understood intent (the intent table)
  supportflow_handoffs_total{reason}               a conversation entering the inbox
  supportflow_cases_closed_total{outcome}          resolved / escalated / abandoned
  supportflow_store_errors_total{kind, activity}   a store failure seen by an activity
  supportflow_refunds_total{scope}                 refunds applied (partial / full)
  supportflow_refund_amount_total                  sum of what the stores say refunds applied

Labels are bounded sets only: no tenant, customer, order or workflow ids and no text (a
shop with thousands of tenants would make thousands of series per metric; per-tenant figures
are the management agent's, docs/management.md).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TURNS = Counter(
    "supportflow_turns",
    "Customer messages arriving, by channel, the door they came through (transport) and "
    "what became of them there.",
    ["channel", "transport", "outcome"],
)
TURN_LATENCY = Histogram(
    "supportflow_turn_latency_seconds",
    "Chat: from the message (HTTP request or WebSocket frame) to the agent's answer, or to "
    "the holding reply.",
    ["channel", "transport"],
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
    "Sum of the refunds' amounts the stores reported applying, in the stores' currencies.",
)

# What became of a chat message (HTTP request or WebSocket frame) at the door.
CHAT_OUTCOMES = ("answered", "pending", "refused", "rate_limited", "error")
# What became of an inbound email at either door (the SMTP server, a provider's webhook):
# handed to the conversation, a provider id seen before, recorded without an answer
# (auto-reply, bounce, list, our own mail, nothing to read), a sender writing too often,
# over the size limit, nothing usable in it, refused (unknown recipient, bad signature), or
# failed on our side (the sender retries).
EMAIL_OUTCOMES = (
    "accepted",
    "duplicate",
    "ignored",
    "rate_limited",
    "too_large",
    "unusable",
    "refused",
    "error",
)
# Every (channel, transport) door and its outcomes, so dashboards see zeros, not no series.
_DOORS: dict[tuple[str, str], tuple[str, ...]] = {
    ("chat", "http"): CHAT_OUTCOMES,
    ("chat", "websocket"): CHAT_OUTCOMES,
    ("email", "webhook"): EMAIL_OUTCOMES,
    ("email", "smtp"): EMAIL_OUTCOMES,
    ("sms", "webhook"): ("accepted", "refused", "rate_limited", "error"),
}
for (_channel, _transport), _outcomes in _DOORS.items():
    for _outcome in _outcomes:
        TURNS.labels(_channel, _transport, _outcome)
for _outcome in ("confident", "unclear", "needs_human"):
    UNDERSTANDING.labels(_outcome)
for _scope in ("partial", "full"):
    REFUNDS.labels(_scope)
TURN_LATENCY.labels("chat", "http")
TURN_LATENCY.labels("chat", "websocket")


def count_turn(channel: str, transport: str, outcome: str, seconds: float | None = None) -> None:
    TURNS.labels(channel, transport, outcome).inc()
    if seconds is not None:
        TURN_LATENCY.labels(channel, transport).observe(seconds)


def count_rate_limit_refusal(limit: str) -> None:
    RATE_LIMIT_REFUSALS.labels(limit).inc()

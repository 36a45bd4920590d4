"""What crosses the workflow boundary: workflow input, update, query payloads.

Everything here is a pydantic model serialised by Temporal's pydantic data converter, so a
payload that does not match fails loudly at the boundary instead of deep inside a workflow.
Fields are only ever added with defaults, so old histories keep decoding.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from supportflow.policy.model import TenantPolicy
from supportflow.procedures.case import ActionPlan, ApprovalRequest, CaseState
from supportflow.understanding.contract import Understanding

# Bound on what one conversation carries through continue-as-new: the full record belongs to
# the app database; the workflow keeps a recent window for context and de-duplication.
TRANSCRIPT_WINDOW = 200
# The client SDK names a start signal by string; this constant is the one place it is spelt.
ENQUEUE_MESSAGE_SIGNAL = "enqueue_message"
SEEN_MESSAGE_WINDOW = 1000


class Channel(StrEnum):
    CHAT = "chat"
    EMAIL = "email"
    SMS = "sms"


class ChannelIdentity(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str  # "chat" | "email" | "phone"
    value: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"


class VerifiedIdentity(BaseModel):
    """Who the sender proved to be: set by the API from a signed identity token (never from
    text), or by the workflow itself once the right one-time code came back."""

    model_config = ConfigDict(frozen=True)

    email: str | None = None
    # The store's own customer id (a token's `sub`).
    store_customer_id: str | None = None
    # "phone": an SMS from the phone number on the store account (the API looked it up);
    # "email_reply": an email replying to a message we sent only to that address (the API
    # checked the Message-ID it replies to, which nobody else has seen).
    method: Literal["token", "code", "phone", "email_reply"]

    @property
    def key(self) -> str:
        return f"sub:{self.store_customer_id}" if self.store_customer_id else f"email:{self.email}"


class ReplyRoute(BaseModel):
    """How an answer goes back on the channel a message came by (email, SMS): the address
    and, for email, the thread it continues. Chat needs none (the customer's page reads it)."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    # The customer's email address or E.164 phone number.
    address: str = Field(min_length=1, max_length=320)
    # Email: the subject and the ids the answer threads under (the customer's Message-ID
    # last, References oldest first).
    subject: str | None = Field(default=None, max_length=998)
    message_id: str | None = Field(default=None, max_length=250)
    references: list[str] = Field(default_factory=list, max_length=50)
    # The tenant's address the customer wrote to (support email or SMS number).
    ours: str | None = Field(default=None, max_length=320)


class InboundMessage(BaseModel):
    """One message from the customer. `message_id` is the caller's id, unique per customer."""

    message_id: str = Field(min_length=1, max_length=200)
    channel: Channel
    text: str
    sender: ChannelIdentity
    # An email the sender *claims* (typed into the widget): it starts a one-time code, it
    # never identifies anyone by itself.
    email: str | None = None
    verified: VerifiedIdentity | None = None
    # Email and SMS: where the answer goes (channels-v1 runs send it themselves).
    route: ReplyRoute | None = None


class Reply(BaseModel):
    message_id: str
    text: str
    intent: str
    duplicate: bool = False
    # Who sent the message answered: a reply is shown only to its own sender.
    to: str | None = None
    # An operator holds the conversation: the agent said nothing (the operator will answer).
    held: bool = False


class TranscriptEntry(BaseModel):
    role: Literal["customer", "agent", "operator"]
    channel: Channel
    message_id: str
    text: str
    at: datetime
    intent: str | None = None
    # On a customer's message: how its sender was verified then ("token", "code") or None.
    verified_by: str | None = None
    # The conversation's running number of this entry (0: recorded before numbering), what a
    # channel's "messages after N" reads.
    seq: int = 0
    # On an operator's message: the operator's id.
    author: str | None = None
    # On a message the agent or an operator sent outside a reply: the sender it is for
    # (ChannelIdentity.key), so that it is shown only to them.
    to: str | None = None
    # On an answer sent by email or SMS (channels-v1): "sent", "duplicate",
    # "suppressed: <why>" (a number that texted STOP) or "failed: <error type>".
    delivery: str | None = None


class Case(BaseModel):
    case_id: str
    intent: str
    status: Literal["open", "resolved", "escalated", "abandoned"] = "open"
    order_id: str | None = None
    opened_at: datetime
    # Why a case went to a person (e.g. "activity_failed: understand"), for the inbox.
    reason: str | None = None
    # How a resolved case ended, when it says more than "resolved": "saved" (the customer
    # took a retention offer and kept the order; sales-v1).
    resolution: Literal["saved"] | None = None


HandoverReason = Literal["handoff", "approval", "stuck"]


class Handover(BaseModel):
    """The conversation waits for a person (the inbox lists it) until one releases it."""

    reason: HandoverReason
    since: datetime
    # Why, for the person: a policy rule, "activity_failed: ...", the action that is stuck.
    detail: str | None = None
    # When a person first answered (the first-response SLA stops), and the SLA breaches seen.
    first_response_at: datetime | None = None
    breaches: list[Literal["first_response", "resolution"]] = Field(default_factory=list)


class ActionRetry(BaseModel):
    """A store write the store stopped answering mid-plan: the same plan (same idempotency
    keys) runs again at ``next_at`` until ``give_up_at``, then a person takes it."""

    plan: ActionPlan
    store_user_id: str
    started_at: datetime
    next_at: datetime
    give_up_at: datetime
    tries: int = 1


class PendingRequest(BaseModel):
    """A request kept for later: one that needs the customer's account while they verify who
    they are, or one of several in a message, waiting for the one before it."""

    text: str
    understanding: Understanding
    # Who wrote it (ChannelIdentity.key; channels-v1): only their own proof takes it up.
    sender: str | None = None


class CsatQuestion(BaseModel):
    """A reply that ended with "How did we do?" (procedures/csat.py)."""

    case_id: str
    asked_at: datetime
    # Who was asked (ChannelIdentity.key): only their next message may rate.
    to: str | None = None
    # Whether the conversation's next message may still be the rating.
    open: bool = True


class ConversationState(BaseModel):
    """Everything continue-as-new must carry."""

    identities: list[ChannelIdentity] = Field(default_factory=list)
    # The store's user id once the customer has been identified (email, name + zip, ...).
    store_user_id: str | None = None
    verified_email: str | None = None
    transcript: list[TranscriptEntry] = Field(default_factory=list)
    replies: dict[str, Reply] = Field(default_factory=dict)  # message_id -> reply, insertion order
    cases: list[Case] = Field(default_factory=list)
    awaiting: str | None = None
    # An order id mentioned before the customer was identified, to answer once they are.
    pending_order_id: str | None = None
    last_intent: str | None = None
    # Clarifying questions asked in a row; repeated low confidence goes to a human.
    clarifications: int = 0
    # The request a procedure is working on (cancel, return, ...), open or last closed.
    case: CaseState | None = None
    # The tenant's policy as loaded when the current case opened (None: not loaded yet).
    policy: TenantPolicy | None = None
    # Actions waiting for an operator's approval (the management agent will act on them).
    approvals: list[ApprovalRequest] = Field(default_factory=list)
    turns: int = 0
    runs: int = 1
    # Who the customer proved to be (None: nobody yet). Only this makes account data visible;
    # `store_user_id`/`verified_email` carried from runs before verification existed are
    # ignored until it is set.
    verification: VerifiedIdentity | None = None
    # Senders (ChannelIdentity.key) that proved it with a one-time code in this conversation.
    verified_senders: list[str] = Field(default_factory=list)
    pending_request: PendingRequest | None = None
    # The later requests of a message that held several, in the customer's order: each is
    # taken when the one before it no longer waits for the customer.
    queued: list[PendingRequest] = Field(default_factory=list)
    # --- people behind the agents (PATCH_PEOPLE) -----------------------------------------
    # Waiting for a person, and why (None: the agent handles it).
    handover: Handover | None = None
    # The operator holding the conversation: while set, the agent does not answer by itself.
    held_by: str | None = None
    retry: ActionRetry | None = None
    # The number of the last transcript entry (TranscriptEntry.seq) and of the last inbox
    # write, so that later writes never lose to earlier ones.
    seq: int = 0
    inbox_version: int = 0
    # --- email and SMS (PATCH_CHANNELS) ----------------------------------------------------
    # The route of each sender's latest message (ChannelIdentity.key -> route), so that what
    # an operator or the agent says later goes back the way that sender last wrote.
    routes: dict[str, ReplyRoute] = Field(default_factory=dict)
    # The sender of the latest customer message (ChannelIdentity.key).
    last_from: str | None = None
    # --- sales and CSAT (PATCH_SALES) ---------------------------------------------------------
    # The rating question (CSAT) last asked: its case, and whether the next message may
    # still answer it.
    csat: CsatQuestion | None = None
    # Orders a retention offer was made for in this conversation: never offered twice.
    offered_orders: list[str] = Field(default_factory=list)
    # Cancel cases counted in the tenant's retention experiment (sales-agent-v1): case id ->
    # the arm. When one closes, whether the order was kept is recorded for its arm.
    retention_trials: dict[str, str] = Field(default_factory=dict)


# --- what operators send a conversation (updates with validators) ----------------------------


class Claim(BaseModel):
    operator_id: str = Field(min_length=1, max_length=100)
    # A supervisor may take a conversation another operator holds.
    take_over: bool = False


class Release(BaseModel):
    operator_id: str = Field(min_length=1, max_length=100)
    # A supervisor may release a conversation another operator holds.
    force: bool = False


class OperatorMessage(BaseModel):
    operator_id: str = Field(min_length=1, max_length=100)
    # The caller's id for this reply: the same id twice is one reply.
    reply_id: str = Field(min_length=1, max_length=200)
    text: str


class ApprovalDecision(BaseModel):
    approval_id: str = Field(min_length=1, max_length=100)
    operator_id: str = Field(min_length=1, max_length=100)
    decision: Literal["approve", "deny"]
    note: str = Field(default="", max_length=2000)
    # Whether the customer hears the note (a denial's reason), or only the colleagues.
    share_note: bool = False
    # The most the operator may approve (None: no limit); the API checks it first.
    approval_limit: float | None = None


class MessagesAfter(BaseModel):
    seq: int = Field(default=0, ge=0)
    sender: str | None = None


class HoldView(BaseModel):
    """Who holds the conversation after an operator's update."""

    held_by: str | None
    handover: Handover | None
    seq: int


class TaskQueues(BaseModel):
    """Where the workflow sends each kind of activity (settings live outside workflows)."""

    ai: str = "supportflow-ai"
    integrations: str = "supportflow-integrations"


class CustomerWorkflowInput(BaseModel):
    tenant_id: str
    customer_id: str
    task_queues: TaskQueues = Field(default_factory=TaskQueues)
    # Continue-as-new once history passes this many events (configurable per deployment).
    continue_as_new_events: int = 2000
    # A conversation whose customer never verified ends after this long without a message:
    # drive-by traffic leaves no permanent workflows.
    unverified_idle: timedelta = timedelta(hours=24)
    state: ConversationState | None = None


class TranscriptView(BaseModel):
    tenant_id: str
    customer_id: str
    store_user_id: str | None
    identities: list[ChannelIdentity]
    entries: list[TranscriptEntry]
    cases: list[Case]
    turns: int
    runs: int
    approvals: list[ApprovalRequest] = Field(default_factory=list)
    verification: VerifiedIdentity | None = None
    # Who holds the conversation, and whether (and why) it waits for a person.
    held_by: str | None = None
    handover: Handover | None = None
    # The request being worked on (or the last one), with its step and what it waits for.
    case: CaseState | None = None


class ReplyLookup(BaseModel):
    message_id: str
    # When given, only a reply to this sender (ChannelIdentity.key) is returned.
    sender: str | None = None


class ReplyStatus(BaseModel):
    message_id: str
    status: Literal["answered", "pending", "unknown"]
    reply: Reply | None = None


def customer_workflow_id(tenant_id: str, customer_id: str) -> str:
    return f"sf/{tenant_id}/customer/{customer_id}"

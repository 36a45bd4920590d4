"""What a simulation run is given and what it gives back (the simulator's public types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Target:
    """A running stack."""

    api_url: str  # e.g. http://127.0.0.1:8400
    chat_key: str  # public web-chat key (X-Chat-Key)
    api_key: str  # merchant key (policy, transcripts)
    store_url: str  # demo store (orders, final state, invariants)
    temporal_address: str
    # The tenant's identity secret: every simulated customer's messages carry an identity
    # token signed with it, as a store's own widget sends for its logged-in shoppers.
    identity_secret: str = field(repr=False)
    namespace: str = "default"
    # Processes to sample memory of, when known (the embedded stack knows them).
    temporal_pid: int | None = None
    worker_pids: tuple[int, ...] = ()
    # --- email and SMS customers (a channel mix; chat needs none of these) ---
    tenant_id: str | None = None  # finds email/SMS conversations (workflow ids embed it)
    support_email: str | None = None  # where email customers write
    smtp_address: str | None = None  # HOST:PORT of the stack's inbound SMTP server
    maildir: Path | None = None  # where the stack's outbound mail lands (answers by email)
    sms_number: str | None = None  # the tenant's number SMS customers text
    # Signs simulated Twilio webhooks as Twilio would (X-Twilio-Signature).
    twilio_auth_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SimOptions:
    customers: int = 100
    concurrency: int = 20
    duration_s: float | None = None  # stop starting conversations after this
    seed: int = 0
    reply_timeout_s: float = 180.0  # per message, across retries and 202 polling
    behaviours: tuple[str, ...] | None = None  # restrict the mix (e.g. only ones with actions)
    # "Silent for hours" on a server that cannot skip time: the tenant's confirmation timeout
    # is set to this for the run (PUT /v1/policy) and restored afterwards.
    confirmation_timeout_s: float = 20.0
    # The channel each customer writes on, as shares ((name, weight), ...): see sim/mix.py.
    channels: tuple[tuple[str, int], ...] = (("chat", 100),)
    # The share of email and SMS customers who start in chat and go on by email or SMS in
    # the same conversation (0: every customer keeps to one channel).
    switch_share: float = 0.0


@dataclass
class SentMessage:
    message_id: str
    text: str
    sent_at: float  # epoch seconds
    answered_at: float | None = None
    latency_s: float | None = None
    reply: str | None = None
    intent: str | None = None
    attempts: int = 0
    duplicate: bool = False  # any answer to it said "duplicate"
    throttled: int = 0  # 429s it got (each waited out, then the message sent again)
    error: str | None = None  # why it was given up on (unanswered) or refused
    channel: str = "chat"  # "chat", "email" or "sms"

    @property
    def answered(self) -> bool:
        return self.reply is not None


@dataclass
class ConversationResult:
    index: int
    visitor_id: str
    behaviour: str
    email: str  # the customer's, in the identity token of every message
    order_id: str | None
    workflow_id: str | None = None
    customer_id: str | None = None
    messages: list[SentMessage] = field(default_factory=list)
    started_at: float = 0.0
    ended_at: float = 0.0
    expected: dict[str, Any] = field(default_factory=dict)  # the store outcome it must produce
    outcome_ok: bool | None = None  # checked against the store's final state
    outcome_detail: str = ""
    resolved: bool = False  # every message answered, no human involved
    escalated: bool = False  # handed to a person
    timed_out: bool = False  # the agent closed an unanswered case itself
    first_message_source: str = "heldout"  # "heldout" or "scripted"
    first_message_understood: bool = True  # held-out first message read as intended
    deviations: list[str] = field(default_factory=list)  # replies other than the script expects
    billable_actions: dict[str, int] = field(default_factory=dict)
    # How the customer wrote: "chat", "email", "sms", or "chat+email"/"chat+sms" for one who
    # started in chat and went on by the other channel (sim/mix.py).
    channel: str = "chat"

    @property
    def lost(self) -> int:
        return sum(1 for m in self.messages if not m.answered)


@dataclass(frozen=True)
class MemorySample:
    at: float  # seconds since the run started
    process: str  # "temporal" or "worker"
    pid: int
    rss_bytes: int


@dataclass
class SimResult:
    target: Target
    options: SimOptions
    started_at: float
    ended_at: float
    conversations: list[ConversationResult] = field(default_factory=list)
    memory: list[MemorySample] = field(default_factory=list)
    invariant_violations: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return max(1e-9, self.ended_at - self.started_at)

    @property
    def messages(self) -> list[SentMessage]:
        return [m for c in self.conversations for m in c.messages]

    @property
    def lost_messages(self) -> int:
        return sum(c.lost for c in self.conversations)

    @property
    def wrong_outcomes(self) -> int:
        return sum(1 for c in self.conversations if c.outcome_ok is not True)

    @property
    def turns_per_s(self) -> float:
        return sum(1 for m in self.messages if m.answered) / self.wall_s

    @property
    def conversations_per_min(self) -> float:
        return len(self.conversations) / self.wall_s * 60

    @property
    def passed(self) -> bool:
        """The correctness gate: no message lost, every outcome right, store invariants hold."""
        return (
            self.lost_messages == 0 and self.wrong_outcomes == 0 and not self.invariant_violations
        )


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    json: Path
    charts: tuple[Path, ...]

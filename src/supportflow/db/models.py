"""Tables of the app database. Every row is scoped to a tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    DateTime,
    Float,  # outbound webhooks' next attempt (unix seconds)
    ForeignKey,
    Index,
    Numeric,  # operators' approval limits
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the tenant's first API key (shown once, never stored). Requests are checked
    # against tenant_api_keys (TenantApiKey), where keys are rotated and revoked.
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    # The chat key is public (it ships inside the merchant's web page), so it is stored as is.
    chat_key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # Signs shoppers' identity tokens (HS256) on the merchant's site. Sealed with the app's
    # key ring (AES-256-GCM), never stored in clear; the previous one stays valid for a grace
    # period after a rotation so tokens already handed out keep working.
    identity_secret: Mapped[str | None] = mapped_column(Text, default=None)
    identity_secret_previous: Mapped[str | None] = mapped_column(Text, default=None)
    identity_secret_previous_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Identity(Base):
    """One way a customer reaches the store: a chat visitor id, an email, a phone number."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "value", name="uq_identity"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # How the customer proved this identity ("token", "code"); None: only claimed (a chat
    # visitor id is the visitor's own; an unverified email is never used to find a customer).
    verified_by: Mapped[str | None] = mapped_column(String(16), default=None)


class VerificationCode(Base):
    """A one-time sign-in code sent to an email, for one conversation (customer).

    Only a salted hash of the code is kept. Rows also count sends per email and per
    conversation for the resend limits."""

    __tablename__ = "verification_codes"
    __table_args__ = (
        Index("ix_verification_email", "tenant_id", "email_hash", "created_at"),
        Index("ix_verification_customer", "tenant_id", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    customer_id: Mapped[str] = mapped_column(String(40))
    # Idempotency: the workflow step that asked for the code; a retried send finds its row.
    request_key: Mapped[str] = mapped_column(String(255), unique=True)
    email_hash: Mapped[str] = mapped_column(String(64))
    # The email itself, sealed: the workflow learns it only once the right code is given.
    email_sealed: Mapped[str] = mapped_column(Text)
    code_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(default=0)
    # False when the email has no account: nothing is sent, but the reply is the same.
    sent: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReplyTemplate(Base):
    """A tenant's own wording for one reply (overrides the default template of that name)."""

    __tablename__ = "reply_templates"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(4000))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now
    )


class TenantPolicyRow(Base):
    """A tenant's policy document (validated TenantPolicy JSON); absent means the defaults."""

    __tablename__ = "tenant_policies"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now
    )


class KnowledgeArticle(Base):
    """One article of a tenant's knowledge base (a policy, a shipping note, an FAQ answer).

    Agents quote these verbatim, so a merchant controls every word a customer is told.
    """

    __tablename__ = "knowledge_articles"
    # Retrieval checks (id, updated_at) of a tenant's articles before each search to see
    # whether its cached index is stale; this index answers that without reading bodies.
    __table_args__ = (Index("ix_knowledge_tenant_version", "tenant_id", "id", "updated_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now
    )
    # A custom action answers it (issue 16, migration 0016): the body's {field}s are filled
    # from the action's result.
    action: Mapped[str | None] = mapped_column(String(63), nullable=True)


# --- API keys (issue 9 item 7; tenants/api_keys.py, migration 0006) ---------------------------
class TenantApiKey(Base):
    """One of a tenant's secret API keys. Several can be valid at once (a rotation keeps the
    old key until ``expires_at``); a revoked or expired key authenticates nothing. Only the
    SHA-256 of the key is kept, and its last four characters to tell keys apart."""

    __tablename__ = "tenant_api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    # NULL for keys created before this table (only their hash was ever stored).
    last4: Mapped[str | None] = mapped_column(String(4), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


# --- end API keys -------------------------------------------------------------------------------


# --- audit trail (issue 12 item 6; supportflow/audit, migration 0008) --------------------------
class AuditLogRow(Base):
    """One entry of a tenant's append-only audit trail, chained to the one before it by hash
    (``audit/chain.py``). ``details`` holds ids and amounts only, never personal data."""

    __tablename__ = "audit_log"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq", name="uq_audit_tenant_seq"),
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_audit_tenant_key"),
        Index("ix_audit_tenant_at", "tenant_id", "at"),
        Index("ix_audit_tenant_action", "tenant_id", "action", "seq"),
        Index("ix_audit_tenant_workflow", "tenant_id", "workflow_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # No foreign key: the trail outlives a tenant's rows, and agents' tenants need none.
    tenant_id: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column()
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255), default=None)
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    workflow_id: Mapped[str | None] = mapped_column(String(255), default=None)
    run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


# --- end audit trail ---------------------------------------------------------------------------


# --- Operators (issue 12 item 1; supportflow/operators, migration 0009) ------------------------
class Operator(Base):
    """A person on the merchant's support team. Signs in to the console with a password
    (argon2id hash only) or acts through personal API tokens. Never deleted: disabling keeps
    the row, so the audit trail still names who did what."""

    __tablename__ = "operators"
    __table_args__ = (UniqueConstraint("tenant_id", "email", name="uq_operator_email"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))  # lower-cased
    role: Mapped[str] = mapped_column(String(16))  # operators/permissions.py Role
    # Largest amount this operator may approve; NULL: see permissions.may_approve.
    approval_limit: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), default=None)
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class OperatorToken(Base):
    """A personal API token (Authorization: Bearer). Only its SHA-256 is kept."""

    __tablename__ = "operator_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    last4: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class OperatorSession(Base):
    """A console sign-in (the sf_session cookie). Only hashes of the session id and of its
    CSRF token are kept; it ends at ``expires_at``, on logout, or when the operator is
    disabled."""

    __tablename__ = "operator_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    session_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    csrf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


# --- end operators ------------------------------------------------------------------------------


# --- inbox (issue 12; inbox/store.py, migration 0010) -------------------------------------------
class InboxRow(Base):
    """One conversation that needs (or has) a person, as its workflow last reported it. No
    message text or customer details: the console reads those from the conversation."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        Index("ix_inbox_tenant_since", "tenant_id", "since"),
        Index("ix_inbox_tenant_approval", "tenant_id", "approval_id"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str | None] = mapped_column(String(16), default=None)
    since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    detail: Mapped[str | None] = mapped_column(String(200), default=None)
    held_by: Mapped[str | None] = mapped_column(String(100), default=None)
    channel: Mapped[str | None] = mapped_column(String(16), default=None)
    approval_id: Mapped[str | None] = mapped_column(String(40), default=None)
    order_id: Mapped[str | None] = mapped_column(String(40), default=None)
    approval: Mapped[str | None] = mapped_column(Text, default=None)  # InboxApproval JSON
    sla_breaches: Mapped[str] = mapped_column(String(100), default="[]")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # --- routing and watchdog (issue 14; inbox/routing_store.py, migration 0015): written by
    # the management agent, never by the conversation; cleared when a new wait begins -------
    assigned_to: Mapped[str | None] = mapped_column(String(40), default=None)  # operator id
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Everyone this wait was assigned to (JSON list of operator ids): once per operator.
    routed_to: Mapped[str] = mapped_column(Text, default="[]")
    # The watchdog sent this wait to supervisors.
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The poll that last assigned or escalated it: a retried poll finds its own work.
    routing_poll: Mapped[str | None] = mapped_column(String(64), default=None)
    # --- end routing and watchdog ---


# --- end inbox ----------------------------------------------------------------------------------


# --- channels (issue 13; channels/, tenants/channels.py, migration 0011) ------------------------
class TenantChannels(Base):
    """How a tenant is reached by email and SMS. Secrets (Mailgun signing key, Twilio auth
    token) are sealed with the app's key ring like the identity secret."""

    __tablename__ = "tenant_channels"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    # The address customers write to (lower case); the embedded SMTP server accepts it.
    support_email: Mapped[str | None] = mapped_column(String(320), unique=True, default=None)
    # The From of replies (None: support_email).
    mail_from: Mapped[str | None] = mapped_column(String(320), default=None)
    mailgun_signing_key: Mapped[str | None] = mapped_column(Text, default=None)  # sealed
    # SendGrid's signed-webhook verification key (public; base64 DER or PEM).
    sendgrid_public_key: Mapped[str | None] = mapped_column(Text, default=None)
    twilio_account_sid: Mapped[str | None] = mapped_column(String(64), default=None)
    twilio_auth_token: Mapped[str | None] = mapped_column(Text, default=None)  # sealed
    # The tenant's SMS number (E.164), which customers text.
    sms_number: Mapped[str | None] = mapped_column(String(20), unique=True, default=None)


class ChannelMessage(Base):
    """One email or SMS in or out, by the provider's id: de-duplication (Message-ID,
    MessageSid), threading (our Message-IDs a customer replies to), delivery status. No text."""

    __tablename__ = "channel_messages"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "channel", "direction", "external_id", name="uq_channel_message"
        ),
        Index("ix_channel_messages_customer", "tenant_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    channel: Mapped[str] = mapped_column(String(8))  # "email" | "sms"
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    external_id: Mapped[str] = mapped_column(String(250))
    # Out: the provider's id for it (Twilio's MessageSid), which status callbacks name.
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    customer_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # The other party (customer's email or phone): a reply to one of ours proves the mailbox.
    address: Mapped[str | None] = mapped_column(String(320), default=None)
    # in: "delivered" | "ignored:<reason>"; out: "sent" | "suppressed:<reason>" | provider's
    # delivery status ("queued", "sent", "delivered", "failed", "undelivered").
    status: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class WebhookNonce(Base):
    """A provider's one-time token seen once (Mailgun's `token`): a replay is refused."""

    __tablename__ = "webhook_nonces"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SmsConsent(Base):
    """A phone number's STOP/START, per tenant: nothing is sent to a stopped number."""

    __tablename__ = "sms_consent"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    opted_out: Mapped[bool] = mapped_column(default=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


# --- end channels -------------------------------------------------------------------------------


# --- sales (issue 14) ---------------------------------------------------------------------------


class StoreWebhookSecret(Base):
    """The secret a tenant's store signs its webhooks with (Shopify: the app's client secret;
    the demo store: set by ``up``). Sealed with the app's keyring."""

    __tablename__ = "store_webhook_secrets"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    secret: Mapped[str] = mapped_column(Text)  # sealed
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class StoreWebhookEvent(Base):
    """A store webhook seen once, by the store's event id (``X-Shopify-Webhook-Id``): a
    redelivery is acknowledged and changes nothing."""

    __tablename__ = "store_webhook_events"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    # What it did: "started:<workflow kind>", "signalled", "ignored:<reason>".
    outcome: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)


class MarketingConsent(Base):
    """Whether a store customer accepts sales messages on a channel, per tenant: granted at
    checkout, withdrawn by unsubscribing (email) or STOP (SMS, also in ``sms_consent``)."""

    __tablename__ = "marketing_consent"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    store_user_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)  # "email" | "sms"
    granted: Mapped[bool] = mapped_column(default=False)
    # "checkout", "unsubscribe", "sms_stop", "operator".
    source: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SalesTouch(Base):
    """One sales opportunity's exposure: a message sent, or held back (the experiment's
    control arm, no consent, already bought). Conversions are attributed to these."""

    __tablename__ = "sales_touches"
    __table_args__ = (Index("ix_sales_touches_customer", "tenant_id", "store_user_id", "at"),)

    touch_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    store_user_id: Mapped[str] = mapped_column(String(100))
    # "abandoned_checkout" | "post_purchase" | "retention" | "product_question"
    kind: Mapped[str] = mapped_column(String(32))
    # The checkout or order the opportunity is about.
    subject_id: Mapped[str] = mapped_column(String(100))
    experiment_id: Mapped[str | None] = mapped_column(String(40), default=None)
    arm: Mapped[str | None] = mapped_column(String(40), default=None)
    channel: Mapped[str | None] = mapped_column(String(8), default=None)
    # "sent" | "control" | "suppressed:<reason>" | "saved" | "declined"
    status: Mapped[str] = mapped_column(String(40))
    discount_code: Mapped[str | None] = mapped_column(String(64), default=None)
    workflow_id: Mapped[str] = mapped_column(String(255))
    # When the customer was assigned to it (the opportunity began): conversions count from
    # here, in every arm alike (intention to treat).
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When a message went out (None: none did).
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class SalesConversion(Base):
    """An order placed within the tenant's attribution window after a touch (the latest one
    before it): counted once per order."""

    __tablename__ = "sales_conversions"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    touch_id: Mapped[str] = mapped_column(ForeignKey("sales_touches.touch_id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- end sales ----------------------------------------------------------------------------------


# --- experiments (issue 14) ---------------------------------------------------------------------
# sales/experiments.py (the model, assignment, edit rules), sales/experiment_store.py, migration
# 0013. Touches name their experiment and arm in sales_touches (above); results count those.
class ExperimentRow(Base):
    """A tenant's A/B experiment on one sales behaviour, as its latest version."""

    __tablename__ = "experiments"
    __table_args__ = (Index("ix_experiments_tenant", "tenant_id", "created_at"),)

    experiment_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    behaviour: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # "draft" | "running" | "stopped"
    version: Mapped[int] = mapped_column(default=1)
    # Mixed into every assignment hash: two experiments never split customers alike.
    salt: Mapped[str] = mapped_column(String(64))
    arms: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    # "<tenant_id>:<behaviour>" while running, NULL otherwise: the unique index lets the
    # database itself refuse a second running experiment on one behaviour.
    running_key: Mapped[str | None] = mapped_column(String(80), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class ExperimentVersionRow(Base):
    """Each version of an experiment as it was saved: which parameters an arm had when, so
    results can say that an arm's parameters changed while it ran."""

    __tablename__ = "experiment_versions"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.experiment_id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    behaviour: Mapped[str] = mapped_column(String(32))
    arms: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    # The experiment's status when this version was saved.
    status: Mapped[str] = mapped_column(String(16))
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


# --- end experiments ----------------------------------------------------------------------------


# --- management (issue 14; management/, migration 0014) -----------------------------------------
# No foreign key to tenants on these, like the audit trail: agents' tenants need no row, and a
# tenant's figures and guards outlive its other rows.
class AgentEventRow(Base):
    """Something an agent did or saw that the management agent counts (a case closed, a
    hand-over, a refund...), once per ``event_key``. Also filled from the audit trail and the
    inbox by the management agent itself (management/collect.py). Ids and amounts only."""

    __tablename__ = "agent_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "event_key", name="uq_agent_event_key"),
        Index("ix_agent_events_tenant_id", "tenant_id", "id"),
        Index("ix_agent_events_tenant_kind_at", "tenant_id", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(40))
    event_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), default=None)
    subject: Mapped[str | None] = mapped_column(String(100), default=None)
    data: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class MetricBucketRow(Base):
    """One metric's value in one hour (UTC), as the management agent last computed it."""

    __tablename__ = "metric_buckets"

    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[float] = mapped_column()


class PolicyGuardRow(Base):
    """A tightening of a tenant's policy the management agent made on its own (a refund spike,
    a burst of store errors); active until a person lifts it. PolicyStore.get overlays the
    active ones on the tenant's policy (policy/guards.py)."""

    __tablename__ = "policy_guards"
    __table_args__ = (Index("ix_policy_guards_tenant", "tenant_id", "lifted_at"),)

    guard_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(32))  # "refund_spike" | "store_error_burst"
    effect: Mapped[str] = mapped_column(String(24))  # "require_approval" | "pause"
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    lifted_by: Mapped[str | None] = mapped_column(String(255), default=None)


class ManagementSettingsRow(Base):
    """A tenant's management agent settings (management/config.py JSON); absent: defaults."""

    __tablename__ = "management_settings"

    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now
    )


# --- end management -----------------------------------------------------------------------------


# --- routing (issue 14; inbox/routing_store.py, migration 0015) ----------------------------------
class OperatorRoutingRow(Base):
    """What routing keeps per operator: when they were last seen in the console (the inbox
    API, by a console session: at most one write a minute) and last assigned a line (round
    robin's order). Ids and times only."""

    __tablename__ = "operator_routing"

    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40), index=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


# --- end routing ---------------------------------------------------------------------------------


# --- outbound webhooks (issue 16; supportflow/webhooks, migration 0017) ---------------------------
class WebhookEndpointRow(Base):
    """The one endpoint a tenant's back end receives supportflow's webhooks at, and the secret
    they are signed with (sealed with the app's key ring; shown once when made)."""

    __tablename__ = "webhook_endpoints"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(Text)  # sealed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    secret_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class WebhookOutboxRow(Base):
    """One event for a tenant's endpoint, written in the transaction of the change it reports
    (ids only, no customer details) and sent by the dispatcher, at least once. The body is fixed
    when written, so every attempt sends the same bytes and the same event id."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_webhook_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # the JSON sent, byte for byte
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # pending (to send), delivered (a 2xx answer), failed (gave up, or the endpoint was removed)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    # Unix seconds: when the row may be sent (again). A claim moves it past the claim's lease,
    # so a dispatcher that dies mid-delivery leaves the row to be sent again after the lease.
    next_attempt_at: Mapped[float] = mapped_column(Float)
    claim: Mapped[str | None] = mapped_column(String(32), default=None)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(100), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


# --- end outbound webhooks ------------------------------------------------------------------------

"""What crosses the management workflow's boundary: its input and carried state, the poll's
batch, the guard's activities and the ``metrics`` query. Pydantic models (Temporal's pydantic
converter); fields are only ever added with defaults, so old histories keep decoding."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from supportflow.management.config import DEFAULT_CONFIG, ManagementConfig

# One workflow task's worth of polls before continue-as-new: a day at the default 5 minutes.
POLLS_PER_RUN = 288


def management_workflow_id(tenant_id: str) -> str:
    return f"management:{tenant_id}"


class Cursors(BaseModel):
    """Where the last poll stopped in each source; a poll reads only what is after them."""

    events: int = 0  # agent_events.id
    audit: int = 0  # audit_log.seq of the tenant's trail
    inbox: datetime | None = None  # inbox_items.updated_at, high-water mark


class CollectInput(BaseModel):
    tenant_id: str
    cursors: Cursors
    # Workflow time: the end of the guard's window and of what is kept (8 days back).
    until: datetime


class GuardView(BaseModel):
    guard_id: str
    tenant_id: str
    kind: str
    effect: str
    actions: list[str]
    reason: str
    created_at: datetime
    lifted_at: datetime | None = None
    lifted_by: str | None = None

    @property
    def active(self) -> bool:
        return self.lifted_at is None


class LastHour(BaseModel):
    """The guard's window: the 60 minutes to ``end``, or since the last lift of its kind."""

    end: datetime
    refunds_since: datetime
    refunds: int = 0
    refund_amount: float = 0.0
    errors_since: datetime
    store_errors: int = 0
    error_actions: list[str] = Field(default_factory=list)


class ManagementBatch(BaseModel):
    """What one poll found: counters per hour for the new events only, the new cursors, the
    guard's window, the active guards and the tenant's settings."""

    cursors: Cursors
    buckets: dict[int, dict[str, float]] = Field(default_factory=dict)
    events: int = 0
    # A source had more than one poll reads: the workflow polls again at once.
    more: bool = False
    last_hour: LastHour
    guards: list[GuardView] = Field(default_factory=list)
    config: ManagementConfig = DEFAULT_CONFIG


class BucketsWrite(BaseModel):
    tenant_id: str
    # Hour index -> counter -> value as the workflow now has it (absolute, so a retry is safe).
    buckets: dict[int, dict[str, float]]


class GuardTrip(BaseModel):
    tenant_id: str
    guard_id: str
    kind: str
    effect: str
    actions: list[str]
    reason: str
    workflow_id: str
    details: dict[str, float | int | str] = Field(default_factory=dict)


class TripResult(BaseModel):
    guard: GuardView
    # False: a guard of this kind was active already (this trip changed nothing).
    created: bool


class GuardNotice(BaseModel):
    tenant_id: str
    guard_id: str
    kind: str
    reason: str


class NoticeSent(BaseModel):
    recipients: int


def digest_schedule_id(tenant_id: str) -> str:
    return f"management-digest:{tenant_id}"


class DigestInput(BaseModel):
    """The daily digest's workflow, started by the tenant's Schedule."""

    tenant_id: str
    integrations_queue: str = "supportflow-integrations"


class DigestRequest(BaseModel):
    tenant_id: str
    # The end of the 24 hours reported (workflow time: the same on every retry).
    end: datetime


class ManagementState(BaseModel):
    """Carried through continue-as-new."""

    buckets: dict[int, dict[str, float]] = Field(default_factory=dict)
    cursors: Cursors = Field(default_factory=Cursors)
    guards: list[GuardView] = Field(default_factory=list)
    config: ManagementConfig = DEFAULT_CONFIG
    polls: int = 0
    runs: int = 0
    trips: int = 0
    events: int = 0
    last_poll_at: datetime | None = None
    # Hours whose write failed: written with the next poll's.
    unwritten: list[int] = Field(default_factory=list)


class ManagementInput(BaseModel):
    tenant_id: str
    integrations_queue: str = "supportflow-integrations"
    polls_per_run: int = Field(default=POLLS_PER_RUN, ge=1)
    state: ManagementState | None = None


class WindowFigures(BaseModel):
    """Counters summed over a window, and the rates derived from them."""

    first_hour: datetime
    last_hour: datetime
    counters: dict[str, float]
    derived: dict[str, float | None]


class MetricsView(BaseModel):
    """The ``metrics`` query: the rollup the workflow holds now."""

    tenant_id: str
    as_of: datetime
    polls: int
    runs: int
    trips: int
    events: int
    last_poll_at: datetime | None
    poll_interval_seconds: float
    windows: dict[str, WindowFigures]
    guards: list[GuardView]
    cursors: Cursors

"""Activities of the management agent (workflows/management.py): one poll's batch, the
buckets it changed, tripping a guard (its row and audit entry) and mailing supervisors.

The database calls are sync (the worker's thread pool) and run as local activities in the
agents worker: a poll is one workflow task, with no task-queue hop. The mail goes out from
the integrations queue, like the other notices to supervisors. Routing and the watchdog
(issue 14 item 4) are in their own block at the end.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from supportflow.activities.operator_mail import mail_operator
from supportflow.audit.entry import ActorKind, NewEntry
from supportflow.audit.log import append
from supportflow.db.models import Tenant
from supportflow.mail.sender import (
    MailSender,
)
from supportflow.management.batch import (
    BucketsWrite,
    CollectInput,
    DigestRequest,
    GuardNotice,
    GuardTrip,
    ManagementBatch,
    NoticeSent,
    TripResult,
)
from supportflow.management.buckets_store import write_buckets
from supportflow.management.collect import collect
from supportflow.management.digest import compose_digest
from supportflow.management.guards_store import trip
from supportflow.management.report import build_report
from supportflow.management.settings_store import get_config
from supportflow.operators.accounts import UnknownTenant, list_operators
from supportflow.operators.permissions import Role
from supportflow.settings import Settings

# The audit trail's name for the management agent (actor kind: system).
ACTOR = "management"

_SUBJECTS = {
    "refund_spike": "Refunds now need an approval: an unusual number of refunds",
    "store_error_burst": "Some store actions are paused: the store is failing",
}


class ManagementActivities:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @activity.defn(name="collect_management_batch")
    def collect_management_batch(self, inp: CollectInput) -> ManagementBatch:
        return collect(self._sessions, inp)

    @activity.defn(name="write_metric_buckets")
    def write_metric_buckets(self, inp: BucketsWrite) -> int:
        return write_buckets(self._sessions, inp.tenant_id, inp.buckets)

    @activity.defn(name="trip_guard")
    def trip_guard(self, inp: GuardTrip) -> TripResult:
        """Insert the guard (once; not while one of its kind is active) and its audit entry
        (keyed by the guard id: a retry appends none)."""
        # New now, or by an earlier attempt of this same trip: the guard carries our id.
        guard, _ = trip(
            self._sessions,
            tenant_id=inp.tenant_id,
            guard_id=inp.guard_id,
            kind=inp.kind,
            effect=inp.effect,
            actions=inp.actions,
            reason=inp.reason,
        )
        if guard.guard_id == inp.guard_id:
            info = activity.info()
            append(
                self._sessions,
                NewEntry(
                    tenant_id=inp.tenant_id,
                    actor_kind=ActorKind.SYSTEM,
                    actor_id=ACTOR,
                    action="guard.trip",
                    target=inp.guard_id,
                    details={**inp.details, "actions": sorted(inp.actions)},
                    workflow_id=info.workflow_id,
                    run_id=info.workflow_run_id,
                    idempotency_key=f"guard:{inp.guard_id}:trip",
                ),
            )
        return TripResult(guard=guard, created=guard.guard_id == inp.guard_id)


class ManagementMailActivities:
    """Mail from the management agent: a guard tripped (to the tenant's supervisors and
    admins), the daily digest (to its admins). One Message-ID per guard (per day, for the
    digest) and recipient: a retried activity, or a Schedule fired twice, mails nobody twice.
    """

    def __init__(self, sessions: sessionmaker[Session], sender: MailSender, settings: Settings):
        self._sessions = sessions
        self._sender = sender
        self._settings = settings

    @activity.defn(name="notify_guard")
    async def notify_guard(self, notice: GuardNotice) -> NoticeSent:
        try:
            everyone = await asyncio.to_thread(list_operators, self._sessions, notice.tenant_id)
        except UnknownTenant:
            return NoticeSent(recipients=0)  # no operators: nobody to tell
        chosen = [
            o for o in everyone if o.disabled_at is None and o.role in (Role.SUPERVISOR, Role.ADMIN)
        ]
        subject = _SUBJECTS.get(notice.kind, "The management agent tightened your policy")
        link = f"{self._settings.api_url}/console/metrics"
        text = (
            f"{subject}.\n\n"
            f"What it saw: {notice.reason}.\n\n"
            "It stays in force until a supervisor or an admin lifts it: open the console's "
            f"Metrics page ({link}) and choose Lift, or POST /v1/guards/{notice.guard_id}/lift.\n"
            f"Guard {notice.guard_id}.\n"
        )
        for o in chosen:
            await mail_operator(
                self._sender,
                self._settings,
                to=o.email,
                subject=subject,
                text=text,
                key=f"guard:{notice.guard_id}:{o.operator_id}",
            )
        return NoticeSent(recipients=len(chosen))

    @activity.defn(name="send_management_digest")
    async def send_management_digest(self, req: DigestRequest) -> NoticeSent:
        """The last 24 hours to ``req.end``, mailed to the tenant's admins (none when the
        tenant turned the digest off)."""
        try:
            everyone = await asyncio.to_thread(list_operators, self._sessions, req.tenant_id)
        except UnknownTenant:
            return NoticeSent(recipients=0)
        config = await asyncio.to_thread(get_config, self._sessions, req.tenant_id)
        admins = [o for o in everyone if o.disabled_at is None and o.role == Role.ADMIN]
        if not config.digest_enabled or not admins:
            return NoticeSent(recipients=0)
        report = await asyncio.to_thread(
            build_report,
            self._sessions,
            req.tenant_id,
            start=req.end - timedelta(hours=24),
            end=req.end,
            bucket="hour",
            now=req.end,
        )
        name = await asyncio.to_thread(_tenant_name, self._sessions, req.tenant_id)
        digest = compose_digest(name, report, f"{self._settings.public_url}/console/metrics")
        day = req.end.strftime("%Y-%m-%d")
        for o in admins:
            await mail_operator(
                self._sender,
                self._settings,
                to=o.email,
                subject=digest.subject,
                text=digest.text,
                html=digest.html,
                key=f"digest:{req.tenant_id}:{day}:{o.operator_id}",
            )
        return NoticeSent(recipients=len(admins))


def _tenant_name(sessions: sessionmaker[Session], tenant_id: str) -> str:
    with sessions() as s:
        tenant = s.get(Tenant, tenant_id)
        return tenant.name if tenant is not None else tenant_id

"""The management agent's routing and watchdog activities (issue 14 item 4): handed-over
conversations assigned to available operators and re-assigned at SLA risk, lines waiting too
long escalated, sales workflows running past their life reported (management/routing.py,
watchdog.py decide; inbox/routing_store.py reads and writes)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from supportflow.activities.operator_mail import mail_operator
from supportflow.audit.entry import ActorKind, NewEntry
from supportflow.audit.log import append
from supportflow.inbox import routing_store
from supportflow.mail.sender import (
    MailSender,
)
from supportflow.management.events import AgentEvent
from supportflow.management.record import record_agent_event
from supportflow.management.routing import (
    AssignedLine,
    EscalatedLine,
    RoutableLine,
    RouteInput,
    RouteResult,
    RoutingMailSent,
    RoutingNotice,
    plan_routing,
)
from supportflow.management.settings_store import get_config
from supportflow.management.watchdog import (
    SALES_WORKFLOW,
    SalesRun,
    ScanInput,
    ScanResult,
    due_for_escalation,
    overdue,
    sales_kind,
    sales_scan_query,
    scan_cutoff,
    waited,
)
from supportflow.operators.accounts import UnknownTenant, list_operators
from supportflow.operators.permissions import Role
from supportflow.policy.store import PolicyStore
from supportflow.settings import Settings

# The audit trail's name for the management agent (actor kind: system).
ACTOR = "management"

# --- routing and watchdog (issue 14 item 4; management/routing.py, watchdog.py,
# inbox/routing_store.py) ---------------------------------------------------------------------
_ASSIGN_SUBJECTS = {
    "new": "A conversation was assigned to you",
    "unavailable": "A conversation was passed on to you",
    "sla_risk": "A conversation was passed on to you: its first answer is due soon",
}
_ESCALATE_SUBJECT = "A conversation has waited too long for a person"
# Visibility pages read at most this many runs per scan (more are reported next time).
_SCAN_LIMIT = 500
# Servers that cannot answer the query (the time-skipping test server has no visibility).
_NO_VISIBILITY = frozenset(
    {RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.PERMISSION_DENIED}
)


def _instant(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ") if at is not None else "none"


def assign_key(workflow_id: str, since: datetime | None, operator_id: str) -> str:
    """One assignment: a line's wait and the operator (never twice in a wait)."""
    return f"routing:{workflow_id}:{_instant(since)}:{operator_id}"


def escalate_key(workflow_id: str, since: datetime | None) -> str:
    return f"watchdog:{workflow_id}:{_instant(since)}"


class RoutingActivities:
    """``route_inbox``: a poll's routing and inbox watchdog, one local activity of the agents
    worker (sync: a few database calls in the worker's thread pool)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @activity.defn(name="route_inbox")
    def route_inbox(self, inp: RouteInput) -> RouteResult:
        config = get_config(self._sessions, inp.tenant_id)
        policy = PolicyStore(self._sessions).get(inp.tenant_id)
        # An earlier attempt of this poll may have written before failing: its work counts.
        earlier = routing_store.done_by_poll(self._sessions, inp.tenant_id, inp.poll_ref, inp.now)
        with self._sessions() as s:
            snap = routing_store.read_lines(s, inp.tenant_id)
            candidates = routing_store.read_candidates(
                s, inp.tenant_id, snap.load, datetime.now(UTC), config.routing_presence
            )
        plan = plan_routing(
            snap.routable,
            candidates,
            mode=config.routing,
            now=inp.now,
            sla_first_response=policy.sla_first_response,
            sla_risk=config.routing_sla_risk,
        )
        versions = {line.customer_id: line.version for line in snap.routable}
        due = (
            [
                routing_store.Escalation(w.customer_id, w.workflow_id, versions[w.customer_id])
                for w in snap.watched
                if due_for_escalation(
                    w, inp.now, config.watchdog_inbox_after, policy.approval_timeout
                )
            ]
            if config.watchdog_enabled
            else []
        )
        done, escalated = routing_store.apply(
            self._sessions, inp.tenant_id, plan, due, inp.now, inp.poll_ref
        )
        lines = {line.customer_id: line for line in snap.routable}
        assigned = [
            AssignedLine(
                customer_id=w.customer_id,
                workflow_id=w.workflow_id,
                operator_id=w.assigned_to,
                previous=w.previous,
                why="new" if w.previous is None else "unavailable",
                reason=w.reason or "handoff",
                since=w.since,
            )
            for w in earlier
            if w.assigned and w.assigned_to is not None
        ]
        for a in done:
            line = lines[a.customer_id]
            assigned.append(
                AssignedLine(
                    customer_id=a.customer_id,
                    workflow_id=a.workflow_id,
                    operator_id=a.operator_id,
                    previous=a.previous,
                    why=a.why,
                    reason=_shown_reason(line),
                    since=line.since,
                    fallback=a.fallback,
                )
            )
        escalations = [
            EscalatedLine(
                customer_id=w.customer_id,
                workflow_id=w.workflow_id,
                reason=w.reason or "stuck",
                since=w.since,
                waited_seconds=int((inp.now - w.since).total_seconds()) if w.since else 0,
            )
            for w in earlier
            if w.escalated
        ]
        watched = {w.customer_id: w for w in snap.watched}
        for e in escalated:
            w = watched[e.customer_id]
            wait = waited(w, inp.now)
            escalations.append(
                EscalatedLine(
                    customer_id=e.customer_id,
                    workflow_id=e.workflow_id,
                    reason="approval" if w.approval else (w.reason or "stuck"),
                    since=w.since,
                    waited_seconds=int(wait.total_seconds()) if wait is not None else 0,
                )
            )
        for line_assigned in assigned:
            self._audit_assign(inp, line_assigned)
        for line_escalated in escalations:
            self._audit_escalate(inp, line_escalated)
        chosen = {a.customer_id for a in assigned}
        waiting = [line for line in snap.routable if line.needs_person]
        return RouteResult(
            assigned=assigned,
            escalated=escalations,
            waiting=len(waiting),
            unroutable=sum(
                1 for line in waiting if line.assigned_to is None and line.customer_id not in chosen
            )
            if config.routing != "off"
            else 0,
        )

    def _audit_assign(self, inp: RouteInput, a: AssignedLine) -> None:
        append(
            self._sessions,
            NewEntry(
                tenant_id=inp.tenant_id,
                actor_kind=ActorKind.SYSTEM,
                actor_id=ACTOR,
                action="inbox.assign",
                target=a.customer_id,
                details={
                    "operator_id": a.operator_id,
                    "previous": a.previous,
                    "why": a.why,
                    "reason": a.reason,
                    "fallback": a.fallback,
                },
                workflow_id=a.workflow_id,
                idempotency_key=assign_key(a.workflow_id, a.since, a.operator_id),
            ),
        )

    def _audit_escalate(self, inp: RouteInput, e: EscalatedLine) -> None:
        append(
            self._sessions,
            NewEntry(
                tenant_id=inp.tenant_id,
                actor_kind=ActorKind.SYSTEM,
                actor_id=ACTOR,
                action="inbox.escalate",
                target=e.customer_id,
                details={"reason": e.reason, "waited_seconds": e.waited_seconds},
                workflow_id=e.workflow_id,
                idempotency_key=escalate_key(e.workflow_id, e.since),
            ),
        )


def _shown_reason(line: RoutableLine) -> str:
    return "approval" if line.approval else (line.reason or "handoff")


class RoutingMailActivities:
    """On the integrations queue: mail for a poll's assignments (to each operator) and
    escalations (to supervisors and admins), and the watchdog's look at running workflows
    through Temporal visibility (with this worker's client)."""

    def __init__(self, sessions: sessionmaker[Session], sender: MailSender, settings: Settings):
        self._sessions = sessions
        self._sender = sender
        self._settings = settings

    @activity.defn(name="notify_routing")
    async def notify_routing(self, notice: RoutingNotice) -> RoutingMailSent:
        """One mail per assignment to its operator and per escalation to each supervisor and
        admin. Message-IDs come from the line's wait and the recipient: a retry, or the same
        assignment reported twice, mails nobody twice."""
        try:
            everyone = await asyncio.to_thread(list_operators, self._sessions, notice.tenant_id)
        except UnknownTenant:
            return RoutingMailSent()
        by_id = {o.operator_id: o for o in everyone if o.disabled_at is None}
        supervisors = [o for o in by_id.values() if o.role in (Role.SUPERVISOR, Role.ADMIN)]
        sent = RoutingMailSent()
        for a in notice.assigned:
            person = by_id.get(a.operator_id)
            if person is None:
                continue  # disabled since: the next poll routes the line again
            subject = _ASSIGN_SUBJECTS[a.why]
            link = f"{self._settings.api_url}/console/conversations/{a.customer_id}"
            text = (
                f"{subject}.\n\n"
                f"Conversation {a.customer_id} ({a.reason}) waits for a person"
                + (f" since {a.since:%Y-%m-%d %H:%M} UTC" if a.since else "")
                + ".\n"
                f"Open it in the console and claim it to answer: {link}\n"
                "Assigned by the management agent; anyone may claim it.\n"
            )
            await self._send(
                person.email, subject, text, assign_key(a.workflow_id, a.since, a.operator_id)
            )
            sent.operators += 1
        for e in notice.escalated:
            link = f"{self._settings.api_url}/console/conversations/{e.customer_id}"
            text = (
                f"{_ESCALATE_SUBJECT}.\n\n"
                f"Conversation {e.customer_id} ({e.reason}) has waited "
                f"{e.waited_seconds // 60} minutes and nobody holds it.\n"
                f"Open it in the console: {link}\n"
            )
            for o in supervisors:
                key = f"{escalate_key(e.workflow_id, e.since)}:{o.operator_id}"
                await self._send(o.email, _ESCALATE_SUBJECT, text, key)
                sent.supervisors += 1
        return sent

    async def _send(self, to: str, subject: str, text: str, key: str) -> None:
        await mail_operator(
            self._sender, self._settings, to=to, subject=subject, text=text, key=key
        )

    @activity.defn(name="scan_stuck_workflows")
    async def scan_stuck_workflows(self, inp: ScanInput) -> ScanResult:
        """The tenant's SalesAgentWorkflow runs still running past their expected life
        (management/watchdog.py): each reported once (an agent event counted as ``stuck``,
        and an audit entry), never terminated."""
        policy = await asyncio.to_thread(PolicyStore(self._sessions).get, inp.tenant_id)
        query = sales_scan_query(inp.tenant_id, scan_cutoff(policy.sales, inp.now))
        runs: list[SalesRun] = []
        try:
            async for wf in activity.client().list_workflows(query, limit=_SCAN_LIMIT):
                kind = sales_kind(wf.id, inp.tenant_id)
                if kind is not None:
                    runs.append(SalesRun(wf.id, wf.run_id, kind, wf.start_time))
        except RPCError as err:
            if err.status in _NO_VISIBILITY:
                # A server without (this kind of) visibility: asking again will not help.
                raise ApplicationError(
                    f"visibility query refused: {err.status.name}",
                    type="VisibilityUnavailable",
                    non_retryable=True,
                ) from err
            raise
        stuck = [r for r in runs if overdue(r, policy.sales, inp.now)]
        new = 0
        for r in stuck:
            if await asyncio.to_thread(self._report, inp, r):
                new += 1
        if stuck:
            activity.logger.warning("%d sales workflows past their expected life", len(stuck))
        return ScanResult(stuck=len(stuck), new=new, workflow_ids=[r.workflow_id for r in stuck])

    def _report(self, inp: ScanInput, run: SalesRun) -> bool:
        """Record one stuck run (once: keyed by its run id); whether it was new."""
        key = stuck_workflow_key(run.workflow_id, run.run_id)
        new = record_agent_event(
            self._sessions,
            AgentEvent(
                tenant_id=inp.tenant_id,
                event_key=key,
                kind="stuck_workflow",
                at=inp.now,
                data={"workflow_type": SALES_WORKFLOW, "kind": run.kind},
            ),
        )
        age = inp.now - run.started_at
        append(
            self._sessions,
            NewEntry(
                tenant_id=inp.tenant_id,
                actor_kind=ActorKind.SYSTEM,
                actor_id=ACTOR,
                action="watchdog.stuck_workflow",
                target=_safe_target(run.workflow_id),
                details={
                    "workflow_type": SALES_WORKFLOW,
                    "run_id": run.run_id,
                    "kind": run.kind,
                    "age_hours": round(age.total_seconds() / 3600, 1),
                },
                workflow_id=run.workflow_id,
                run_id=run.run_id,
                idempotency_key=key,
            ),
        )
        return new


def stuck_workflow_key(workflow_id: str, run_id: str) -> str:
    key = f"stuck_workflow:{workflow_id}:{run_id}"
    if len(key) <= 200 and _EVENT_KEY.match(key):
        return key
    return f"stuck_workflow:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _safe_target(workflow_id: str) -> str:
    if _TARGET.match(workflow_id):
        return workflow_id
    return "sha256:" + hashlib.sha256(workflow_id.encode()).hexdigest()


_EVENT_KEY = re.compile(r"^[A-Za-z0-9_#:.+\-/@=]{1,200}$")
_TARGET = re.compile(r"^[A-Za-z0-9_#:.+\-/]{1,255}$")
# --- end routing and watchdog -------------------------------------------------------------------

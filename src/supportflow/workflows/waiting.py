"""The run loop's waits: a case the customer stopped answering, and idle conversations.

One durable timer per wait (runs with local reads): the timer runs to the deadline of when the
wait began; a customer who answered in the meantime moved the deadline on, so when it fires
early the loop sleeps the rest. Turns therefore start no timers of their own (each would be a
billable action).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.ai import AiActivities
    from supportflow.activities.contract import ComposeInput
    from supportflow.procedures.base import deadline, on_timeout
    from supportflow.workflows.contract import Channel, TranscriptEntry
    from supportflow.workflows.conversation import ConversationBase


class Waiting(ConversationBase):
    async def _serve(self) -> bool:
        """Serve until history needs continue-as-new, closing cases nobody answered. Returns
        True when a never-verified conversation has been idle long enough to end."""
        while not self._should_continue_as_new():
            due = self._due()
            if due is None and self._idle_applies():
                if await self._idle_for_long():
                    return True
                continue
            if due is None:
                await workflow.wait_condition(
                    lambda: (
                        self._should_continue_as_new()
                        or self._due() is not None
                        or self._idle_applies()
                    )
                )
                continue
            try:
                await workflow.wait_condition(
                    self._wait_over(due),
                    timeout=max(timedelta(0), due - workflow.now()),
                )
            except TimeoutError:
                now_due = self._due()
                if now_due is not None and now_due <= workflow.now():
                    if self._version.people:
                        await self._fire_people_dues()
                    else:
                        await self._close_unanswered_case()
        return False

    def _due(self) -> datetime | None:
        """The earliest thing the run waits for: before PATCH_PEOPLE, only the deadline of a
        case waiting for the customer; from it on, approvals, retries and SLAs too."""
        if not self._version.people:
            return deadline(self._s.case, self._policy)
        dues = self._people_dues()
        return min(when for when, _ in dues) if dues else None

    def _idle_applies(self) -> bool:
        """Whether the idle timer runs: trust runs, after the first turn (so a verified
        customer's first message never starts one), while nobody is verified."""
        return self._trust and self._s.turns > 0 and self._idle_may_end()

    def _idle_may_end(self) -> bool:
        case = self._s.case
        return (
            self._s.verification is None
            and (case is None or not case.is_open)
            and not self._in_flight
        )

    def _last_activity(self) -> datetime:
        if self._s.transcript:
            return self._s.transcript[-1].at
        return workflow.info().start_time

    async def _idle_for_long(self) -> bool:
        """One timer to the end of the idle window; a turn in the meantime moves the window on,
        and the loop sleeps the rest (no timer per turn)."""
        until = self._last_activity() + self._inp.unverified_idle
        try:
            await workflow.wait_condition(
                lambda: (
                    self._should_continue_as_new()
                    or not self._idle_may_end()
                    or self._due() is not None
                ),
                timeout=max(timedelta(0), until - workflow.now()),
            )
        except TimeoutError:
            return (
                self._idle_may_end()
                and self._last_activity() + self._inp.unverified_idle <= workflow.now()
            )
        return False

    def _wait_over(self, due: datetime) -> Callable[[], bool]:
        """Wake when history needs continue-as-new, the case stopped waiting, or it now waits
        with a deadline earlier than `due` (a new case with a shorter timeout)."""

        def over() -> bool:
            now_due = self._due()
            return self._should_continue_as_new() or now_due is None or now_due < due

        return over

    async def _close_unanswered_case(self) -> None:
        """The customer never answered the agent's question: close the case politely, with
        nothing done, and leave the goodbye in the conversation."""
        async with self._turn_lock:
            case = self._s.case
            due = deadline(case, self._policy)
            if case is None or due is None or due > workflow.now():
                return  # a turn moved the case on while we waited for the lock
            r = on_timeout(case)
            before = {c.case_id: c.status for c in self._s.cases}
            route = self._route_to(self._latest_sender())
            composed = await self._calls.ai(
                AiActivities.compose_reply,
                ComposeInput(
                    tenant_id=self._inp.tenant_id,
                    template=r.template or "case_timed_out",
                    facts=dict(r.facts),
                    channel=route.channel.value if route is not None else None,
                ),
            )
            last_channel = next(
                (e.channel for e in reversed(self._s.transcript) if e.role == "customer"),
                Channel.CHAT,
            )
            goodbye = TranscriptEntry(
                role="agent",
                channel=last_channel,
                message_id=f"timeout:{case.case_id}",
                text=composed.text,
                at=workflow.now(),
                intent=case.intent,
            )
            self._s.transcript.append(goodbye)
            if self._version.sales:
                # Closed for the record before the send, in the goodbye's workflow task.
                if r.state is not None:
                    self._s.case = r.state
                    self._track_case(r.state)
                await self._record_outcomes(before)
            # channels-v1: by email or SMS too, when that is how the customer last wrote.
            await self._deliver_out(goodbye, route)
            if r.state is not None and not self._version.sales:
                self._s.case = r.state
                self._track_case(r.state)
            self._s.awaiting = None
            # The customer went away: requests queued behind this one are not taken up later
            # out of the blue (they can ask again).
            self._s.queued = []

"""What a turn settled, recorded at its end (sales-v1 runs), inside CustomerWorkflow.

The management agent counts closed cases, ratings and saves (management/events.py); the
sales record keeps a retention offer's answer as a touch (sales_touches). A turn that closed
a case, took a rating or had an offer answered records them with one local activity
(activities/outcomes.py), in the workflow task of its reply, so it adds no billable action;
a turn that settled nothing calls nothing. A failure to record is logged and the
conversation goes on: the customer's answer never waits on the figures.

This is a mixin: CustomerWorkflow supplies the turn (customer.py) and the timeout (waiting.py)
that call ``_record_outcomes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, cast

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.outcomes import ClosedCase, OutcomeActivities, TurnOutcomes
    from supportflow.workflows.calls import GAVE_UP
    from supportflow.workflows.contract import Case
    from supportflow.workflows.conversation import ConversationBase

Closed = Literal["resolved", "escalated", "abandoned"]


class Outcomes(ConversationBase):
    def _closed_since(self, before: Mapping[str, str]) -> list[Case]:
        """Cases that were open (or did not exist) at ``before`` and are closed now."""
        return [
            c
            for c in self._s.cases
            if c.status != "open" and before.get(c.case_id, "open") == "open"
        ]

    async def _record_outcomes(self, before: Mapping[str, str], *, by_person: bool = False) -> None:
        closed = self._closed_since(before)
        rating, retention = self._rating, self._retention_answer
        self._rating = self._retention_answer = None
        trials, self._retention_closed = self._retention_closed, []
        if not closed and rating is None and retention is None and not trials:
            return  # nothing settled: no activity
        try:
            await self._calls.ai(
                OutcomeActivities.record_turn_outcomes,
                TurnOutcomes(
                    tenant_id=self._inp.tenant_id,
                    workflow_id=workflow.info().workflow_id,
                    store_user_id=self._s.store_user_id,
                    at=workflow.now(),
                    closed=[
                        ClosedCase(
                            case_id=c.case_id,
                            outcome=cast(Closed, c.status),
                            intent=c.intent,
                            by_person=by_person,
                        )
                        for c in closed
                    ],
                    rating=rating,
                    retention=retention,
                    retention_closed=trials,
                ),
            )
        except GAVE_UP as err:
            workflow.logger.warning("turn outcomes not recorded: %s", type(err).__name__)

"""A retention offer inside the tenant's retention experiment (sales-agent-v1 runs): which
arm the customer is in, recorded when the offer would be made.

Called by CustomerWorkflow at the moment a cancel case would make its retention offer. With
no retention experiment running it records nothing and the tenant's own offer is made (the
answer is recorded as before, activities/outcomes.py). With one running, the customer's arm
(``sales.experiments.assign``: a pure function of the experiment's salt and the store
customer's id) is recorded as a sales touch whose id is the case's (the same id the answer
and the case's end update), and returned: the workflow makes that arm's offer, or none.

A local activity in the agents worker (no store call, one database write); idempotent: the
touch is written once, so a retried activity returns the same arm.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from supportflow.activities.outcomes import event_key
from supportflow.sales import touches
from supportflow.sales.experiment_store import running_experiment
from supportflow.sales.experiments import assign

log = logging.getLogger(__name__)


class RetentionArmInput(BaseModel):
    tenant_id: str
    store_user_id: str = Field(min_length=1)
    workflow_id: str
    case_id: str
    order_id: str
    # When the offer would be made (the workflow's clock): the touch's exposure.
    at: datetime


class RetentionArm(BaseModel):
    """The arm, or none (no experiment running: the tenant's own offer)."""

    experiment_id: str | None = None
    experiment_version: int | None = None
    arm: str | None = None
    # "none": no offer at all (a control or hold-out arm).
    offer: Literal["none", "discount", "free_shipping", "exchange"] = "none"
    percent: int | None = None


def trial_touch_id(case_id: str) -> str:
    """The touch of a cancel case's retention offer (the answer and the end use it too)."""
    return event_key("retention", case_id)


class RetentionArmActivities:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @activity.defn(name="assign_retention_arm")
    def assign_retention_arm(self, inp: RetentionArmInput) -> RetentionArm:
        experiment = running_experiment(self._sessions, inp.tenant_id, "retention")
        if experiment is None:
            return RetentionArm()
        arm = assign(experiment, inp.store_user_id)
        try:
            touches.open_touch(
                self._sessions,
                touch_id=trial_touch_id(inp.case_id),
                tenant_id=inp.tenant_id,
                store_user_id=inp.store_user_id,
                kind="retention",
                subject_id=inp.order_id[:100],
                workflow_id=inp.workflow_id[:255],
                at=inp.at,
                experiment_id=experiment.experiment_id,
                arm=arm.name,
            )
        except IntegrityError:
            log.warning("retention arm not recorded: unknown tenant %s", inp.tenant_id)
            return RetentionArm()
        params = arm.params
        offer = params.offer if params.send else "none"
        return RetentionArm(
            experiment_id=experiment.experiment_id,
            experiment_version=experiment.version,
            arm=arm.name,
            offer=offer,
            percent=params.discount_percent if offer == "discount" else None,
        )

"""The management agent's side for people (issue 14): the tenant's figures over time, the
guards it put on the policy (and lifting them), and its settings.

Any operator of the tenant (or its API key) reads figures and guards; lifting a guard takes a
supervisor or an admin (or the API key); changing the settings, the edit_policy permission.
Only the caller's tenant is ever read or changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from supportflow.api.audit_trail import audit_change
from supportflow.api.deps import CanEditPolicy, StateDep, TenantReader
from supportflow.api.schemas import Problem
from supportflow.management.batch import GuardView
from supportflow.management.config import ConfigError
from supportflow.management.guards_store import AlreadyLifted, UnknownGuard, lift, list_guards
from supportflow.management.report import Granularity, MetricsReport, RangeError, build_report
from supportflow.management.settings_store import get_config, put_config
from supportflow.operators.permissions import Role

router = APIRouter(tags=["metrics"])

GUARD_ID = r"^gd_[0-9a-f]{24}$"
_RANGE: dict[int | str, dict[str, Any]] = {
    422: {"model": Problem, "description": "The range is reversed or too long."}
}


@router.get("/v1/metrics", response_model=MetricsReport, responses=_RANGE)
async def metrics(
    who: TenantReader,
    state: StateDep,
    start: Annotated[
        datetime | None,
        Query(alias="from", description="From this time (ISO 8601; UTC when no offset)."),
    ] = None,
    end: Annotated[
        datetime | None, Query(alias="to", description="Until this time (exclusive).")
    ] = None,
    bucket: Granularity = "hour",
) -> MetricsReport:
    """Totals and a time series per hour or day (UTC) of the tenant's figures: cases closed
    and the automation rate, hand-overs, SLA breaches, refunds and their total, store errors,
    sales touches, conversions, saves, CSAT; conversions per experiment arm with a 95% Wilson
    interval; and the guards. Defaults: the last 7 days by hour, the last 30 by day."""
    try:
        return await run_in_threadpool(
            lambda: build_report(state.sessions, who.tenant_id, start=start, end=end, bucket=bucket)
        )
    except RangeError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    except (OverflowError, ValueError) as err:
        # A time so far off that its hours cannot be counted (year 1, year 9999).
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "from and to must be ordinary dates"
        ) from err


class GuardsOut(BaseModel):
    guards: list[GuardView]


@router.get("/v1/guards", response_model=GuardsOut)
async def guards(
    who: TenantReader, state: StateDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> GuardsOut:
    """The guards the management agent put on the policy: active ones first, then lifted."""
    found = await run_in_threadpool(list_guards, state.sessions, who.tenant_id, limit=limit)
    return GuardsOut(guards=found)


@router.post(
    "/v1/guards/{guard_id}/lift",
    response_model=GuardView,
    responses={
        403: {"model": Problem, "description": "Only supervisors and admins lift guards."},
        404: {"model": Problem},
        409: {"model": Problem, "description": "Already lifted; nothing changed."},
    },
)
async def lift_guard(
    guard_id: Annotated[str, Path(pattern=GUARD_ID)], who: TenantReader, state: StateDep
) -> GuardView:
    """Lift a guard: the tenant's policy is as written again for every decision from now on.
    The agent counts only what happens after the lift towards its next trip."""
    if who.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"your role ({who.role}) cannot lift a guard; ask a supervisor",
        )
    try:
        lifted = await run_in_threadpool(lift, state.sessions, who.tenant_id, guard_id, who.actor)
    except UnknownGuard as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such guard") from err
    except AlreadyLifted as err:
        raise HTTPException(status.HTTP_409_CONFLICT, "this guard was lifted already") from err
    await audit_change(
        state,
        who,
        "guard.lift",
        target=guard_id,
        details={"kind": lifted.kind, "effect": lifted.effect},
    )
    return lifted


@router.get("/v1/management/settings")
async def get_settings(who: TenantReader, state: StateDep) -> dict[str, Any]:
    """How often the management agent looks, and when its guard trips (docs/management.md)."""
    config = await run_in_threadpool(get_config, state.sessions, who.tenant_id)
    return config.model_dump(mode="json")


@router.put("/v1/management/settings")
async def put_settings(
    who: CanEditPolicy, state: StateDep, doc: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Replace the settings; the agent follows them from its next poll."""
    try:
        config = await run_in_threadpool(put_config, state.sessions, who.tenant_id, doc)
    except ConfigError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    await audit_change(state, who, "management.settings_update", target=who.tenant_id)
    return config.model_dump(mode="json")

"""A tenant's A/B experiments on sales behaviours: create a draft, edit, start, stop, and read
the results with their intervals. The API key or any operator of the tenant reads; changes
need the edit_policy permission (an arm can give money away as a discount), and each change
is written to the audit trail. Another tenant's experiment is never visible: its id is simply
not found."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from supportflow.api.audit_trail import audit_change
from supportflow.api.deps import CanEditPolicy, StateDep, TenantReader
from supportflow.api.state import ApiState
from supportflow.operators.principal import Principal
from supportflow.sales.experiment_results import ExperimentResults
from supportflow.sales.experiment_store import (
    ExperimentNotFound,
    ExperimentStore,
    experiment_results,
)
from supportflow.sales.experiments import (
    MAX_ARMS,
    MAX_NAME_CHARS,
    MIN_ARMS,
    Arm,
    Behaviour,
    EditRefused,
    Experiment,
    InvalidExperiment,
    Status,
)

router = APIRouter(tags=["experiments"])

ExperimentId = Annotated[str, Path(pattern=r"^exp_[0-9a-f]{16}$")]


class ExperimentIn(BaseModel):
    """A new experiment (a draft until started). The first arm is the control."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    behaviour: Behaviour
    arms: list[Arm] = Field(min_length=MIN_ARMS, max_length=MAX_ARMS)


class ExperimentPatch(BaseModel):
    """Only the fields given change; ``arms`` replaces the list. While running, only the name
    and the arms' params may change (same arms, same order, same weights). ``version``: the
    version the change was made against; another one gets a 409."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_CHARS)
    behaviour: Behaviour | None = None
    arms: list[Arm] | None = Field(default=None, min_length=MIN_ARMS, max_length=MAX_ARMS)
    version: int | None = Field(default=None, ge=1)


class ExperimentOut(BaseModel):
    experiment_id: str
    name: str
    behaviour: Behaviour
    status: Status
    version: int
    arms: list[Arm]
    created_at: datetime | None
    updated_at: datetime | None
    started_at: datetime | None
    stopped_at: datetime | None


class ExperimentList(BaseModel):
    experiments: list[ExperimentOut]


def _out(e: Experiment) -> ExperimentOut:
    # The salt stays inside: it would let anyone work out which arm a customer gets.
    return ExperimentOut(
        experiment_id=e.experiment_id,
        name=e.name,
        behaviour=e.behaviour,
        status=e.status,
        version=e.version,
        arms=list(e.arms),
        created_at=e.created_at,
        updated_at=e.updated_at,
        started_at=e.started_at,
        stopped_at=e.stopped_at,
    )


def _not_found(err: ExperimentNotFound) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, str(err))


def _refused(err: EditRefused) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, str(err))


def _invalid(err: InvalidExperiment) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err))


@router.get("/v1/experiments", response_model=ExperimentList)
async def list_experiments(who: TenantReader, state: StateDep) -> ExperimentList:
    found = await run_in_threadpool(ExperimentStore(state.sessions).of_tenant, who.tenant_id)
    return ExperimentList(experiments=[_out(e) for e in found])


@router.post("/v1/experiments", response_model=ExperimentOut, status_code=status.HTTP_201_CREATED)
async def create_experiment(
    body: ExperimentIn, who: CanEditPolicy, state: StateDep, response: Response
) -> ExperimentOut:
    try:
        made = await run_in_threadpool(
            ExperimentStore(state.sessions).create,
            who.tenant_id,
            body.name,
            body.behaviour,
            body.arms,
        )
    except InvalidExperiment as err:
        raise _invalid(err) from err
    await audit_change(
        state,
        who,
        "experiment.create",
        target=made.experiment_id,
        details={"behaviour": made.behaviour, "arms": len(made.arms), "version": made.version},
    )
    response.headers["Location"] = f"/v1/experiments/{made.experiment_id}"
    return _out(made)


@router.get("/v1/experiments/{experiment_id}", response_model=ExperimentOut)
async def get_experiment(
    experiment_id: ExperimentId, who: TenantReader, state: StateDep
) -> ExperimentOut:
    try:
        found = await run_in_threadpool(
            ExperimentStore(state.sessions).get, who.tenant_id, experiment_id
        )
    except ExperimentNotFound as err:
        raise _not_found(err) from err
    return _out(found)


@router.patch("/v1/experiments/{experiment_id}", response_model=ExperimentOut)
async def edit_experiment(
    experiment_id: ExperimentId, body: ExperimentPatch, who: CanEditPolicy, state: StateDep
) -> ExperimentOut:
    change = body.model_dump(exclude_unset=True, exclude={"version"})

    def run() -> tuple[Experiment, list[str]]:
        return ExperimentStore(state.sessions).edit(
            who.tenant_id, experiment_id, change, expected_version=body.version
        )

    try:
        after, changed = await run_in_threadpool(run)
    except ExperimentNotFound as err:
        raise _not_found(err) from err
    except InvalidExperiment as err:
        raise _invalid(err) from err
    except EditRefused as err:
        raise _refused(err) from err
    if changed:
        await audit_change(
            state,
            who,
            "experiment.update",
            target=experiment_id,
            details={"version": after.version, "changed": changed, "status": after.status},
        )
    return _out(after)


@router.post("/v1/experiments/{experiment_id}/start", response_model=ExperimentOut)
async def start_experiment(
    experiment_id: ExperimentId, who: CanEditPolicy, state: StateDep
) -> ExperimentOut:
    """Assign from now. 409 when another experiment runs on the same behaviour, or this one
    is not a draft."""
    return await _transition(state, who, experiment_id, "start")


@router.post("/v1/experiments/{experiment_id}/stop", response_model=ExperimentOut)
async def stop_experiment(
    experiment_id: ExperimentId, who: CanEditPolicy, state: StateDep
) -> ExperimentOut:
    """No new assignments from now; what was recorded stays counted."""
    return await _transition(state, who, experiment_id, "stop")


async def _transition(
    state: ApiState, who: Principal, experiment_id: str, step: Literal["start", "stop"]
) -> ExperimentOut:
    store = ExperimentStore(state.sessions)
    change = store.start if step == "start" else store.stop
    try:
        after = await run_in_threadpool(change, who.tenant_id, experiment_id)
    except ExperimentNotFound as err:
        raise _not_found(err) from err
    except EditRefused as err:
        raise _refused(err) from err
    await audit_change(
        state,
        who,
        f"experiment.{step}",
        target=experiment_id,
        details={"behaviour": after.behaviour, "version": after.version},
    )
    return _out(after)


@router.get("/v1/experiments/{experiment_id}/results", response_model=ExperimentResults)
async def get_results(
    experiment_id: ExperimentId,
    who: TenantReader,
    state: StateDep,
    confidence: Annotated[float, Query(ge=0.5, le=0.999)] = 0.95,
) -> ExperimentResults:
    """Per arm: exposures (intention to treat), conversions, the rate with its Wilson
    interval, revenue per exposure; each arm against the first (control) as a difference
    with Newcombe's interval and a relative uplift with its MOVER-R interval. ``model`` names
    the method beside the figures."""

    def run() -> ExperimentResults:
        return experiment_results(
            state.sessions, who.tenant_id, experiment_id, confidence=confidence
        )

    try:
        return await run_in_threadpool(run)
    except ExperimentNotFound as err:
        raise _not_found(err) from err

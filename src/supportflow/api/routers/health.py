"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from supportflow.api.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(state: StateDep) -> dict[str, str | int | None]:
    await state.temporal.service_client.check_health()
    # Not a failure when 0 (workers may be starting, or scaled to none on purpose): how many
    # workers Temporal saw polling the agents task queue lately, None when it cannot say.
    pollers = await state.agent_pollers().count()
    return {"status": "ok", "agents_queue_pollers": pollers}

"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from supportflow.api.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(state: StateDep) -> dict[str, str]:
    await state.temporal.service_client.check_health()
    return {"status": "ok"}

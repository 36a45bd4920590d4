"""Fault settings and the per-request decision: latency, random errors/timeouts, named faults.

A fault on a write lands either before the write is applied ("before": nothing changed) or
after it is committed ("after": the change is durable but the caller sees a failure), the case
that retries with idempotency keys exist for. A timeout stalls instead of answering. The
middleware in ``fault_middleware`` carries the decisions out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Phase = Literal["before", "after"]
Kind = Literal["fail", "timeout"]
FaultMode = Literal["fail_before", "fail_after", "timeout_before", "timeout_after"]
_MODES: dict[FaultMode, tuple[Kind, Phase]] = {
    "fail_before": ("fail", "before"),
    "fail_after": ("fail", "after"),
    "timeout_before": ("timeout", "before"),
    "timeout_after": ("timeout", "after"),
}


# Route names of the faultable endpoints; a test keeps this list in step with the routers.
OPERATIONS = frozenset(
    {
        "get_user",
        "find_users",
        "modify_user_address",
        "get_order",
        "get_hold",
        "cancel",
        "modify_address",
        "modify_payment",
        "modify_items",
        "return",
        "exchange",
        "hold",
        "release",
        "refund",
        "get_product",
        "list_products",
        # sales (issue 14)
        "create_checkout",
        "get_checkout",
        "complete_checkout",
        "create_discount_code",
        "get_discount_code",
        "deliver",
    }
)


class OperationFault(BaseModel):
    """Fault a named operation (the route name, e.g. "cancel", "get_order")."""

    model_config = ConfigDict(extra="forbid")

    mode: FaultMode = "fail_before"
    # How many calls to fault; None means every call.
    times: int | None = Field(default=None, ge=1)
    status_code: int = Field(default=503, ge=400, le=599)


class FaultSettings(BaseModel):
    """Everything the store can do wrong. The defaults do nothing wrong."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0, ge=0, le=60_000)
    latency_jitter_ms: float = Field(default=0, ge=0, le=60_000)
    error_rate: float = Field(default=0, ge=0, le=1)
    timeout_rate: float = Field(default=0, ge=0, le=1)
    # Whether random errors and timeouts land before the handler runs or after it committed.
    phase: Phase = "before"
    # How long a timeout stalls (unless the caller hangs up first); set it above their timeout.
    timeout_seconds: float = Field(default=30, gt=0, le=600)
    status_code: int = Field(default=503, ge=400, le=599)
    # Seeds the RNG behind rates and jitter, so a faulty run can be repeated exactly.
    seed: int | None = None
    operations: dict[str, OperationFault] = Field(default_factory=dict)

    @field_validator("operations")
    @classmethod
    def _known_operations(cls, value: dict[str, OperationFault]) -> dict[str, OperationFault]:
        # A misspelt name would otherwise fault nothing, silently.
        unknown = sorted(set(value) - OPERATIONS)
        if unknown:
            raise ValueError(f"unknown operations {unknown}; known: {sorted(OPERATIONS)}")
        return value


@dataclass(frozen=True)
class FaultPlan:
    delay_s: float
    kind: Kind | None = None
    phase: Phase = "before"
    status_code: int = 503
    stall_s: float = 0.0


class FaultInjector:
    """Decides, per request, which fault to inject. Used from the event loop only."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        """Replace the settings; named-fault counters and the RNG start afresh."""
        self.settings = settings
        self._rng = random.Random(settings.seed)
        self._remaining = {name: f.times for name, f in settings.operations.items()}
        self.injected: dict[str, int] = {}

    def state(self) -> dict[str, Any]:
        return {
            "settings": self.settings.model_dump(mode="json"),
            "remaining": dict(self._remaining),
            "injected": dict(self.injected),
        }

    def plan(self, operation: str) -> FaultPlan:
        s = self.settings
        delay = s.latency_ms / 1000
        if s.latency_jitter_ms:
            delay += self._rng.uniform(0, s.latency_jitter_ms) / 1000
        named = self._named(operation)
        if named is not None:
            kind, phase = _MODES[named.mode]
            plan = FaultPlan(delay, kind, phase, named.status_code, s.timeout_seconds)
            return self._count(operation, plan)
        roll = self._rng.random()
        if roll < s.timeout_rate:
            return self._count(
                operation, FaultPlan(delay, "timeout", s.phase, s.status_code, s.timeout_seconds)
            )
        if roll < s.timeout_rate + s.error_rate:
            return self._count(operation, FaultPlan(delay, "fail", s.phase, s.status_code))
        return FaultPlan(delay)

    def _named(self, operation: str) -> OperationFault | None:
        fault = self.settings.operations.get(operation)
        if fault is None:
            return None
        remaining = self._remaining.get(operation)
        if remaining is None:
            return fault
        if remaining <= 0:
            return None
        self._remaining[operation] = remaining - 1
        return fault

    def _count(self, operation: str, plan: FaultPlan) -> FaultPlan:
        label = f"{operation}:{plan.kind}_{plan.phase}"
        self.injected[label] = self.injected.get(label, 0) + 1
        return plan

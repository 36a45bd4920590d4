"""A tiny saga runner for workflow code: run steps in order; when one fails for good, undo
the finished ones in reverse. Deterministic (no clock, no randomness), so it replays.

Transient failures are the executor's business (Temporal retries the activity with backoff);
the executor reports what is left once it gives up:

- ``rejected``: the store refused, and a refusal changes nothing (the store validates before
  writing, in one transaction);
- ``unavailable``: the store stayed unreachable; the write may or may not have landed. Before
  the pivot its own compensation runs too, which is why compensations must be no-ops when
  their step never applied (the store's ``release`` is).

A pivot step is irreversible: once it succeeded (or may have: unavailable), the saga only goes
forward. An unreachable store there *interrupts* it: run the same steps again later with the
same keys, and finished steps replay instead of applying twice. A rejection past the pivot
leaves it ``stuck``: a person must finish it. Every compensation carries its
own idempotency key (the executor derives it from the step name), so replays never double it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from supportflow.procedures.case import ActionStep

# A compensation step is named after the step it undoes plus this suffix; its idempotency key
# is therefore its own, and the undone step's key can be derived from it.
UNDO_SUFFIX = ".undo"


class ActionResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: Literal["ok", "rejected", "unavailable"]
    detail: str = ""
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class SagaOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    # completed: every step applied. compensated: nothing is left changed. interrupted: the
    # store stopped answering at or after the pivot; run the same plan again later (same
    # keys: finished steps replay, the rest apply). stuck: something could not be undone or
    # finished; a person must look.
    status: Literal["completed", "compensated", "interrupted", "stuck"]
    completed: list[str] = Field(default_factory=list)
    compensated: list[str] = Field(default_factory=list)
    failed_step: str | None = None
    failure: ActionResult | None = None
    compensation_failures: list[str] = Field(default_factory=list)


Execute = Callable[[ActionStep], Awaitable[ActionResult]]


def undo_step(step: ActionStep) -> ActionStep | None:
    """The compensation of ``step``, named after it so its idempotency key is its own."""
    if step.compensation is None:
        return None
    return step.compensation.model_copy(update={"name": f"{step.name}{UNDO_SUFFIX}"})


async def run_saga(steps: Sequence[ActionStep], execute: Execute) -> SagaOutcome:
    """Run ``steps``; see the module docstring for what each outcome leaves behind."""
    _check_names(steps)
    done: list[ActionStep] = []
    past_pivot = False
    for step in steps:
        result = await execute(step)
        if result.ok:
            done.append(step)
            past_pivot = past_pivot or step.pivot
            continue
        names = [s.name for s in done]
        if result.status == "unavailable" and (past_pivot or step.pivot):
            # Undoing is impossible (or would race a refund that may have landed): finish
            # forward later with the same idempotency keys instead.
            return SagaOutcome(
                status="interrupted", completed=names, failed_step=step.name, failure=result
            )
        if past_pivot:
            return SagaOutcome(
                status="stuck", completed=names, failed_step=step.name, failure=result
            )
        # A step that may have landed (store unreachable) is undone along with the others.
        to_undo = ([step] if result.status == "unavailable" else []) + list(reversed(done))
        compensated: list[str] = []
        failures: list[str] = []
        for finished in to_undo:
            undo = undo_step(finished)
            if undo is None:
                continue
            if (await execute(undo)).ok:
                compensated.append(finished.name)
            else:
                failures.append(finished.name)
        return SagaOutcome(
            status="stuck" if failures else "compensated",
            completed=names,
            compensated=compensated,
            failed_step=step.name,
            failure=result,
            compensation_failures=failures,
        )
    return SagaOutcome(status="completed", completed=[s.name for s in done])


def _check_names(steps: Sequence[ActionStep]) -> None:
    names = [s.name for s in steps]
    if len(set(names)) != len(names):
        raise ValueError(f"saga step names must be unique (they name idempotency keys): {names}")
    for s in steps:
        if s.compensation is not None and s.pivot:
            raise ValueError(f"step {s.name!r} is a pivot and cannot have a compensation")

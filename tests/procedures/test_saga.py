"""run_saga: steps in order; a failure for good undoes finished steps in reverse."""

from __future__ import annotations

import asyncio
from typing import Literal

from hypothesis import given
from hypothesis import strategies as st

from supportflow.procedures.case import ActionStep
from supportflow.procedures.saga import ActionResult, SagaOutcome, run_saga

Fault = Literal["ok", "rejected", "unavailable"]


class FakeStore:
    """Records effects; a step named in `faults` fails with that status. An "unavailable"
    fault may have landed (`landed`), like a store that committed but never answered."""

    def __init__(
        self,
        faults: dict[str, Fault] | None = None,
        *,
        landed: bool = False,
        broken_undo: bool = False,
    ) -> None:
        self.faults = faults or {}
        self.landed = landed
        self.broken_undo = broken_undo
        self.applied: list[str] = []
        self.calls: list[str] = []

    async def execute(self, step: ActionStep) -> ActionResult:
        self.calls.append(step.name)
        if step.name.endswith(".undo"):
            if self.broken_undo:
                return ActionResult(status="rejected", detail="cannot undo")
            target = step.name.removesuffix(".undo")
            if target in self.applied:  # a no-op when the step never applied
                self.applied.remove(target)
            return ActionResult(status="ok")
        fault = self.faults.get(step.name, "ok")
        if fault == "ok" or (fault == "unavailable" and self.landed):
            self.applied.append(step.name)
        if fault != "ok":
            return ActionResult(status=fault)
        return ActionResult(status="ok")


def plan(n_reversible: int, pivots: int, forward: int) -> list[ActionStep]:
    steps = [
        ActionStep(
            name=f"r{i}",
            action="hold_order",
            compensation=ActionStep(name="undo", action="release_order"),
        )
        for i in range(n_reversible)
    ]
    steps += [ActionStep(name=f"p{i}", action="refund_order", pivot=True) for i in range(pivots)]
    steps += [ActionStep(name=f"f{i}", action="cancel_order", pivot=True) for i in range(forward)]
    return steps


def cancel_saga() -> list[ActionStep]:
    return plan(1, 1, 1)


async def test_all_steps_ok_completes_in_order() -> None:
    store = FakeStore()
    outcome = await run_saga(cancel_saga(), store.execute)
    assert outcome.status == "completed"
    assert store.applied == store.calls == ["r0", "p0", "f0"]


async def test_rejected_before_pivot_undoes_finished_steps_in_reverse() -> None:
    store = FakeStore({"r2": "rejected"})
    outcome = await run_saga(plan(3, 1, 0), store.execute)
    assert outcome.status == "compensated"
    assert outcome.failed_step == "r2" and outcome.compensated == ["r1", "r0"]
    assert store.calls == ["r0", "r1", "r2", "r1.undo", "r0.undo"]
    assert store.applied == []


async def test_unavailable_before_pivot_also_undoes_the_step_that_may_have_landed() -> None:
    store = FakeStore({"r1": "unavailable"}, landed=True)
    outcome = await run_saga(plan(2, 1, 0), store.execute)
    assert outcome.status == "compensated"
    assert store.calls == ["r0", "r1", "r1.undo", "r0.undo"]
    assert store.applied == []


async def test_pivot_rejected_compensates() -> None:
    store = FakeStore({"p0": "rejected"})
    outcome = await run_saga(cancel_saga(), store.execute)
    assert outcome.status == "compensated" and store.applied == []


async def test_unavailable_at_or_after_the_pivot_interrupts_and_resumes_forward() -> None:
    for failing in ("p0", "f0"):
        store = FakeStore({failing: "unavailable"}, landed=failing == "p0")
        first = await run_saga(cancel_saga(), store.execute)
        assert first.status == "interrupted" and first.failed_step == failing
        store.faults = {}
        # The same plan again: with idempotency keys finished steps replay (the fake just
        # records them again), and the saga completes.
        second = await run_saga(cancel_saga(), store.execute)
        assert second.status == "completed"


async def test_rejection_after_the_pivot_is_stuck_for_a_person() -> None:
    store = FakeStore({"f0": "rejected"})
    outcome = await run_saga(cancel_saga(), store.execute)
    assert outcome.status == "stuck" and outcome.failed_step == "f0"
    assert "r0.undo" not in store.calls


async def test_a_failing_compensation_is_stuck() -> None:
    store = FakeStore({"p0": "rejected"}, broken_undo=True)
    outcome = await run_saga(cancel_saga(), store.execute)
    assert outcome.status == "stuck" and outcome.compensation_failures == ["r0"]


async def test_step_names_must_be_unique() -> None:
    store = FakeStore()
    steps = [ActionStep(name="x", action="hold_order"), ActionStep(name="x", action="cancel_order")]
    try:
        await run_saga(steps, store.execute)
    except ValueError as err:
        assert "unique" in str(err)
    else:
        raise AssertionError("duplicate names accepted")


@given(
    n_reversible=st.integers(0, 4),
    pivots=st.integers(0, 1),
    forward=st.integers(0, 2),
    fail_at=st.integers(0, 8),
    kind=st.sampled_from(["rejected", "unavailable"]),
    landed=st.booleans(),
)
def test_property_end_state_is_all_done_or_all_undone(
    n_reversible: int, pivots: int, forward: int, fail_at: int, kind: Fault, landed: bool
) -> None:
    steps = plan(n_reversible, pivots, forward)
    names = [s.name for s in steps]
    faults: dict[str, Fault] = {names[fail_at]: kind} if fail_at < len(names) else {}
    store = FakeStore(faults, landed=landed)
    outcome: SagaOutcome = asyncio.run(run_saga(steps, store.execute))
    failed_index = names.index(outcome.failed_step) if outcome.failed_step else None
    first_pivot = next((i for i, s in enumerate(steps) if s.pivot), len(steps))
    if not faults:
        assert outcome.status == "completed" and store.applied == names
    elif failed_index is not None and failed_index < first_pivot:
        # Before the pivot: fully compensated, whatever landed.
        assert outcome.status == "compensated"
        assert store.applied == []
    elif kind == "unavailable":
        assert outcome.status == "interrupted"
        store.faults = {}
        assert asyncio.run(run_saga(steps, store.execute)).status == "completed"
    elif failed_index == first_pivot:
        assert outcome.status == "compensated" and store.applied == []
    else:
        assert outcome.status == "stuck"
    # Reversible steps are never undone twice, and nothing is undone after a pivot passed.
    undone = [c for c in store.calls if c.endswith(".undo")]
    assert len(undone) == len(set(undone))

"""Saga property tests against the REAL demo store (issue 4, item 6).

Each example takes a fresh seed order, builds the plan its procedure proposes, injects one
store fault at one step (``/admin/faults``), and runs the plan with ``run_saga`` and an
executor that calls the real ``ActionActivities`` through ``ActivityEnvironment``, retrying
the same input (same idempotency key) like Temporal's retry policy would. If the saga is
interrupted or stuck, the faults are cleared and the same plan runs again (the workflow's
"retry later", or a person finishing it): same keys, so finished steps replay.

After every example the end state is either fully done or fully compensated, never half
done; no write applied twice (store events per idempotency key); and the store's invariants
hold (``/admin/invariants``), also in between, while a saga is interrupted.

Plans: ``cancel`` is the only multi-step plan the procedures produce (hold, compensated by
release -> refund, the pivot -> cancel); ``modify_address`` and ``return`` stand for the
single-step (pivot-only) plans.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.testing import ActivityEnvironment

from supportflow.activities.actions import ActionActivities
from supportflow.activities.contract import PERMANENT_STORE_ERRORS as PERMANENT_ERRORS
from supportflow.activities.contract import ActionDone, LoadCaseFactsInput
from supportflow.demo_store.invariants import doubled_effects
from supportflow.demo_store.seeding import load_seed
from supportflow.procedures.base import PROCEDURES
from supportflow.procedures.case import ActionStep, CaseState
from supportflow.procedures.facts import Address, CaseFacts
from supportflow.procedures.saga import ActionResult, SagaOutcome, run_saga
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.workflows.saga_steps import action_input, result_for_error
from tests.procedures.conftest import NOW

Doc = dict[str, Any]
Kind = Literal[
    "transient",  # 503 before the write, `times` calls; a retry succeeds
    "after_commit",  # the write committed, the caller saw a 503, `times` calls; retry replays
    "timeout",  # the write committed, the store stalls past the client's timeout, once
    "permanent",  # a 409 business refusal (never retried)
    "down",  # 503 before the write on every call: retries run out, nothing landed
    "down_after_commit",  # committed, then 503 on every call: retries run out, it landed
]
KINDS: tuple[Kind, ...] = (
    "transient",
    "after_commit",
    "timeout",
    "permanent",
    "down",
    "down_after_commit",
)
RECOVERABLE: tuple[Kind, ...] = ("transient", "after_commit", "timeout")
Proc = Literal["cancel", "modify_address", "return"]
# The store route (fault operation name) each saga step writes through.
OPERATION = {
    "hold": "hold",
    "refund": "refund",
    "cancel": "cancel",
    "address": "modify_address",
    "return": "return",
}
SINGLE_STEP: tuple[Proc, ...] = ("modify_address", "return")
# procedure, failing step, fault kind, how many calls a transient fault hits, release's fault
Scenario = tuple[Proc, str, Kind, int, Kind | None]
STEPS: dict[Proc, tuple[str, ...]] = {
    "cancel": ("hold", "refund", "cancel"),
    "modify_address": ("address",),
    "return": ("return",),
}
MAX_ATTEMPTS = 3  # Temporal's retry policy, bounded
CLIENT_TIMEOUT = 1.0  # the activities' store client gives up after this; the store stalls 30 s
NEW_ADDRESS = Address(
    address1="1 Saga Street", address2="", city="Austin", state="TX", country="USA", zip="78701"
)

SEED = load_seed()


def _orders(status: str) -> Iterator[str]:
    return iter(sorted(oid for oid, o in SEED["orders"].items() if o["status"] == status))


# Every example takes orders it alone touches: never reused, even across explicit examples.
FRESH: dict[str, Iterator[str]] = {"pending": _orders("pending"), "delivered": _orders("delivered")}
# (procedure, failure step, kind, release fault, first outcome, final outcome) per example.
RAN: list[tuple[str, str, str, str, str, str]] = []


def fresh_order(status: str) -> str:
    try:
        return next(FRESH[status])
    except StopIteration:
        raise AssertionError(f"no fresh {status} seed orders left") from None


# -- the store and the activities ----------------------------------------------------------


@pytest.fixture(scope="module")
async def admin(admin_store_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=admin_store_url, timeout=10) as client:
        yield client
        (await client.delete("/admin/faults")).raise_for_status()


@pytest.fixture(scope="module")
async def acts(admin_store_url: str) -> AsyncIterator[ActionActivities]:
    # Impatient, so a stalled store (timeout faults) looks like a timeout to the activity.
    async with StoreClient(admin_store_url, timeout=CLIENT_TIMEOUT) as store:
        yield ActionActivities(store)


def fault_settings(step: str, kind: Kind, times: int, release: Kind | None) -> Doc:
    def one(mode: str, times: int | None, status: int = 503) -> Doc:
        return {"mode": mode, "times": times, "status_code": status}

    faults = {
        "transient": one("fail_before", times),
        "after_commit": one("fail_after", times),
        "timeout": one("timeout_after", 1),
        "permanent": one("fail_before", None, 409),
        "down": one("fail_before", None),
        "down_after_commit": one("fail_after", None),
    }
    operations = {OPERATION[step]: faults[kind]}
    if release is not None:
        operations["release"] = faults[release]
    return {"timeout_seconds": 30, "operations": operations}


@dataclass
class Executor:
    """``ActionExecutor`` without Temporal: the real activity, retried with the same input
    (same idempotency key) up to ``MAX_ATTEMPTS`` times; the error mapped to an
    ``ActionResult`` by the production ``result_for_error``."""

    acts: ActionActivities
    user_id: str
    workflow_id: str
    case_id: str
    attempt: int

    async def execute(self, step: ActionStep) -> ActionResult:
        inp = action_input(
            step,
            tenant_id="t",
            store_user_id=self.user_id,
            workflow_id=self.workflow_id,
            case_id=self.case_id,
            attempt=self.attempt,
        )
        fn: Callable[..., Any] = getattr(self.acts, step.action)
        cause: ApplicationError | None = None
        for _ in range(MAX_ATTEMPTS):
            try:
                done: ActionDone = await ActivityEnvironment().run(fn, inp)
            except ApplicationError as err:
                cause = err
                if err.non_retryable or err.type in PERMANENT_ERRORS:
                    return result_for_error(_activity_error(step, err, permanent=True))
            except Exception as err:
                # Temporal turns any other exception into a retryable ApplicationError.
                cause = ApplicationError(str(err), type=type(err).__name__)
            else:
                return ActionResult(status="ok", data=done.model_dump())
        assert cause is not None
        return result_for_error(_activity_error(step, cause, permanent=False))


def _activity_error(step: ActionStep, cause: ApplicationError, *, permanent: bool) -> ActivityError:
    err = ActivityError(
        "activity failed",
        scheduled_event_id=1,
        started_event_id=2,
        identity="test",
        activity_type=step.action,
        activity_id="1",
        retry_state=(
            RetryState.NON_RETRYABLE_FAILURE if permanent else RetryState.MAXIMUM_ATTEMPTS_REACHED
        ),
    )
    err.__cause__ = cause
    return err


# -- the plans, as the procedures propose them ---------------------------------------------


async def plan_for(
    proc: Proc, acts: ActionActivities, order_id: str, case_id: str
) -> tuple[list[ActionStep], CaseFacts]:
    user_id = SEED["orders"][order_id]["user_id"]
    facts: CaseFacts = await ActivityEnvironment().run(
        acts.load_case_facts,
        LoadCaseFactsInput(tenant_id="t", store_user_id=user_id, order_id=order_id),
    )
    assert facts.order is not None
    state = CaseState(
        case_id=case_id,
        procedure=proc,
        intent=proc,
        opened_at=NOW,
        order_id=order_id,
        reason="no longer needed" if proc == "cancel" else None,
        address=NEW_ADDRESS if proc == "modify_address" else None,
        item_ids=[facts.order.items[0].item_id] if proc == "return" else [],
        payment_method_id=facts.order.original_payment_method_id if proc == "return" else None,
    )
    procedure = PROCEDURES[proc]
    state, prompt = procedure.check(state, facts)
    assert prompt is None, f"{proc} on {order_id} is not ready: {prompt}"
    steps = procedure.propose(state, facts).steps
    assert tuple(s.name for s in steps) == STEPS[proc], steps
    return steps, facts


# -- what the store holds ------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    order: Doc
    user: Doc
    held: bool


async def snapshot(http: httpx.AsyncClient, order_id: str, user_id: str) -> Snapshot:
    oid = quote(order_id, safe="")
    order = (await http.get(f"/orders/{oid}")).raise_for_status().json()
    user = (await http.get(f"/users/{quote(user_id, safe='')}")).raise_for_status().json()
    hold = (await http.get(f"/orders/{oid}/hold")).raise_for_status().json()
    return Snapshot(order, user, bool(hold["held"]))


async def violations(http: httpx.AsyncClient) -> list[Doc]:
    found: list[Doc] = (await http.get("/admin/invariants")).raise_for_status().json()["violations"]
    return found


async def events(http: httpx.AsyncClient, order_id: str) -> list[Doc]:
    r = await http.get("/admin/events", params={"entity_id": order_id, "limit": 1000})
    found: list[Doc] = r.raise_for_status().json()["events"]
    return found


def balances(user: Doc) -> dict[str, float | None]:
    return {m["id"]: m.get("balance") for m in user["payment_methods"].values()}


def check_done(proc: Proc, before: Snapshot, after: Snapshot, ops: Counter[str]) -> None:
    paid = before.order["payment_history"]
    if proc == "cancel":
        assert after.order["status"] == "cancelled"
        history = after.order["payment_history"]
        assert history[: len(paid)] == paid
        refunds = history[len(paid) :]
        # Refunded exactly once: one refund per payment, for exactly what it paid.
        assert sorted((r["payment_method_id"], r["amount"]) for r in refunds) == sorted(
            (p["payment_method_id"], p["amount"]) for p in paid
        )
        assert all(r["transaction_type"] == "refund" for r in refunds)
        expected = balances(before.user)
        for p in paid:
            if before.user["payment_methods"][p["payment_method_id"]]["source"] == "gift_card":
                b = expected[p["payment_method_id"]]
                assert b is not None
                expected[p["payment_method_id"]] = round(b + p["amount"], 2)
        assert balances(after.user) == expected
        assert ops == Counter({"hold": 1, "refund": 1, "cancel": 1})
    elif proc == "modify_address":
        assert after.order == {**before.order, "address": NEW_ADDRESS.as_store()}
        assert after.user == before.user
        assert ops == Counter({"modify_address": 1})
    else:
        assert after.order["status"] == "return requested"
        assert after.order["payment_history"] == paid
        assert after.user == before.user
        assert ops == Counter({"return": 1})
    assert not after.held


def check_compensated(before: Snapshot, after: Snapshot, ops: Counter[str]) -> None:
    assert after.order == before.order  # status, payment history, everything
    assert after.user == before.user  # gift-card balances included
    assert not after.held  # no hold left behind
    # A release that found no hold is a no-op, but still an applied (empty) write.
    assert set(ops) <= {"hold", "release"} and ops["hold"] <= 1 and ops["release"] <= 1


def expected_first_outcome(proc: Proc, step: str, kind: Kind) -> str:
    if kind in RECOVERABLE:
        return "completed"
    first = STEPS[proc][0]
    if kind == "permanent":
        # Before or at the pivot nothing is left changed; past it, a person must finish.
        return "stuck" if proc == "cancel" and step == "cancel" else "compensated"
    # Retries ran out: undo before the pivot (hold: reversible), finish later from it on.
    return "compensated" if proc == "cancel" and step == first else "interrupted"


# -- the property --------------------------------------------------------------------------


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    # Cancel, the multi-step plan, twice as often as each single-step one.
    proc: Proc = draw(st.sampled_from(["cancel", "cancel", *SINGLE_STEP]))
    step = draw(st.sampled_from(STEPS[proc]))
    kind: Kind = draw(st.sampled_from(KINDS))
    times = draw(st.integers(1, MAX_ATTEMPTS - 1))
    # The compensation may be flaky too (it only runs when hold is undone).
    release: Kind | None = draw(st.sampled_from([None, *RECOVERABLE])) if proc == "cancel" else None
    return proc, step, kind, times, release


CANCEL_EXAMPLES: list[Scenario] = [
    ("cancel", step, kind, 1, None) for step in STEPS["cancel"] for kind in KINDS
] + [
    # Undoing a hold while the store is flaky (the undo itself retried with its own key).
    ("cancel", "refund", "permanent", 1, "after_commit"),
    ("cancel", "hold", "down_after_commit", 1, "transient"),
    ("cancel", "refund", "permanent", 1, "timeout"),
    ("cancel", "refund", "transient", 2, None),
    ("cancel", "hold", "after_commit", 2, None),
]
OTHER_EXAMPLES: list[Scenario] = [
    (p, STEPS[p][0], kind, 1, None) for p in SINGLE_STEP for kind in KINDS
]


def with_examples(
    fn: Callable[..., Any],
) -> Callable[..., Any]:
    for scenario in reversed(CANCEL_EXAMPLES + OTHER_EXAMPLES):
        fn = example(scenario=scenario)(fn)
    return fn


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    # A failing example has consumed its order; shrinking would need fresh ones anyway, and
    # the draw is small enough to read as it is.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scenario=scenarios())
@with_examples
async def test_saga_on_the_real_store_ends_done_or_compensated(
    acts: ActionActivities,
    admin: httpx.AsyncClient,
    scenario: Scenario,
) -> None:
    proc, step, kind, times, release = scenario
    order_id = fresh_order("delivered" if proc == "return" else "pending")
    user_id = SEED["orders"][order_id]["user_id"]
    workflow_id = f"wf-saga-{uuid.uuid4().hex[:12]}"
    steps, _ = await plan_for(proc, acts, order_id, f"{workflow_id}/case/1")
    execute = Executor(acts, user_id, workflow_id, f"{workflow_id}/case/1", attempt=1).execute
    label = f"{proc} {order_id}: {kind} at {step} (times={times}, release={release})"

    (await admin.delete("/admin/faults")).raise_for_status()
    before = await snapshot(admin, order_id, user_id)
    assert await violations(admin) == [], label
    fault = fault_settings(step, kind, times, release)
    (await admin.post("/admin/faults", json=fault)).raise_for_status()
    try:
        first = await run_saga(steps, execute)
        injected: dict[str, int] = (await admin.get("/admin/faults")).json()["injected"]
    finally:
        (await admin.delete("/admin/faults")).raise_for_status()
    # The fault did hit its step (the example is not vacuous).
    assert any(k.startswith(f"{OPERATION[step]}:") for k in injected), (label, injected)
    release_hit = any(k.startswith("release:") for k in injected)
    # Consistent even while a saga is interrupted or stuck (refunds under a hold).
    assert await violations(admin) == [], label
    assert first.status == expected_first_outcome(proc, step, kind), (label, first)
    if first.status in ("compensated", "stuck", "interrupted"):
        assert first.failed_step == step, (label, first)
    assert first.compensation_failures == [], (label, first)

    final: SagaOutcome = first
    if first.status in ("interrupted", "stuck"):
        # The workflow's "retry later" (or a person finishing it): the same plan, same keys,
        # the store healthy again. Finished steps replay; the rest apply.
        final = await run_saga(steps, execute)
        assert final.status == "completed", (label, first, final)

    after = await snapshot(admin, order_id, user_id)
    evs = await events(admin, order_id)
    assert doubled_effects(evs) == [], (label, "a write applied twice", evs)
    ops = Counter(str(e["operation"]) for e in evs)
    if final.status == "completed":
        check_done(proc, before, after, ops)
    else:
        assert final.status == "compensated", (label, final)
        check_compensated(before, after, ops)
    assert await violations(admin) == [], label
    RAN.append((proc, step, kind, str(release) if release_hit else "-", first.status, final.status))


class LateHolds(httpx.AsyncBaseTransport):
    """A network that delivers every hold request ``delay`` seconds late, after its caller
    has already timed out: the in-flight request Temporal gives up on but the store still
    applies. (The store's own faults cannot do this: ``timeout_before`` never runs the
    handler, and latency delays every request, the ownership read too.)"""

    def __init__(self, delay: float) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.delay = delay
        self.late: list[asyncio.Task[int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/hold"):
            body = await request.aread()
            copy = httpx.Request(request.method, request.url, headers=request.headers, content=body)
            self.late.append(asyncio.create_task(self._deliver(copy)))
            raise httpx.ReadTimeout("hold request still in flight", request=request)
        return await self.inner.handle_async_request(request)

    async def _deliver(self, request: httpx.Request) -> int:
        await asyncio.sleep(self.delay)
        async with httpx.AsyncClient() as client:
            return (await client.send(request)).status_code

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_hold_landing_after_its_compensation_leaves_no_hold(
    admin: httpx.AsyncClient, admin_store_url: str
) -> None:
    """Every hold attempt times out for the caller but is still on its way; the saga
    compensates with a release naming the hold's key, so the late holds are refused."""
    order_id = fresh_order("pending")
    user_id = SEED["orders"][order_id]["user_id"]
    workflow_id = f"wf-late-{uuid.uuid4().hex[:12]}"
    transport = LateHolds(delay=0.5)
    async with StoreClient(admin_store_url, timeout=CLIENT_TIMEOUT, transport=transport) as store:
        acts = ActionActivities(store)
        steps, _ = await plan_for("cancel", acts, order_id, f"{workflow_id}/case/1")
        before = await snapshot(admin, order_id, user_id)
        execute = Executor(acts, user_id, workflow_id, f"{workflow_id}/case/1", attempt=1)
        outcome = await run_saga(steps, execute.execute)
        assert outcome.status == "compensated" and outcome.compensated == ["hold"], outcome
        # The requests the caller gave up on arrive; all carry the hold step's key, which the
        # release fenced: each is refused and none applies.
        assert await asyncio.gather(*transport.late) == [409] * MAX_ATTEMPTS
    after = await snapshot(admin, order_id, user_id)
    assert await violations(admin) == []
    ops = Counter(str(e["operation"]) for e in await events(admin, order_id))
    check_compensated(before, after, ops)


def test_summary_every_cancel_step_and_fault_kind_was_covered(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Runs after the property (file order): what ran, and every (step, kind) of cancel."""
    if not RAN:
        pytest.skip("the property test did not run in this session (deselected?)")
    covered = Counter((p, s, k) for p, s, k, *_ in RAN)
    outcomes = Counter((p, first, final) for p, _, _, _, first, final in RAN)
    missing = [(s, k) for s in STEPS["cancel"] for k in KINDS if covered[("cancel", s, k)] == 0]
    lines = [f"saga-on-store: {len(RAN)} examples ran"]
    lines += [f"  {p:<15} {s:<8} {k:<18} x{n}" for (p, s, k), n in sorted(covered.items())]
    lines += [f"  outcome {p:<15} {a:>11} -> {b}: {n}" for (p, a, b), n in sorted(outcomes.items())]
    releases = Counter(r for p, *_, r, _, _ in RAN if p == "cancel")
    lines.append(f"  faults that hit the compensation (release): {dict(releases)}")
    with capsys.disabled():
        sys.stdout.write("\n" + "\n".join(lines) + "\n")
    assert not missing, f"cancel (step, kind) not covered: {missing}\n" + "\n".join(lines)

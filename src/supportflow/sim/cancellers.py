"""Simulated cancellers against a stack, and the retention experiment they are counted in.

``simulate_cancellers`` picks unused customers, sets the tenant up (retention on for both
cancel reasons, a ``behaviour: retention`` experiment with the run's arms: canceller_setup),
and runs the cancellers, their arrivals spread over ``ramp_s``. Each one places an order at
the store (a checkout, completed at once, as a shopper does), then asks in chat, as that
verified customer (a signed identity token), to cancel it for one of the retention reasons.
It reads every reply (an offer? the confirmation? done?) and answers as the canceller model
says (sim/canceller_model.py; a model, not data): it takes the offer or declines it, then
confirms the cancel or changes its mind. At the end the store says whether each order was
kept (still pending) or cancelled, and the experiment's results are read from the API.

The experiment's figures are the stack's own (``GET /v1/experiments/{id}/results``: for a
retention experiment, ``conversions`` are saves); the simulator only adds what it knows as the
cancellers: what each one wanted and did, and whether the stack's counts match that.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from supportflow.sales.experiments import Arm
from supportflow.sim import canceller_words as words
from supportflow.sim.canceller_arms import arm_by_offer, parse_arms, signature
from supportflow.sim.canceller_model import (
    CancellerModel,
    CancellerPlan,
    RetentionOffer,
    keep_probability,
    keeps_after_offer,
    plan_canceller,
)
from supportflow.sim.canceller_setup import retention_setup
from supportflow.sim.client import ChatClient, shopper_address
from supportflow.sim.model import Target
from supportflow.sim.shopper_setup import SalesSetup, read_results, stop_experiment
from supportflow.sim.shopper_store import (
    Customer,
    ShopperStore,
    StoreRefused,
    available_item,
    pick_customers,
)

# A conversation longer than this many answers is going round in circles: the canceller
# stops, and the run records it.
MAX_TURNS = 7
RESULTS_POLL_S = 1.0
# Simulated addresses of cancellers start here (sim/client.py), apart from shoppers' and
# conversations' (which count from 0), so rate limits apply to each as to one person.
ADDRESS_OFFSET = 100_000


@dataclass(frozen=True)
class CancellerOptions:
    cancellers: int = 60
    seed: int = 0
    arms: tuple[Arm, ...] = field(default_factory=lambda: parse_arms(()))
    # Cancellers arrive spread over this many seconds ...
    ramp_s: float = 20.0
    # ... and at most this many are in conversation at once (each is a few messages long).
    concurrency: int = 10
    # Per message, retries and 202 polling included.
    reply_timeout_s: float = 90.0
    # How long to wait, after the last canceller, for the stack's counts to settle.
    settle_timeout_s: float = 30.0
    model: CancellerModel = field(default_factory=CancellerModel)

    def __post_init__(self) -> None:
        if self.cancellers < 1:
            raise ValueError("cancellers must be at least 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.ramp_s < 0 or self.settle_timeout_s < 0 or self.reply_timeout_s <= 0:
            raise ValueError("ramp and timeouts must not be negative")


@dataclass
class Turn:
    said: str
    reply: str | None  # None: unanswered
    read: str  # the reply's kind (canceller_words.ReplyKind)


@dataclass
class CancellerOutcome:
    index: int
    user_id: str
    reason: str
    order_id: str | None = None
    # How the conversation ended, as the canceller read the last reply: a ReplyKind of
    # canceller_words (cancelled, saved, exchange_kept, dropped, ...), or unanswered |
    # too_long | error.
    ended: str = "not_started"
    offer_seen: str | None = None  # the offer's label; None: no offer was made
    keep_probability: float | None = None  # the model's, for that offer and reason
    took_offer: bool | None = None
    confirm_seen: bool = False
    confirmed: bool | None = None
    # What the canceller wanted in the end: the order kept (True) or cancelled (False).
    wants_kept: bool | None = None
    order_status: str | None = None  # the store's, at the end
    arm: str | None = None  # told by the offer seen, when only one arm makes it
    turns: list[Turn] = field(default_factory=list)
    # The agent doing other than a careful agent would with what the canceller said:
    # an answer not understood, a reason asked for though given, an order left otherwise
    # than the canceller wanted. Each with the text concerned.
    findings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def exposed(self) -> bool:
        """The case reached the moment a retention offer is made (or would be): an offer
        or the cancel's confirmation came. This is when the stack assigns the arm."""
        return self.offer_seen is not None or self.confirm_seen

    @property
    def kept(self) -> bool | None:
        """The store's word: the order is still pending (kept) or cancelled."""
        if self.order_status is None:
            return None
        if self.order_status.startswith("pending"):
            return True
        return False if self.order_status == "cancelled" else None


@dataclass
class CancellerRun:
    options: CancellerOptions
    api_url: str
    started_at: float
    ended_at: float = 0.0
    experiment_id: str | None = None
    experiment: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] | None = None
    cancellers: list[CancellerOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    settle_s: float = 0.0

    @property
    def wall_s(self) -> float:
        return max(1e-9, self.ended_at - self.started_at)


class _Cancelling:
    """One run's shared parts: the store, the chat, the gate on conversations at once."""

    def __init__(
        self,
        options: CancellerOptions,
        store: ShopperStore,
        http: httpx.AsyncClient,
        chat: ChatClient,
        catalogue: list[str],
        run_tag: str,
        on_done: Callable[[CancellerOutcome], None],
    ) -> None:
        self.options = options
        self.store = store
        self.http = http
        self.chat = chat
        self.catalogue = catalogue
        self.run_tag = run_tag
        self.gate = asyncio.Semaphore(options.concurrency)
        self.on_done = on_done
        self.by_offer = arm_by_offer(options.arms)

    def key(self, index: int, step: str) -> str:
        return f"sim-{self.run_tag}-c{index}-{step}"

    async def canceller(
        self, plan: CancellerPlan, customer: Customer, start_at: float
    ) -> CancellerOutcome:
        out = CancellerOutcome(index=plan.index, user_id=customer.user_id, reason=plan.reason)
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        async with self.gate:
            try:
                out.order_id = await self._place_order(plan, customer)
                await self._talk(plan, customer, out)
            except (httpx.HTTPError, StoreRefused, RuntimeError) as err:
                out.ended = "error" if out.ended == "not_started" else out.ended
                out.errors.append(f"{type(err).__name__}: {err}")
        if out.order_id is not None:
            with contextlib.suppress(httpx.HTTPError):
                r = await self.http.get(f"/orders/{quote(out.order_id, safe='')}")
                if r.status_code == 200:
                    out.order_status = str(r.json().get("status"))
        self._judge(out)
        self.on_done(out)
        return out

    async def _place_order(self, plan: CancellerPlan, customer: Customer) -> str:
        """A checkout of one available item, completed at once: a pending order."""
        rng = random.Random(f"{self.options.seed}:canceller-item:{plan.index}")
        n = len(self.catalogue)
        item: tuple[str, float] | None = None
        for step in range(n):
            doc = await self.store.product(self.catalogue[(plan.product_draw + step) % n])
            item = available_item(doc, rng)
            if item is not None:
                break
        if item is None:
            raise RuntimeError("no product in the catalogue has an available variant")
        checkout = await self.store.create_checkout(
            customer, item[0], False, self.key(plan.index, "checkout")
        )
        order = await self.store.complete(
            str(checkout["id"]), customer, None, self.key(plan.index, "complete")
        )
        order_id = str(order.get("order_id") or order.get("id") or "")
        if not order_id:
            raise RuntimeError("the store placed an order without an id")
        return order_id

    async def _say(
        self, customer: Customer, out: CancellerOutcome, text: str
    ) -> words.Reading | None:
        visitor = f"sim-{self.run_tag}-c{out.index}"
        sent, _ = await self.chat.send(
            visitor,
            f"{visitor}-m{len(out.turns)}",
            text,
            as_email=customer.email,
            from_address=shopper_address(ADDRESS_OFFSET + out.index),
        )
        if sent.reply is None:
            out.turns.append(Turn(text, None, "unanswered"))
            out.ended = "unanswered"
            out.errors.append(f"unanswered: {sent.error}")
            return None
        reading = words.read_reply(sent.reply)
        out.turns.append(Turn(text, sent.reply, reading.kind))
        return reading

    async def _talk(self, plan: CancellerPlan, customer: Customer, out: CancellerOutcome) -> None:
        """The conversation, reply by reply, until the case is settled either way."""
        assert out.order_id is not None
        model = self.options.model
        reading = await self._say(customer, out, words.opening(plan, out.order_id))
        offer: RetentionOffer | None = None
        pauses = iter(plan.think_s)
        while reading is not None:
            if len(out.turns) > MAX_TURNS:
                out.ended = "too_long"
                out.findings.append(f"no end after {MAX_TURNS} answers")
                return
            last = out.turns[-1].said
            kind = reading.kind
            answer: str
            if kind == "ask_reason":
                if len(out.turns) == 1:
                    out.findings.append(
                        f"asked for the reason though the message gave it: {last!r}"
                    )
                else:
                    out.findings.append(f"asked for the reason again after: {last!r}")
                answer = words.reason_answer(plan)
            elif kind == "offer":
                assert reading.offer is not None
                if offer is None:
                    offer = reading.offer
                    out.offer_seen = offer.label
                    out.keep_probability = keep_probability(model, offer, plan.reason)
                    out.arm = self.by_offer.get(signature(offer))
                    out.took_offer = keeps_after_offer(model, plan, offer)
                    answer = words.accept(plan, offer) if out.took_offer else words.decline(plan)
                elif reading.unclear and out.took_offer is not None:
                    out.findings.append(f"the offer was asked again after the answer {last!r}")
                    answer = words.plain(plan, out.took_offer)
                else:
                    out.findings.append(f"a second offer came after {last!r}")
                    out.ended = "unexpected"
                    return
            elif kind == "confirm":
                if out.took_offer and not out.confirm_seen:
                    # The canceller said it keeps the order: the agent read that as a no.
                    out.findings.append(
                        f"asked to confirm the cancel after taking the offer with {last!r}"
                    )
                    out.confirm_seen = True
                    out.confirmed = False
                    answer = words.never_mind(plan)
                elif out.confirm_seen:
                    out.findings.append(f"the confirmation was asked again after {last!r}")
                    answer = words.plain(plan, bool(out.confirmed))
                else:
                    out.confirm_seen = True
                    if offer is None:
                        # Straight to the confirmation: an arm that makes no offer.
                        out.arm = self.by_offer.get(signature(None))
                    out.confirmed = plan.confirms
                    answer = words.confirm(plan) if plan.confirms else words.never_mind(plan)
            elif kind in ("exchange_kept", "exchange_choose"):
                if kind == "exchange_choose":
                    out.findings.append(
                        f"the exchange taken with {last!r} went on to the choice of a new "
                        "variant without saying the order is kept"
                    )
                # The canceller keeps the order as it is rather than choosing other items;
                # what the agent answers to that is recorded, not judged.
                await asyncio.sleep(next(pauses, 0.0))
                await self._say(customer, out, words.keep_as_is(plan))
                out.ended = kind
                return
            else:
                out.ended = kind
                if kind == "unexpected":
                    out.findings.append(f"an unexpected reply to {last!r}")
                return
            await asyncio.sleep(next(pauses, 0.0))
            reading = await self._say(customer, out, answer)

    def _judge(self, out: CancellerOutcome) -> None:
        """What the canceller wanted, and whether the store did it."""
        if out.took_offer:
            out.wants_kept = True
        elif out.confirmed is not None:
            out.wants_kept = not out.confirmed
        if out.wants_kept is None or out.kept is None:
            return
        if out.wants_kept != out.kept:
            said = [t.said for t in out.turns]
            out.findings.append(
                f"the canceller wanted the order {'kept' if out.wants_kept else 'cancelled'} "
                f"(it said {said!r}); the store has it {out.order_status}"
            )


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Iterator[tuple[Progress, TaskID]]:
    progress = Progress(
        TextColumn("[bold]cancellers[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[offers]} offers  {task.fields[kept]} kept"),
        TimeElapsedColumn(),
        disable=not enabled,
    )
    with progress:
        yield progress, progress.add_task("cancellers", total=total, offers=0, kept=0)


@contextlib.asynccontextmanager
async def prepared(
    target: Target, options: CancellerOptions, api: httpx.AsyncClient, run_tag: str
) -> AsyncIterator[SalesSetup]:
    """The tenant set up for the run (policy, experiment) and put back on exit."""
    name = f"simulate {run_tag}: canceller model"
    async with retention_setup(api, target.api_key, options.arms, name) as setup:
        yield setup


async def simulate_cancellers(
    target: Target,
    options: CancellerOptions,
    *,
    progress: bool = True,
    run_tag: str | None = None,
) -> CancellerRun:
    """Run the cancellers, the tenant set up for them and restored afterwards."""
    run_tag = run_tag or uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=target.api_url, timeout=60) as api:
        async with prepared(target, options, api, run_tag) as setup:
            run = await _simulate(target, options, api, setup, run_tag, progress)
        run.notes += setup.notes
    return run


async def _simulate(
    target: Target,
    options: CancellerOptions,
    api: httpx.AsyncClient,
    setup: SalesSetup,
    run_tag: str,
    progress_on: bool,
) -> CancellerRun:
    run = CancellerRun(options=options, api_url=target.api_url, started_at=time.time())
    run.experiment_id, run.experiment = setup.experiment_id, setup.experiment
    limits = httpx.Limits(max_connections=64)
    async with (
        httpx.AsyncClient(base_url=target.store_url, timeout=30, limits=limits) as http,
        httpx.AsyncClient(base_url=target.api_url, limits=limits) as chat_http,
    ):
        store = ShopperStore(http)
        catalogue = await store.catalogue()
        if not catalogue:
            raise RuntimeError("the store has no products to order")
        customers = await pick_customers(http, options.cancellers, options.seed)
        plans = [plan_canceller(options.model, options.seed, i) for i in range(options.cancellers)]
        chat = ChatClient(
            chat_http, target.chat_key, options.reply_timeout_s, target.identity_secret
        )
        counts = {"offers": 0, "kept": 0}
        with _progress(progress_on, options.cancellers) as (bar, task):

            def done(out: CancellerOutcome) -> None:
                counts["offers"] += out.offer_seen is not None
                counts["kept"] += bool(out.kept)
                bar.update(task, advance=1, offers=counts["offers"], kept=counts["kept"])

            cancelling = _Cancelling(options, store, http, chat, catalogue, run_tag, done)
            begin = time.monotonic()
            n = options.cancellers
            step = options.ramp_s / (n - 1) if n > 1 else 0.0
            run.cancellers = list(
                await asyncio.gather(
                    *(
                        cancelling.canceller(p, c, begin + i * step)
                        for i, (p, c) in enumerate(zip(plans, customers, strict=True))
                    )
                )
            )
    settled = time.monotonic()
    await _settle(run, api, target.api_key, setup.experiment_id)
    run.settle_s = time.monotonic() - settled
    await stop_experiment(api, target.api_key, setup)
    run.results = await read_results(api, target.api_key, setup.experiment_id)
    run.ended_at = time.time()
    return run


def _totals(results: dict[str, Any]) -> tuple[int, int]:
    arms = results.get("arms") or []
    return sum(int(a.get("exposures") or 0) for a in arms), sum(
        int(a.get("conversions") or 0) for a in arms
    )


async def _settle(run: CancellerRun, api: httpx.AsyncClient, api_key: str, exp_id: str) -> None:
    """Until the stack counts every exposed canceller and every save among them (its touches
    are written as the cases close), or the settle timeout passes."""
    exposed = [o for o in run.cancellers if o.exposed]
    want = (len(exposed), sum(bool(o.kept) for o in exposed))
    deadline = time.monotonic() + run.options.settle_timeout_s
    got = _totals(await read_results(api, api_key, exp_id))
    while got != want and time.monotonic() < deadline:
        await asyncio.sleep(RESULTS_POLL_S)
        got = _totals(await read_results(api, api_key, exp_id))
    if got != want:
        run.notes.append(
            f"after {run.options.settle_timeout_s:g} s the stack counted {got[0]} exposures and "
            f"{got[1]} saves; the cancellers expect {want[0]} and {want[1]}"
        )

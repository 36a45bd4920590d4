"""Simulated shoppers against a stack's store, and the experiment they are counted in.

``simulate_shoppers`` picks unused customers, sets the tenant up (sales on, the run's delay,
no quiet hours, an experiment with the run's arms: shopper_setup), and runs every shopper
at once, their arrivals spread over ``ramp_s``. Each one browses, maybe checks out, buys at
once or abandons, and an abandoner watches its mailbox for the reminder until the delay plus
a margin has passed, reacting as the shopper model says (sim/shopper_model.py; a model, not
data). Then the run waits until the store's webhooks are delivered and every sales workflow
of the run has closed, stops the experiment, reads its results from the API, counts each
sales workflow's billable actions, and restores the tenant's policy.

The experiment's figures are the stack's own (``GET /v1/experiments/{id}/results``, counted
from its sales touches and conversions); the simulator only adds what it knows as the
shoppers: what each did, and whether the stack's counts match that.
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

import httpx
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from temporalio.client import Client

from supportflow.sales.experiments import Arm
from supportflow.sim.model import Target
from supportflow.sim.reminder_inbox import ReminderInbox
from supportflow.sim.shopper_arms import longest_delay_minutes, parse_arms
from supportflow.sim.shopper_billing import actions_of, wait_closed
from supportflow.sim.shopper_model import (
    ShopperModel,
    ShopperPlan,
    buy_probability,
    buys_after_reminder,
    plan_shopper,
)
from supportflow.sim.shopper_setup import SalesSetup, read_results, sales_setup, stop_experiment
from supportflow.sim.shopper_store import (
    Customer,
    ShopperStore,
    StoreRefused,
    available_item,
    pick_customers,
)
from supportflow.workflows.sales_contract import sales_workflow_id

WEBHOOK_POLL_S = 1.0


@dataclass(frozen=True)
class ShopperOptions:
    shoppers: int = 200
    seed: int = 0
    arms: tuple[Arm, ...] = field(default_factory=lambda: parse_arms(()))
    # The policy's delay for the run (an arm may set its own); the policy's minimum is 1.
    reminder_delay_min: int = 1
    # How long after the delay an abandoner still watches for the reminder (the timer, the
    # send activity and the mail's delivery take a few seconds; more under load).
    reminder_margin_s: float = 45.0
    # Shoppers arrive spread over this many seconds.
    ramp_s: float = 30.0
    # How long to wait, after the last shopper, for webhooks and sales workflows to finish.
    settle_timeout_s: float = 180.0
    model: ShopperModel = field(default_factory=ShopperModel)

    def __post_init__(self) -> None:
        if self.shoppers < 1:
            raise ValueError("shoppers must be at least 1")
        if self.reminder_delay_min < 1:
            raise ValueError("the reminder delay is at least 1 minute (the policy's minimum)")
        if self.reminder_margin_s < 0 or self.ramp_s < 0 or self.settle_timeout_s < 0:
            raise ValueError("margins, ramp and timeouts must not be negative")

    @property
    def window_s(self) -> float:
        """How long an abandoner watches for its reminder, from its checkout."""
        return longest_delay_minutes(self.arms, self.reminder_delay_min) * 60 + (
            self.reminder_margin_s
        )


@dataclass
class ShopperOutcome:
    index: int
    user_id: str
    path: str = "browsing"  # left | bought_at_once | abandoned | error
    products_viewed: int = 0
    consented: bool = False
    checkout_id: str | None = None
    cart_total: float | None = None
    checkout_at: float | None = None  # epoch seconds
    workflow_id: str | None = None
    reminder_after_s: float | None = None  # from the checkout to the reminder's arrival
    offer: str | None = None  # what the reminder offered (the store's word for its code)
    buy_probability: float | None = None  # the model's, for a reader of that reminder
    read_reminder: bool | None = None
    bought: str | None = None  # at_once | after_reminder | came_back
    order_id: str | None = None
    used_code: bool = False
    reminders_received: int = 0  # all sales mail to the shopper in the run (late ones too)
    errors: list[str] = field(default_factory=list)
    billable_actions: dict[str, int] = field(default_factory=dict)


@dataclass
class ShopperRun:
    options: ShopperOptions
    api_url: str
    started_at: float
    ended_at: float = 0.0
    experiment_id: str | None = None
    experiment: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] | None = None
    shoppers: list[ShopperOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    still_running: list[str] = field(default_factory=list)  # sales workflows at the timeout

    @property
    def wall_s(self) -> float:
        return max(1e-9, self.ended_at - self.started_at)


class _Shopping:
    """One run's shared parts: the store, the inbox, the customers, the clock."""

    def __init__(
        self,
        options: ShopperOptions,
        store: ShopperStore,
        inbox: ReminderInbox,
        tenant_id: str | None,
        run_tag: str,
        on_done: Callable[[ShopperOutcome], None],
    ) -> None:
        self.options = options
        self.store = store
        self.inbox = inbox
        self.tenant_id = tenant_id
        self.run_tag = run_tag
        self.on_done = on_done

    def key(self, index: int, step: str) -> str:
        return f"sim-{self.run_tag}-{index}-{step}"

    async def shopper(
        self, plan: ShopperPlan, customer: Customer, start_at: float
    ) -> ShopperOutcome:
        out = ShopperOutcome(index=plan.index, user_id=customer.user_id)
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        try:
            await self._shop(plan, customer, out)
        except (httpx.HTTPError, StoreRefused) as err:
            out.path = "error" if out.checkout_id is None else out.path
            out.errors.append(f"{type(err).__name__}: {err}")
        self.on_done(out)
        return out

    async def _shop(self, plan: ShopperPlan, customer: Customer, out: ShopperOutcome) -> None:
        item: tuple[str, float] | None = None
        rng = random.Random(f"{self.options.seed}:item:{plan.index}")
        for product_id in plan.products:
            doc = await self.store.product(product_id)
            out.products_viewed += 1
            item = available_item(doc, rng) or item
        if not plan.starts_checkout or item is None:
            out.path = "left"
            return
        out.consented = plan.consents
        checkout = await self.store.create_checkout(
            customer, item[0], plan.consents, self.key(plan.index, "checkout")
        )
        created = time.monotonic()
        out.checkout_id = str(checkout["id"])
        out.cart_total = float(checkout.get("total_price") or item[1])
        out.checkout_at = time.time()
        if self.tenant_id:
            # The stack names the opportunity by the checkout's token, as Shopify's checkout
            # webhooks identify a checkout (store/webhooks.py), its id otherwise.
            subject = str(checkout.get("token") or out.checkout_id)
            out.workflow_id = sales_workflow_id(
                self.tenant_id, customer.user_id, "abandoned_checkout", subject
            )
        if plan.buys_at_once:
            out.path = "bought_at_once"
            await asyncio.sleep(plan.think_s)
            await self._buy(out, customer, None, "at_once")
            return
        out.path = "abandoned"
        window = self.options.window_s
        come_back = created + plan.come_back_at * window if plan.comes_back else None
        watch_until = min(
            created + window, come_back if come_back is not None else created + window
        )
        reminder = await self.inbox.wait(customer.email, watch_until)
        code: str | None = None
        if reminder is not None:
            assert out.checkout_at is not None
            out.reminder_after_s = reminder.arrived_at - out.checkout_at
            offer = await self.store.offer(reminder.code)
            code = reminder.code if offer.kind != "none" else None
            out.offer = offer.label
            out.read_reminder = plan.opens_reminder
            out.buy_probability = buy_probability(self.options.model, offer, out.cart_total)
            if buys_after_reminder(self.options.model, plan, offer, out.cart_total):
                await asyncio.sleep(plan.think_s)
                await self._buy(out, customer, code, "after_reminder")
                return
        if come_back is not None:
            await asyncio.sleep(max(0.0, come_back - time.monotonic()))
            # One who has a code uses it: it is theirs.
            await self._buy(out, customer, code, "came_back")

    async def _buy(
        self, out: ShopperOutcome, customer: Customer, code: str | None, how: str
    ) -> None:
        assert out.checkout_id is not None
        key = self.key(out.index, "complete")
        try:
            order = await self.store.complete(out.checkout_id, customer, code, key)
        except StoreRefused as err:
            if code is None or err.status != 422:
                raise
            # A code refused (expired, used): the shopper buys at the full price.
            out.errors.append("the reminder's code was refused; bought without it")
            order = await self.store.complete(out.checkout_id, customer, None, key + "-nocode")
            code = None
        out.bought = how
        out.order_id = str(order.get("order_id") or order.get("id") or "") or None
        out.used_code = code is not None


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Iterator[tuple[Progress, TaskID]]:
    progress = Progress(
        TextColumn("[bold]shoppers[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[orders]} orders  {task.fields[reminders]} reminders"),
        TimeElapsedColumn(),
        disable=not enabled,
    )
    with progress:
        yield progress, progress.add_task("shoppers", total=total, orders=0, reminders=0)


@contextlib.asynccontextmanager
async def prepared(
    target: Target, options: ShopperOptions, api: httpx.AsyncClient, run_tag: str
) -> AsyncIterator[SalesSetup]:
    """The tenant set up for the run (policy, experiment) and put back on exit. Enter it
    before any other simulation that changes the policy, leave it after they are done."""
    name = f"simulate {run_tag}: shopper model"
    async with sales_setup(
        api, target.api_key, options.arms, options.reminder_delay_min, name
    ) as setup:
        yield setup


async def simulate_shoppers(
    target: Target,
    options: ShopperOptions,
    *,
    progress: bool = True,
    setup: SalesSetup | None = None,
    run_tag: str | None = None,
) -> ShopperRun:
    """Run the shoppers. Sets the tenant up itself unless ``setup`` (from ``prepared``) is
    given, in which case the caller restores it."""
    if target.maildir is None:
        raise ValueError(
            "shoppers read their reminders from the stack's Maildir: run against the stack "
            "the simulator starts, or give --data-dir"
        )
    run_tag = run_tag or uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=target.api_url, timeout=60) as api:
        if setup is not None:
            return await _simulate(target, options, api, setup, run_tag, progress)
        async with prepared(target, options, api, run_tag) as own:
            run = await _simulate(target, options, api, own, run_tag, progress)
        run.notes += own.notes
        return run


async def _simulate(
    target: Target,
    options: ShopperOptions,
    api: httpx.AsyncClient,
    setup: SalesSetup,
    run_tag: str,
    progress_on: bool,
) -> ShopperRun:
    limits = httpx.Limits(max_connections=64)
    run = ShopperRun(options=options, api_url=target.api_url, started_at=time.time())
    run.experiment_id, run.experiment = setup.experiment_id, setup.experiment
    temporal = await Client.connect(target.temporal_address, namespace=target.namespace)
    async with httpx.AsyncClient(base_url=target.store_url, timeout=30, limits=limits) as http:
        store = ShopperStore(http)
        catalogue = await store.catalogue()
        customers = await pick_customers(http, options.shoppers, options.seed)
        plans = [
            plan_shopper(options.model, options.seed, i, catalogue) for i in range(options.shoppers)
        ]
        assert target.maildir is not None
        inbox = ReminderInbox(target.maildir)
        await inbox.prime()
        counts = {"orders": 0, "reminders": 0}
        with _progress(progress_on, options.shoppers) as (bar, task):

            def done(out: ShopperOutcome) -> None:
                counts["orders"] += out.bought is not None
                counts["reminders"] += out.offer is not None
                bar.update(task, advance=1, orders=counts["orders"], reminders=counts["reminders"])

            shopping = _Shopping(options, store, inbox, target.tenant_id, run_tag, done)
            begin = time.monotonic()
            step = options.ramp_s / max(1, options.shoppers - 1) if options.shoppers > 1 else 0
            run.shoppers = list(
                await asyncio.gather(
                    *(
                        shopping.shopper(p, c, begin + i * step)
                        for i, (p, c) in enumerate(zip(plans, customers, strict=True))
                    )
                )
            )
        await _settle(run, store, temporal, options)
        await inbox.rescan()
        for out in run.shoppers:
            out.reminders_received = len(inbox.received(customers[out.index].email))
    await stop_experiment(api, target.api_key, setup)
    run.results = await read_results(api, target.api_key, setup.experiment_id)
    await _count_actions(run, temporal)
    if not target.tenant_id:
        run.notes.append("billable actions not counted: the tenant's id is unknown")
    run.ended_at = time.time()
    return run


async def _settle(
    run: ShopperRun, store: ShopperStore, temporal: Client, options: ShopperOptions
) -> None:
    """Until the store's webhooks are delivered and every sales workflow of the run closed."""
    deadline = time.monotonic() + options.settle_timeout_s
    pending = await store.pending_webhooks()
    if pending is None:
        run.notes.append(
            "store webhooks not awaited (its /admin routes are off): waited 15 s for them"
        )
        await asyncio.sleep(15)
    while pending and time.monotonic() < deadline:
        await asyncio.sleep(WEBHOOK_POLL_S)
        pending = await store.pending_webhooks()
    if pending:
        run.notes.append(f"{pending} store webhooks still undelivered at the settle timeout")
    ids = [o.workflow_id for o in run.shoppers if o.workflow_id]
    run.still_running = await wait_closed(temporal, ids, max(5.0, deadline - time.monotonic()))
    if run.still_running:
        run.notes.append(
            f"{len(run.still_running)} sales workflows were still running at the settle "
            "timeout: their touches count, a later order of theirs may not"
        )


async def _count_actions(run: ShopperRun, temporal: Client) -> None:
    ids = [o.workflow_id for o in run.shoppers if o.workflow_id]
    counted = await actions_of(temporal, ids)
    if len(counted) < len(ids):
        run.notes.append(
            f"{len(ids) - len(counted)} of {len(ids)} checkouts had no sales workflow under "
            "the expected id: their billable actions are not counted"
        )
    for out in run.shoppers:
        if out.workflow_id in counted:
            out.billable_actions = dict(sorted(counted[out.workflow_id].items()))

"""Run many scripted customers against a stack and collect what happened."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from temporalio.client import Client
from temporalio.service import RPCError

from supportflow.sim import heldout
from supportflow.sim.behaviours import BEHAVIOURS, HANDOFF, OffScript
from supportflow.sim.billing import count_all
from supportflow.sim.client import ChatClient
from supportflow.sim.email_client import EmailClient
from supportflow.sim.lines import Line, Lines
from supportflow.sim.locate import Locator
from supportflow.sim.maildir_watch import MaildirWatcher
from supportflow.sim.memory import MemorySampler
from supportflow.sim.mix import ends_on, plan_channels
from supportflow.sim.model import ConversationResult, SimOptions, SimResult, Target
from supportflow.sim.outcomes import Facts, check
from supportflow.sim.population import Assignment, Doc, assign, read_order
from supportflow.sim.sms_client import SmsClient, SmsWatcher
from supportflow.workflows.contract import customer_workflow_id

TRANSCRIPT_POLL_S = 1.0


class Unanswered(Exception):
    """A message got no answer within the reply timeout: the script cannot go on."""


def plan_behaviours(options: SimOptions, rng: random.Random) -> list[str]:
    """The behaviour of each conversation: the mix, shuffled anew every round."""
    mix = list(options.behaviours or BEHAVIOURS)
    unknown = [b for b in mix if b not in BEHAVIOURS]
    if unknown or not mix:
        raise ValueError(f"unknown behaviour(s) {unknown}; choose from {', '.join(BEHAVIOURS)}")
    out: list[str] = []
    while len(out) < options.customers:
        rnd = list(mix)
        rng.shuffle(rnd)
        out += rnd
    return out[: options.customers]


def _ts(raw: Any) -> float:
    return datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp()


class _Conversation:
    """The runner's side of ``behaviours.Talk``: sends, records, follows the transcript."""

    def __init__(
        self,
        conv: ConversationResult,
        line: Line,
        api: httpx.AsyncClient,
        api_key: str,
        rng: random.Random,
        options: SimOptions,
        on_turn: Callable[[], None],
        locator: Locator | None = None,
    ) -> None:
        self.conv = conv
        self.rng = rng
        self._line = line
        self._locator = locator
        self._api = api
        self._api_key = api_key
        self._options = options
        self._on_turn = on_turn
        self.transcript: dict[str, Any] | None = None

    async def say(self, text: str, expect: str | None = None) -> str:
        conv = self.conv
        turn = len(conv.messages)
        # One thing said; by email, maybe two messages (the agent asked to confirm by reply).
        sents = await self._line.send(conv, text)
        conv.messages += sents
        if self._locator is not None and conv.customer_id is not None:
            self._locator.known(conv.customer_id)  # named by a chat answer: never searched
        for m in sents:
            if m.reply is None:
                raise Unanswered(m.error or "unanswered")
            self._on_turn()
        sent = sents[-1]
        assert sent.reply is not None
        reply = sent.reply.lower()
        if expect is not None and expect not in reply:
            conv.deviations.append(f"turn {turn + 1}: expected {expect!r}, got {sent.reply!r}")
            raise OffScript(f"turn {turn + 1} off script")
        return reply

    def expect(self, outcome: dict[str, Any]) -> None:
        self.conv.expected = outcome

    async def first(
        self, intent: str, scripted: str, accept: Callable[[str], bool], order_id: str | None
    ) -> str:
        text = heldout.draw(intent, self.rng, order_id)
        if text is None:
            self.conv.first_message_source = "scripted"
            return await self.say(scripted)
        reply = await self.say(text)
        if accept(reply):
            return reply
        self.conv.first_message_understood = False
        reply = await self.say(scripted)
        if not accept(reply):
            self.conv.deviations.append(f"scripted first message not understood: {reply!r}")
            raise OffScript("first message not understood")
        return reply

    async def fetch_transcript(self, within_s: float = 0.0) -> dict[str, Any] | None:
        """The conversation's transcript (merchant API); retried for ``within_s`` seconds,
        since a stack under chaos may be restarting. An email or SMS conversation is found
        first (``locate``)."""
        limit = time.monotonic() + within_s
        while self.conv.customer_id is None:
            ids = self._line.transcript_ids()
            if self._locator is None or not ids:
                return None
            with contextlib.suppress(httpx.HTTPError, RPCError):
                self.conv.customer_id = await self._locator.find(ids, self.conv.started_at)
            if self.conv.customer_id is None:
                if time.monotonic() >= limit:
                    return None
                await asyncio.sleep(TRANSCRIPT_POLL_S)
        while True:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                r = await self._api.get(
                    f"/v1/customers/{quote(self.conv.customer_id)}/transcript",
                    headers={"X-Api-Key": self._api_key},
                )
                if r.status_code == 200:
                    doc: dict[str, Any] = r.json()
                    self.transcript = doc
                    return doc
            if time.monotonic() >= limit:
                return None
            await asyncio.sleep(TRANSCRIPT_POLL_S)

    def timed_out(self) -> bool:
        entries = (self.transcript or {}).get("entries", [])
        return any(
            str(e.get("message_id", "")).startswith("timeout:")
            and _ts(e["at"]) >= self.conv.started_at - 1
            for e in entries
        )

    async def wait_for_timeout(self) -> bool:
        limit = (
            time.monotonic()
            + self._options.confirmation_timeout_s
            + (self._options.reply_timeout_s)
        )
        while time.monotonic() < limit:
            await self.fetch_transcript()
            if self.timed_out():
                return True
            await asyncio.sleep(TRANSCRIPT_POLL_S)
        self.conv.deviations.append("the agent never closed the unanswered case")
        return False


def _escalated(conv: ConversationResult, transcript: dict[str, Any] | None) -> bool:
    if any(m.reply and HANDOFF in m.reply.lower() for m in conv.messages):
        return True
    for case in (transcript or {}).get("cases", []):
        if case.get("status") == "escalated" and _ts(case["opened_at"]) >= conv.started_at - 1:
            return True
    return False


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Iterator[tuple[Progress, Any]]:
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]simulate[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("conversations  {task.fields[turns]} turns  {task.fields[lost]} lost"),
        TimeElapsedColumn(),
        disable=not enabled,
    )
    with progress:
        task = progress.add_task("simulate", total=total, turns=0, lost=0)
        yield progress, task


async def _set_confirmation_timeout(
    api: httpx.AsyncClient, api_key: str, seconds: float
) -> dict[str, Any]:
    """Set the tenant's confirmation timeout; returns the policy it replaced."""
    headers = {"X-Api-Key": api_key}
    r = await api.get("/v1/policy", headers=headers)
    r.raise_for_status()
    before: dict[str, Any] = r.json()
    doc = {**before, "confirmation_timeout": f"PT{max(1, round(seconds))}S"}
    (await api.put("/v1/policy", headers=headers, json=doc)).raise_for_status()
    return before


class Unreachable(RuntimeError):
    pass


async def _reachable(name: str, http: httpx.AsyncClient) -> None:
    """Fail fast, and plainly, on a wrong address (the run itself would retry for minutes)."""
    try:
        r = await http.get("/health", timeout=10)
    except httpx.HTTPError as err:
        raise Unreachable(f"the {name} at {http.base_url} is not reachable ({err})") from err
    if r.status_code != 200:
        raise Unreachable(f"the {name} at {http.base_url} answered /health with {r.status_code}")


async def _put_policy(api: httpx.AsyncClient, api_key: str, doc: dict[str, Any]) -> bool:
    try:
        r = await api.put("/v1/policy", headers={"X-Api-Key": api_key}, json=doc)
    except httpx.HTTPError:
        return False
    return r.status_code == 200


async def simulate(target: Target, options: SimOptions, *, progress: bool = True) -> SimResult:
    """Drive ``options.customers`` scripted conversations against ``target``."""
    if options.customers < 1 or options.concurrency < 1:
        raise ValueError("customers and concurrency must be at least 1")
    if not target.identity_secret:
        raise ValueError(
            "the simulator speaks as verified customers: it needs the tenant's identity secret"
        )
    rng = random.Random(options.seed)
    behaviours = plan_behaviours(options, rng)
    labels = plan_channels(options.channels, options.customers, options.seed, options.switch_share)
    used = {ends_on(label) for label in labels}
    _check_channels(target, used)
    # Build the held-out split now, off the event loop and outside the timed run.
    await asyncio.to_thread(heldout.heldout_by_intent)
    run_tag = uuid.uuid4().hex[:8]
    limits = httpx.Limits(max_connections=options.concurrency + 8)
    # Email and SMS conversations are found through Temporal's list of workflows (locate).
    temporal = (
        await Client.connect(target.temporal_address, namespace=target.namespace)
        if used != {"chat"}
        else None
    )
    async with (
        httpx.AsyncClient(base_url=target.api_url, limits=limits, timeout=60) as api,
        httpx.AsyncClient(base_url=target.store_url, timeout=30) as store,
    ):
        for name, http in (("API", api), ("store", store)):
            await _reachable(name, http)
        if "sms" in used:
            await _dev_sms_readable(api, target.api_key)
        assignments = await assign(store, [(b, BEHAVIOURS[b].order_need) for b in behaviours], rng)
        notes: list[str] = []
        if used != {"chat"}:
            notes.append(_channels_note(labels))
        restore: dict[str, Any] | None = None
        restored = True
        if "silent_then_back" in behaviours:
            restore = await _set_confirmation_timeout(
                api, target.api_key, options.confirmation_timeout_s
            )
            notes.append(
                f"'silent for hours' is simulated: the tenant's confirmation_timeout was set to "
                f"{options.confirmation_timeout_s:.0f}s for the run (PUT /v1/policy; the dev "
                f"server cannot skip time), and restored afterwards"
            )
        try:
            result = await _run(
                target, options, assignments, labels, api, store, temporal, run_tag, progress
            )
        finally:
            if restore is not None:
                restored = await _put_policy(api, target.api_key, restore)
        if restore is not None and not restored:
            notes.append("the tenant's policy could not be restored after the run")
        result.notes += notes
        await _final_checks(result, assignments, store)
    client = temporal or await Client.connect(target.temporal_address, namespace=target.namespace)
    await count_all(client, result.conversations)
    return result


def _check_channels(target: Target, used: set[str]) -> None:
    """Email and SMS customers need what only some stacks say: fail before the run."""
    if "email" in used and not (target.smtp_address and target.support_email and target.maildir):
        raise ValueError(
            "email customers need the stack's inbound SMTP address, the tenant's support "
            "address and the Maildir its answers land in: run against the stack the "
            "simulator starts, or give --smtp and --data-dir (with demo-tenant.json)"
        )
    if "sms" in used and not (target.tenant_id and target.twilio_auth_token and target.sms_number):
        raise ValueError(
            "SMS customers need the tenant's id, Twilio auth token and SMS number: run "
            "against the stack the simulator starts, or give --data-dir (with "
            "demo-tenant.json)"
        )
    if used != {"chat"} and not target.tenant_id:
        raise ValueError("email and SMS customers need the tenant's id (demo-tenant.json)")


async def _dev_sms_readable(api: httpx.AsyncClient, api_key: str) -> None:
    """SMS answers are read at /dev/sms: only `supportflow up` has it, for its demo tenant."""
    try:
        r = await api.get("/dev/sms", params={"limit": 1}, headers={"X-Api-Key": api_key})
    except httpx.HTTPError as err:
        raise Unreachable(f"/dev/sms at {api.base_url} is not reachable ({err})") from err
    if r.status_code != 200:
        raise Unreachable(
            f"/dev/sms answered {r.status_code}: SMS customers read their answers there, "
            "which only `supportflow up` serves, for its demo tenant's API key"
        )


def _channels_note(labels: list[str]) -> str:
    counted = ", ".join(f"{label} {labels.count(label)}" for label in sorted(set(labels)))
    return (
        f"channels: {counted}. Email customers write over SMTP to the support address and "
        "read answers from the Maildir (by In-Reply-To); SMS customers post Twilio-signed "
        "webhooks from the phone number on their store account and read answers at /dev/sms. "
        "A first email proves nothing, so the agent asks for a reply in its thread: that "
        "reply is counted as a message. Email and SMS latencies include reading the Maildir "
        "or /dev/sms (every 0.2-0.25 s); answers are judged without the email frame or the "
        "SMS store prefix and part markers"
    )


async def _run(
    target: Target,
    options: SimOptions,
    assignments: list[Assignment],
    labels: list[str],
    api: httpx.AsyncClient,
    store: httpx.AsyncClient,
    temporal: Client | None,
    run_tag: str,
    progress_on: bool,
) -> SimResult:
    chat = ChatClient(api, target.chat_key, options.reply_timeout_s, target.identity_secret)
    used = {ends_on(label) for label in labels}
    email = sms = None
    if "email" in used:
        assert target.smtp_address and target.support_email and target.maildir
        email = EmailClient(
            target.smtp_address,
            target.support_email,
            MaildirWatcher(target.maildir),
            options.reply_timeout_s,
        )
    if "sms" in used:
        assert target.tenant_id and target.twilio_auth_token and target.sms_number
        sms = SmsClient(
            api,
            target.tenant_id,
            target.twilio_auth_token,
            target.sms_number,
            SmsWatcher(api, target.api_key),
            options.reply_timeout_s,
        )
    lines = Lines(chat, store, options.seed, email=email, sms=sms)
    locator = (
        Locator(temporal, api, target.api_key, target.tenant_id)
        if temporal is not None and target.tenant_id
        else None
    )
    started = time.time()
    started_mono = time.monotonic()
    many = len(target.worker_pids) > 1
    processes = {
        f"worker-{i}" if many else "worker": pid for i, pid in enumerate(target.worker_pids)
    }
    if target.temporal_pid is not None:
        processes["temporal"] = target.temporal_pid
    sampler = MemorySampler(processes, started_mono)
    gate = asyncio.Semaphore(options.concurrency)
    user_locks: dict[str, asyncio.Lock] = {}
    results: list[ConversationResult] = []
    counters = {"turns": 0, "lost": 0}

    with _progress(progress_on, len(assignments)) as (bar, task):

        def on_turn() -> None:
            counters["turns"] += 1
            bar.update(task, turns=counters["turns"])

        async def one(a: Assignment) -> None:
            # The customer's lock first: one waiting for its customer holds no slot.
            async with user_locks.setdefault(a.user_id, asyncio.Lock()), gate:
                if (
                    options.duration_s is not None
                    and time.monotonic() - started_mono > options.duration_s
                ):
                    bar.update(task, total=(bar.tasks[0].total or 1) - 1)
                    return
                conv = await _converse(
                    a,
                    labels[a.index],
                    lines,
                    locator,
                    api,
                    target.api_key,
                    options,
                    run_tag,
                    on_turn,
                )
                results.append(conv)
                counters["lost"] += conv.lost
                bar.update(task, advance=1, lost=counters["lost"])

        sampler.start()
        try:
            await asyncio.gather(*(one(a) for a in assignments))
        finally:
            await sampler.stop()
    results.sort(key=lambda c: c.index)
    return SimResult(
        target=target,
        options=options,
        started_at=started,
        ended_at=time.time(),
        conversations=results,
        memory=sampler.samples,
    )


async def _converse(
    a: Assignment,
    label: str,
    lines: Lines,
    locator: Locator | None,
    api: httpx.AsyncClient,
    api_key: str,
    options: SimOptions,
    run_tag: str,
    on_turn: Callable[[], None],
) -> ConversationResult:
    conv = ConversationResult(
        index=a.index,
        visitor_id=f"sim-{run_tag}-{a.index}",
        behaviour=a.behaviour,
        email=a.email,
        order_id=a.order["order_id"] if a.order else None,
        started_at=time.time(),
        channel=label,
    )
    # Each conversation's own stream: its text does not depend on how the others interleave.
    rng = random.Random(f"{options.seed}:{a.index}")
    line = await lines.line(label, conv, a.user_id)
    talk = _Conversation(conv, line, api, api_key, rng, options, on_turn, locator)
    try:
        await BEHAVIOURS[a.behaviour].run(talk, a.order)
    except Unanswered as err:
        conv.outcome_ok = False
        conv.outcome_detail = f"script stopped: a message was not answered ({err})"
    except OffScript:
        pass  # noted in deviations; the outcome check tells what it cost
    conv.ended_at = time.time()
    transcript = await talk.fetch_transcript(within_s=options.reply_timeout_s)
    if transcript is not None and conv.customer_id is not None:
        conv.workflow_id = customer_workflow_id(str(transcript["tenant_id"]), conv.customer_id)
    elif conv.customer_id is not None:
        conv.deviations.append("transcript unreadable: workflow id unknown")
    conv.escalated = _escalated(conv, transcript)
    conv.resolved = conv.lost == 0 and not conv.escalated
    conv.first_message_understood = conv.first_message_understood and bool(conv.messages)
    conv.timed_out = talk.timed_out()
    return conv


async def _final_checks(
    result: SimResult, assignments: list[Assignment], store: httpx.AsyncClient
) -> None:
    """Each outcome against the store's final state, then the store's invariants."""
    before: dict[int, Doc | None] = {a.index: a.order for a in assignments}
    for conv in result.conversations:
        facts = Facts(escalated=conv.escalated, timed_out=conv.timed_out)
        if conv.outcome_ok is False:
            continue
        after = await read_order(store, conv.order_id) if conv.order_id else None
        wrong = check(conv.expected, before[conv.index], after, facts)
        conv.outcome_ok = not wrong
        conv.outcome_detail = "; ".join(wrong)
    r = await store.get("/admin/invariants")
    if r.status_code == 404:
        result.notes.append("store invariants not checked: the store's /admin routes are off")
    else:
        r.raise_for_status()
        result.invariant_violations = list(r.json()["violations"])

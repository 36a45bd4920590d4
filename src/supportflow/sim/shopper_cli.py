"""`supportflow simulate --shoppers N`: the shopper run, alone or beside conversations.

With conversations too, both run against the same stack at the same time, so the support
figures (automation, correct outcomes) are measured with the sales agent at work. The
tenant's sales set-up is made first and restored last: the conversation simulator reads
the policy after it (for its own confirmation timeout) and puts back what it read, so the
original policy is restored only once both are done.

Exit status: 0 when the conversations' gate passed (if any ran) and the stack counted one
exposure per checkout and one conversion per order the shoppers placed, with no shopper
error; 1 otherwise.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
from rich.console import Console

from supportflow.sim.model import SimOptions, SimResult, Target
from supportflow.sim.shopper_arms import parse_arms
from supportflow.sim.shopper_report import print_summary, summarize, write_shopper_report
from supportflow.sim.shoppers import ShopperOptions, ShopperRun, prepared, simulate_shoppers

ReportConversations = Callable[[SimResult, Path, Console], SimResult]


def shopper_options(
    shoppers: int, seed: int, arms: Sequence[str], delay_minutes: int, ramp_s: float
) -> ShopperOptions:
    """The run's options from the command line; ValueError naming what is wrong."""
    return ShopperOptions(
        shoppers=shoppers,
        seed=seed,
        arms=parse_arms(arms),
        reminder_delay_min=delay_minutes,
        ramp_s=ramp_s,
    )


async def run_with_shoppers(
    target: Target | None,
    conversations: SimOptions | None,
    options: ShopperOptions,
    out: Path,
    progress: bool,
    console: Console,
    report_conversations: ReportConversations,
) -> bool:
    """Run (starting an embedded stack when ``target`` is None), report, and say whether
    the run passed."""
    if target is None:
        from supportflow.sim.stack import embedded_stack

        with tempfile.TemporaryDirectory(prefix="supportflow-sim-") as tmp:
            console.print(f"starting an embedded stack in {tmp}")
            async with embedded_stack(Path(tmp) / "data", Path(tmp) / "up.log") as embedded:
                return await _both(
                    embedded, conversations, options, out, progress, console, report_conversations
                )
    return await _both(target, conversations, options, out, progress, console, report_conversations)


async def _both(
    target: Target,
    conversations: SimOptions | None,
    options: ShopperOptions,
    out: Path,
    progress: bool,
    console: Console,
    report_conversations: ReportConversations,
) -> bool:
    from supportflow.sim.runner import simulate

    run_tag = uuid.uuid4().hex[:8]
    conv: SimResult | None = None
    async with httpx.AsyncClient(base_url=target.api_url, timeout=60) as api:
        async with prepared(target, options, api, run_tag) as setup:
            # One live display at a time: the conversations' bar when both run.
            shopping = simulate_shoppers(
                target,
                options,
                progress=progress and conversations is None,
                setup=setup,
                run_tag=run_tag,
            )
            run: ShopperRun
            if conversations is None:
                run = await shopping
            else:
                run, conv = await asyncio.gather(
                    shopping, simulate(target, conversations, progress=progress)
                )
        run.notes += setup.notes
    passed = True
    if conv is not None:
        report_conversations(conv, out, console)
        passed = conv.passed
    md, _ = write_shopper_report(run, out)
    s = summarize(run)
    print_summary(console, s, md)
    checks = s["checks"]
    return (
        passed
        and checks["exposures_match"]
        and checks["conversions_match"]
        and s["shoppers"]["errors"] == 0
    )

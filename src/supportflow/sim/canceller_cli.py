"""`supportflow simulate --cancellers N`: the canceller run against a stack (an embedded one
unless a running stack is named), its report, and whether it passed.

Cancellers run alone: with retention on for the run, the conversation simulator's scripted
cancels ("I no longer need it", then a yes) would meet an offer their scripts do not expect,
and the shopper run turns on reminders this run turns off.

Exit status: 0 when the stack counted as many exposures and saves as the cancellers made (in
the right arms, where their offers tell the arms apart), said its counts are saves, and left
every order as its canceller wanted, with no canceller error; 1 otherwise.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from supportflow.sim.canceller_arms import parse_arms
from supportflow.sim.canceller_report import passed, print_summary, summarize
from supportflow.sim.canceller_report import write_canceller_report as write_report
from supportflow.sim.cancellers import CancellerOptions, simulate_cancellers
from supportflow.sim.model import Target


def canceller_options(cancellers: int, seed: int, arms: Sequence[str]) -> CancellerOptions:
    """The run's options from the command line; ValueError naming what is wrong."""
    return CancellerOptions(cancellers=cancellers, seed=seed, arms=parse_arms(arms))


async def run_cancellers(
    target: Target | None,
    options: CancellerOptions,
    out: Path,
    progress: bool,
    console: Console,
) -> bool:
    """Run (starting an embedded stack when ``target`` is None), report, and say whether
    the run passed."""
    if target is None:
        from supportflow.sim.stack import embedded_stack

        with tempfile.TemporaryDirectory(prefix="supportflow-sim-") as tmp:
            console.print(f"starting an embedded stack in {tmp}")
            async with embedded_stack(Path(tmp) / "data", Path(tmp) / "up.log") as embedded:
                run = await simulate_cancellers(embedded, options, progress=progress)
    else:
        run = await simulate_cancellers(target, options, progress=progress)
    md, _ = write_report(run, out)
    s = summarize(run)
    print_summary(console, s, md)
    return passed(s)

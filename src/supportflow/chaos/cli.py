"""`supportflow chaos`: simulate customers while breaking the stack, then check nothing broke."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer


def chaos_command(
    conversations: Annotated[int, typer.Option(min=1, help="Simulated conversations.")] = 200,
    kills: Annotated[int, typer.Option(min=0, help="Worker processes to SIGKILL.")] = 20,
    seed: Annotated[int, typer.Option(help="Seeds the customers and the chaos.")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
    concurrency: Annotated[int, typer.Option(min=1, help="Conversations at a time.")] = 50,
    server_restarts: Annotated[
        int, typer.Option(min=0, help="Times the Temporal dev server is stopped and started.")
    ] = 1,
    store_error_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of store calls that fail.")
    ] = 0.2,
    store_timeout_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of store calls that stall past timeout.")
    ] = 0.02,
    kill_gap: Annotated[
        tuple[float, float],
        typer.Option(help="Seconds between kills: drawn uniformly from LOW HIGH."),
    ] = (2.0, 12.0),
    keep_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the stack's data and logs here (default: a temp dir, removed)."),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Also write the report as JSON to this file.")
    ] = None,
) -> None:
    """Run a simulation while killing workers, restarting Temporal and failing the store;
    then check every message was answered once, no action doubled, every saga finished,
    the store's invariants hold and every history replays. Exits 1 if any check fails."""
    from rich.console import Console

    from supportflow.chaos.monkey import ChaosPlan
    from supportflow.chaos.report import print_report, write_json
    from supportflow.chaos.run import ChaosOptions, run_chaos
    from supportflow.logs import setup_logging

    setup_logging("INFO")
    try:
        plan = ChaosPlan(
            kills=kills,
            temporal_restarts=server_restarts,
            store_error_rate=store_error_rate,
            store_timeout_rate=store_timeout_rate,
            kill_gap_s=kill_gap,
            seed=seed,
        )
        options = ChaosOptions(
            conversations=conversations,
            concurrency=concurrency,
            workers=workers,
            seed=seed,
            plan=plan,
            keep_dir=keep_dir.resolve() if keep_dir else None,
        )
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    result = asyncio.run(run_chaos(options))
    print_report(result, Console())
    if report is not None:
        write_json(result, report)
    raise typer.Exit(0 if result.ok else 1)

"""The chaos run's report: the event log, the figures and one table of checks."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from supportflow.chaos.run import ChaosReport


def print_report(report: ChaosReport, console: Console, *, events: bool = True) -> None:
    if events:
        log = Table(title="chaos events", show_lines=False)
        log.add_column("t (s)", justify="right")
        log.add_column("event")
        log.add_column("detail")
        for e in report.events.events:
            log.add_row(f"{e.at_s:.2f}", e.kind, e.detail)
        console.print(log)

    t = report.tally
    faults = ", ".join(f"{k} {n}" for k, n in sorted(t.store_faults.items())) or "none"
    figures = Table(title="chaos figures", show_header=False)
    figures.add_column("what")
    figures.add_column("figure", justify="right")
    for what, value in (
        ("conversations", str(report.conversations)),
        ("worker kills (SIGKILL)", str(t.kills)),
        ("worker restarts", str(t.worker_starts)),
        ("unplanned worker exits", str(t.unplanned_exits)),
        ("Temporal server restarts", str(t.temporal_restarts)),
        ("store faults injected", faults),
        ("conversations with the expected store outcome", str(report.outcomes_ok)),
        ("simulation time", f"{report.simulation_s:.1f} s"),
        ("wall time (stack up to checks done)", f"{report.wall_s:.1f} s"),
    ):
        figures.add_row(what, value)
    console.print(figures)

    checks = Table(title="checks")
    checks.add_column("check")
    checks.add_column("result")
    checks.add_column("figures")
    for c in report.checks:
        checks.add_row(c.name, "[green]ok[/]" if c.ok else "[red]FAIL[/]", c.summary)
    console.print(checks)
    for c in report.checks:
        if c.problems:
            console.print(f"[red]{c.name}[/]: {len(c.problems)} problems")
            for p in c.problems[:20]:
                console.print(f"  {p}", markup=False, highlight=False)
    verdict = "[green]PASSED[/]" if report.ok else "[red]FAILED[/]"
    console.print(f"chaos run {verdict}")


def write_json(report: ChaosReport, path: Path) -> None:
    path.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")

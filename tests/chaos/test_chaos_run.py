"""The chaos run, CI size: 40 conversations with actions while 5 workers are SIGKILLed, the
Temporal dev server is restarted once and the store fails and stalls some of its calls.
Asserts correctness (nothing lost, nothing doubled, sagas settled, invariants, replay), not
speed. `supportflow chaos` is the full-size run (docs/chaos.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportflow.chaos.monkey import ChaosPlan
from supportflow.chaos.run import ChaosOptions, run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


async def test_chaos_run_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    plan = ChaosPlan(
        kills=5,
        temporal_restarts=1,
        # Lower than the full run's 20% / 2%: the same paths (retries, replays of committed
        # writes, stalls past the client timeout) with a shorter tail, to fit CI's time.
        store_error_rate=0.1,
        store_timeout_rate=0.01,
        kill_gap_s=(2.0, 8.0),
        seed=7,
    )
    options = ChaosOptions(
        conversations=40, concurrency=40, workers=2, seed=7, plan=plan, keep_dir=tmp_path
    )
    report = await run_chaos(options, progress=False)

    by_name = {c.name: c for c in report.checks}
    failed = {c.name: (c.summary, c.problems[:10]) for c in report.checks if not c.ok}
    assert not failed, (failed, (tmp_path / "logs"))
    assert report.tally.kills == 5 and report.tally.temporal_restarts == 1
    assert report.tally.worker_starts >= 5
    assert sum(report.tally.store_faults.values()) > 0
    answered = by_name["every message answered exactly once"].figures
    assert report.conversations == 40
    assert answered["messages"] >= 80 and answered["answered"] == answered["messages"]
    assert answered["lost"] == 0 and answered["duplicates"] == 0
    assert by_name["no action applied twice"].figures["store_writes"] > 0
    assert by_name["every history replays"].figures["histories"] >= 40
    kinds = [e.kind for e in report.events.events]
    assert kinds.count("kill") == 5 and "temporal-stop" in kinds and "temporal-start" in kinds

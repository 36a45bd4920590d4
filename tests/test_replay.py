"""Every recorded CustomerWorkflow history must replay on the current code: a workflow
change that breaks determinism for running conversations fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from supportflow.worker import workflows
from tests.helpers import TEST_CONVERTER

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_recorded_histories() -> None:
    assert HISTORIES, "tests/histories is empty: run python -m tests.record_histories"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text("utf-8"))
    # The codec converter reads both: histories recorded before encryption (plain payloads
    # pass through) and encrypted ones recorded with the test key.
    replayer = Replayer(workflows=workflows(), data_converter=TEST_CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None

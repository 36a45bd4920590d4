"""The CI short version of `supportflow simulate`: ~50 conversations of every behaviour
against a real embedded stack (`supportflow up` in a process of its own), checked for
correctness, not speed."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from supportflow.sim import BEHAVIOURS, SimOptions, Target, embedded_stack, simulate, write_report
from supportflow.sim.client import ChatClient
from supportflow.store.invariants import check
from tests.helpers import SUPPORTFLOW, free_port


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Target, Path]]:
    root = tmp_path_factory.mktemp("sim-stack")
    async with embedded_stack(root / "data", root / "up.log") as target:
        yield target, root / "data"


@pytest.mark.slow
async def test_fifty_conversations_lose_nothing_and_leave_the_store_right(
    stack: tuple[Target, Path], tmp_path: Path
) -> None:
    target, data_dir = stack
    options = SimOptions(
        customers=50, concurrency=10, seed=5, reply_timeout_s=120, confirmation_timeout_s=15
    )
    result = await simulate(target, options, progress=False)

    convs = result.conversations
    assert len(convs) == 50
    assert Counter(c.behaviour for c in convs) == {b: 5 for b in BEHAVIOURS}
    orders = [c.order_id for c in convs if c.order_id]
    assert len(orders) == len(set(orders)), "an order was in two conversations"
    assert result.lost_messages == 0
    assert [m for m in result.messages if m.duplicate or m.attempts != 1] == []
    wrong = [(c.index, c.behaviour, c.outcome_detail, c.deviations) for c in convs]
    assert [w for w, c in zip(wrong, convs, strict=True) if c.outcome_ok is not True] == []
    assert result.invariant_violations == []
    assert check(data_dir / "store.db") == []
    assert result.passed
    # What the report is built from was all measured.
    assert all(c.workflow_id and sum(c.billable_actions.values()) > 0 for c in convs)
    assert {s.process for s in result.memory} == {"temporal", "worker"}
    assert all(c.escalated == (c.behaviour == "ask_for_human") for c in convs)
    assert all(c.timed_out for c in convs if c.behaviour == "silent_then_back")

    paths = write_report(result, tmp_path / "report")
    assert paths.markdown.read_text("utf-8").count("Gate: **PASSED**") == 1
    assert paths.json.stat().st_size > 0 and len(paths.charts) == 4


async def test_a_resent_message_id_gets_the_first_reply_and_no_second_turn(
    stack: tuple[Target, Path],
) -> None:
    """What the simulator's retries rely on: the same message id is one turn, however often
    it is sent."""
    target, _ = stack
    async with httpx.AsyncClient(base_url=target.api_url, timeout=60) as http:
        chat = ChatClient(http, target.chat_key, reply_timeout_s=60)
        email = "james.li4495@example.com"
        first, _ = await chat.send("dedup-visitor", "dedup-1", "where is order #W2611340", email)
        again, doc = await chat.send("dedup-visitor", "dedup-1", "where is order #W2611340")
        assert first.reply is not None and "#W2611340" in first.reply
        assert (again.reply, again.duplicate, first.duplicate) == (first.reply, True, False)
        r = await http.get(
            f"/v1/customers/{doc['customer_id']}/transcript",
            headers={"X-Api-Key": target.api_key},
        )
        entries = [e for e in r.json()["entries"] if e["message_id"] == "dedup-1"]
        assert [e["role"] for e in entries] == ["customer", "agent"]


async def test_the_command_against_a_running_stack_writes_the_report_and_exits_0(
    stack: tuple[Target, Path], tmp_path: Path
) -> None:
    target, data_dir = stack
    out = tmp_path / "report"
    proc = await asyncio.create_subprocess_exec(
        SUPPORTFLOW,
        "simulate",
        "--customers=4",
        "--concurrency=2",
        "--seed=11",
        "--behaviours=order_status,cancel_confirm",
        f"--api={target.api_url}",
        f"--store={target.store_url}",
        f"--temporal={target.temporal_address}",
        f"--data-dir={data_dir}",
        f"--out={out}",
        "--no-progress",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    assert proc.returncode == 0, output.decode()
    assert "gate: PASSED" in output.decode()
    doc = json.loads((out / "report.json").read_text("utf-8"))
    assert doc["summary"]["conversations"] == 4 and doc["summary"]["correct_outcome_rate"] == 1
    assert {c["behaviour"] for c in doc["conversations"]} == {"order_status", "cancel_confirm"}
    assert "api_key" not in doc["target"]


async def test_an_unreachable_stack_is_a_plain_error(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        SUPPORTFLOW,
        "simulate",
        f"--api=http://127.0.0.1:{free_port()}",
        "--chat-key=k",
        "--api-key=k",
        f"--out={tmp_path}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    assert proc.returncode == 2
    assert b"is not reachable" in output and b"Traceback" not in output

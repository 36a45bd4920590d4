"""The CI short version of `supportflow simulate`: ~50 conversations of every behaviour
against a real embedded stack (`supportflow up` in a process of its own), checked for
correctness, not speed."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from supportflow.demo_store.invariants import check
from supportflow.sim import BEHAVIOURS, SimOptions, Target, embedded_stack, simulate, write_report
from supportflow.sim.client import ChatClient
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
    # 50 new conversations are more than one address may start (rate limits): each simulated
    # shopper comes from an address of its own, so none was throttled.
    assert [m for m in result.messages if m.throttled] == []
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
        chat = ChatClient(http, target.chat_key, 60, target.identity_secret)
        email = "james.li4495@example.com"
        ask = "where is order #W2611340"
        first, _ = await chat.send("dedup-visitor", "dedup-1", ask, as_email=email)
        # Sent again with a freshly signed token: the same message all the same.
        again, doc = await chat.send("dedup-visitor", "dedup-1", ask, as_email=email)
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
    # The console wraps long lines (the report's path is as long as the temp dir's).
    assert "gate: PASSED" in " ".join(output.decode().split())
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
        "--identity-secret=s",
        f"--out={tmp_path}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    assert proc.returncode == 2
    assert b"is not reachable" in output and b"Traceback" not in output


async def test_a_remote_stack_without_its_identity_secret_is_a_plain_error(
    tmp_path: Path,
) -> None:
    """Keys given on the command line name a stack whose secret only the caller knows: the
    simulator asks for it rather than sign with another tenant's (or send unsigned)."""
    env = {k: v for k, v in os.environ.items() if k != "SUPPORTFLOW_SIM_IDENTITY_SECRET"}
    proc = await asyncio.create_subprocess_exec(
        SUPPORTFLOW,
        "simulate",
        f"--api=http://127.0.0.1:{free_port()}",
        "--chat-key=k",
        "--api-key=k",
        f"--out={tmp_path}",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    assert proc.returncode == 2
    assert b"--identity-secret" in output and b"Traceback" not in output
    assert not (tmp_path / "report.json").exists()


async def test_the_simulator_signs_every_message_as_its_customer(
    stack: tuple[Target, Path],
) -> None:
    """Each message is the verified customer's (the transcript says so); a wrong secret is
    refused at once, not retried for the whole reply timeout."""
    target, _ = stack
    email = "james.li4495@example.com"
    async with httpx.AsyncClient(base_url=target.api_url, timeout=60) as http:
        chat = ChatClient(http, target.chat_key, 60, target.identity_secret)
        first, doc = await chat.send(
            "signed-visitor", "signed-1", "where is order #W2611340", as_email=email
        )
        second, _ = await chat.send(
            "signed-visitor", "signed-2", "and its tracking number?", as_email=email
        )
        assert first.reply is not None and "#W2611340" in first.reply
        assert second.reply is not None
        r = await http.get(
            f"/v1/customers/{doc['customer_id']}/transcript",
            headers={"X-Api-Key": target.api_key},
        )
        view = r.json()
        mine = [e for e in view["entries"] if e["message_id"] in ("signed-1", "signed-2")]
        assert [e.get("verified_by") for e in mine if e["role"] == "customer"] == [
            "token",
            "token",
        ]
        forged = ChatClient(http, target.chat_key, 60, "not-the-tenants-secret-" + "x" * 32)
        started = asyncio.get_running_loop().time()
        refused, _ = await forged.send("forged-visitor", "forged-1", "hi", as_email=email)
        assert asyncio.get_running_loop().time() - started < 10
        assert refused.reply is None and refused.attempts == 1
        assert refused.error is not None and refused.error.startswith("refused: http 401")

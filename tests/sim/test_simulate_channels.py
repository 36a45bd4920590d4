"""`supportflow simulate` with a channel mix against a real embedded stack (`supportflow up`
in a process of its own): chat, email over SMTP with answers read from the Maildir, SMS as
Twilio-signed webhooks with answers read at /dev/sms. Every channel's customers answered,
outcomes judged per channel."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from supportflow.sim import SimOptions, Target, embedded_stack, simulate, write_report
from supportflow.sim.report import summarize
from tests.helpers import SUPPORTFLOW, free_port

# Quick behaviours, with and without store actions and a hand-over: no waiting for timeouts.
QUICK = ("order_status", "cancel_confirm", "address_change", "ask_for_human")


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Target, Path]]:
    root = tmp_path_factory.mktemp("sim-channels")
    async with embedded_stack(root / "data", root / "up.log") as target:
        yield target, root / "data"


@pytest.mark.slow
async def test_a_mixed_run_answers_every_channel_and_judges_each(
    stack: tuple[Target, Path], tmp_path: Path
) -> None:
    target, _ = stack
    assert target.smtp_address and target.support_email and target.sms_number
    options = SimOptions(
        customers=12,
        concurrency=12,
        seed=21,
        reply_timeout_s=60,
        behaviours=QUICK,
        channels=(("chat", 4), ("email", 4), ("sms", 4)),
    )
    result = await simulate(target, options, progress=False)

    convs = result.conversations
    assert Counter(c.channel for c in convs) == {"chat": 4, "email": 4, "sms": 4}
    for c in convs:
        assert {m.channel for m in c.messages} == {c.channel}, c.index
    assert result.lost_messages == 0, [
        (c.channel, c.behaviour, m.error) for c in convs for m in c.messages if not m.answered
    ]
    wrong = [(c.channel, c.behaviour, c.outcome_detail, c.deviations) for c in convs]
    assert [w for w, c in zip(wrong, convs, strict=True) if c.outcome_ok is not True] == []
    assert result.passed
    # Email and SMS conversations were found (their answers do not name them): their
    # transcripts judged the hand-overs, their histories were counted.
    assert all(c.workflow_id and sum(c.billable_actions.values()) > 0 for c in convs)
    assert all(c.escalated == (c.behaviour == "ask_for_human") for c in convs)
    # A first email proves nothing: where the agent needed the account, the customer
    # confirmed by replying in the thread, and that reply is a message of its own.
    for c in convs:
        if c.channel == "email" and c.behaviour in ("cancel_confirm", "address_change"):
            assert "Yes, that's me." in [m.text for m in c.messages], c.index
    # Answers are judged without the frames: no "Hi ...," or store prefix left.
    replies = [m.reply or "" for c in convs if c.channel != "chat" for m in c.messages]
    assert not [r for r in replies if r.startswith(("Hi", "Demo Store:")) or "regards" in r]

    s = summarize(result)
    assert list(s["by_channel"]) == ["chat", "email", "sms"]
    for label, row in s["by_channel"].items():
        assert (row["conversations"], row["correct"], row["lost_messages"]) == (4, 4, 0), label
        assert row["turn_p50_s"] is not None
    assert s["whole"]["conversations"] == 12 and s["whole"]["correct"] == 12
    assert set(s["latency_by_channel"]) == {"chat", "email", "sms"}
    md = write_report(result, tmp_path / "report").markdown.read_text("utf-8")
    assert "## By channel" in md and "| **whole** | 12 | 12 (100.0%)" in md

    # What the customers saw is in each conversation's transcript, on its channel.
    async with httpx.AsyncClient(base_url=target.api_url, timeout=30) as api:
        for c in convs:
            r = await api.get(
                f"/v1/customers/{c.customer_id}/transcript",
                headers={"X-Api-Key": target.api_key},
            )
            mine = [e for e in r.json()["entries"] if e["role"] == "customer"]
            assert {e["channel"] for e in mine} == {c.channel}, c.index


@pytest.mark.slow
async def test_customers_who_start_in_chat_go_on_by_sms_in_the_same_conversation(
    stack: tuple[Target, Path],
) -> None:
    """The phone on the store account verifies a text, so it joins the conversation the
    shopper started in chat (signed in): one transcript, both channels, the case carried on."""
    target, _ = stack
    options = SimOptions(
        customers=3,
        concurrency=3,
        seed=22,
        reply_timeout_s=60,
        behaviours=("cancel_confirm", "address_change"),
        channels=(("sms", 1),),
        switch_share=1.0,
    )
    result = await simulate(target, options, progress=False)
    convs = result.conversations
    assert [c.channel for c in convs] == ["chat+sms"] * 3
    assert result.passed, [(c.outcome_detail, c.deviations) for c in convs]
    async with httpx.AsyncClient(base_url=target.api_url, timeout=30) as api:
        for c in convs:
            assert [m.channel for m in c.messages][:2] == ["chat", "sms"]
            r = await api.get(
                f"/v1/customers/{c.customer_id}/transcript",
                headers={"X-Api-Key": target.api_key},
            )
            mine = [e["channel"] for e in r.json()["entries"] if e["role"] == "customer"]
            assert mine == [m.channel for m in c.messages], c.index


async def test_a_mix_the_stack_cannot_serve_is_a_plain_error(tmp_path: Path) -> None:
    """Email customers against a stack named only by its API: said at once, nothing run."""
    for channels, says in (
        ("chat=50,email=50", b"--smtp"),
        ("chat=50,fax=50", b"unknown channel 'fax'"),
    ):
        proc = await asyncio.create_subprocess_exec(
            SUPPORTFLOW,
            "simulate",
            f"--api=http://127.0.0.1:{free_port()}",
            "--chat-key=k",
            "--api-key=k",
            "--identity-secret=s",
            f"--channels={channels}",
            f"--out={tmp_path}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await proc.communicate()
        assert proc.returncode == 2, output
        assert says in b" ".join(output.split()) and b"Traceback" not in output
        assert not (tmp_path / "report.json").exists()

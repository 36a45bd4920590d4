"""The report writer on a small hand-made result: figures, files, no secrets."""

from __future__ import annotations

import json
from pathlib import Path

from supportflow.sim import (
    ConversationResult,
    MemorySample,
    SentMessage,
    SimOptions,
    SimResult,
    Target,
    write_report,
)
from supportflow.sim.report import summarize

SECRET = "sf_api_do-not-print-me"
IDENTITY_SECRET = "identity-secret-do-not-print-me"
PNG = b"\x89PNG\r\n\x1a\n"


def msg(i: int, latency: float | None, *, reply: str | None = "ok") -> SentMessage:
    return SentMessage(
        message_id=f"m{i}",
        text="hello",
        sent_at=100.0 + i,
        answered_at=None if latency is None else 100.0 + i + latency,
        latency_s=latency,
        reply=reply,
        intent="track_order",
        attempts=1 if latency is not None else 3,
        throttled=1 if latency is None else 0,
    )


def small_result() -> SimResult:
    target = Target(
        api_url="http://127.0.0.1:1",
        chat_key="sf_chat_public",
        api_key=SECRET,
        store_url="http://127.0.0.1:2",
        temporal_address="127.0.0.1:3",
        identity_secret=IDENTITY_SECRET,
    )
    convs = [
        ConversationResult(
            index=0,
            visitor_id="v0",
            behaviour="cancel_confirm",
            email="a@example.com",
            order_id="#W1",
            messages=[msg(0, 0.1), msg(1, 0.2), msg(2, 0.3)],
            outcome_ok=True,
            resolved=True,
            billable_actions={"update": 3, "activity": 3, "workflow started": 1},
        ),
        ConversationResult(
            index=1,
            visitor_id="v1",
            behaviour="ask_for_human",
            email="b@example.com",
            order_id=None,
            messages=[msg(3, 1.0)],
            outcome_ok=True,
            escalated=True,
            billable_actions={"update": 1, "workflow started": 1},
        ),
        ConversationResult(
            index=2,
            visitor_id="v2",
            behaviour="cancel_confirm",
            email="c@example.com",
            order_id="#W2",
            messages=[msg(4, 0.5), msg(5, None, reply=None)],
            outcome_ok=False,
            outcome_detail="script stopped: a message was not answered",
            billable_actions={"update": 1, "workflow started": 1, "activity": 1},
        ),
    ]
    memory = [
        MemorySample(at=t, process=p, pid=pid, rss_bytes=mb * 1024 * 1024)
        for t, mb in ((0.0, 100), (1.0, 150), (2.0, 120))
        for p, pid in (("temporal", 11), ("worker", 12))
    ]
    return SimResult(
        target=target,
        options=SimOptions(customers=3, concurrency=2),
        started_at=100.0,
        ended_at=110.0,
        conversations=convs,
        memory=memory,
        notes=["a note"],
    )


def test_figures() -> None:
    s = summarize(small_result())
    assert (s["conversations"], s["messages"], s["answered"], s["lost_messages"]) == (3, 6, 5, 1)
    assert s["resent_messages"] == 1
    assert s["throttled_messages"] == 1
    assert s["automation_rate"] == 1 / 3
    assert s["escalation_rate"] == 1 / 3
    assert s["correct_outcome_rate"] == 2 / 3
    assert s["latency_s"]["p50"] == 0.3 and s["latency_s"]["p99"] == 1.0
    assert s["turns_per_s"] == 0.5
    assert s["conversations_per_min"] == 18.0
    actions = s["billable_actions"]
    assert (actions["mean"], actions["p50"], actions["max"]) == (4.0, 3.0, 7.0)
    assert actions["by_behaviour"]["cancel_confirm"]["max"] == 7.0
    assert actions["by_kind"] == {"activity": 4, "update": 5, "workflow started": 3}
    assert s["memory"]["temporal"] == {"start_mb": 100.0, "peak_mb": 150.0, "end_mb": 120.0}
    assert s["passed"] is False


def test_writes_markdown_json_and_charts(tmp_path: Path) -> None:
    out = tmp_path / "report"
    paths = write_report(small_result(), out)
    assert paths.markdown == out / "report.md" and paths.json == out / "report.json"
    assert {p.name for p in paths.charts} == {
        "latency.png",
        "billable_actions.png",
        "throughput.png",
        "memory.png",
    }
    for chart in paths.charts:
        assert chart.read_bytes().startswith(PNG) and chart.stat().st_size > 5000
    md = paths.markdown.read_text("utf-8")
    assert "Gate: **FAILED**" in md
    assert "| lost messages | 1 |" in md
    assert "| messages rate limited (429, waited out) | 1 |" in md
    assert "| turn latency p50 / p95 / p99 | 300 ms / 1000 ms / 1000 ms |" in md
    assert "#2 cancel_confirm order #W2" in md
    assert "![memory](memory.png)" in md
    doc = json.loads(paths.json.read_text("utf-8"))
    assert doc["summary"]["lost_messages"] == 1
    assert len(doc["conversations"]) == 3
    assert doc["conversations"][2]["messages"][1]["reply"] is None
    for text in (md, paths.json.read_text("utf-8")):
        assert SECRET not in text and IDENTITY_SECRET not in text
    assert IDENTITY_SECRET not in repr(small_result().target)  # nor in a log line

"""CSAT through the real CustomerWorkflow (sales-v1), on real Temporal servers (dev and
time-skipping), the real demo store and the app database: a resolved case's reply asks for a
rating once; the next message, when it is only a rating, is recorded for that case and
thanked; anything else is a normal turn; the question is not asked again the same day; a
turn that closes nothing records nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.models import AgentEventRow
from supportflow.settings import Settings
from supportflow.workflows.contract import customer_workflow_id
from tests.test_procedures_workflow import Chat

QUESTION = "How did we do? Reply with a number from 1 (poor) to 5 (great)."
THANKS = "Thanks for your rating!"
# Orders read, never changed: any test may ask about them.
JAMES = ("james.li4495@example.com", "#W2611340", "#W3632959", "#W3638028")


def events(settings: Settings, tenant_id: str) -> list[AgentEventRow]:
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as s:
            q = select(AgentEventRow).where(AgentEventRow.tenant_id == tenant_id)
            return list(s.scalars(q.order_by(AgentEventRow.id)).all())
    finally:
        engine.dispose()


async def history(env: WorkflowEnvironment, chat: Chat) -> dict[str, Any]:
    handle = env.client.get_workflow_handle(customer_workflow_id(chat.tenant_id, chat.customer))
    return (await handle.fetch_history()).to_json_dict()


def outcome_records(h: dict[str, Any]) -> int:
    """The local activities in history that recorded a turn's outcomes."""
    found = 0
    for e in h["events"]:
        marker = e.get("markerRecordedEventAttributes")
        if marker is None or "data" not in marker["details"]:
            continue
        data = json.loads(base64.b64decode(marker["details"]["data"]["payloads"][0]["data"]))
        found += data["activity_type"] == "record_turn_outcomes"
    return found


async def test_a_resolved_case_asks_once_and_a_bare_number_is_the_rating(
    workflow_env: WorkflowEnvironment, settings: Settings, running: None
) -> None:
    chat = Chat(workflow_env, settings, "t_csat")
    greeting = await chat.say("hi", email=JAMES[0])
    assert QUESTION not in greeting
    h = await history(workflow_env, chat)
    assert outcome_records(h) == 0, "a turn that closes nothing records nothing"
    status = await chat.say(f"where is my order {JAMES[1]}")
    assert "processed" in status and status.endswith(QUESTION)
    assert outcome_records(await history(workflow_env, chat)) == 1
    assert await chat.say("5") == THANKS
    again = await chat.say("5")
    assert again != THANKS and QUESTION not in again, "one rating per question"
    recorded = events(settings, "t_csat")
    csat = [e for e in recorded if e.kind == "csat"]
    assert [(e.data["rating"], e.data["channel"]) for e in csat] == [(5, "chat")]
    closed = [e for e in recorded if e.kind == "case_closed"]
    assert [(e.data["outcome"], e.data["by_person"]) for e in closed] == [("resolved", False)]
    assert closed[0].data["intent"] in ("track_order", "check_order_status")
    assert csat[0].subject == closed[0].subject, "the rating is for the case just closed"


async def test_other_words_after_the_question_are_a_normal_turn_and_it_is_not_asked_again(
    workflow_env: WorkflowEnvironment, settings: Settings, running: None
) -> None:
    email, _, first, second = JAMES
    chat = Chat(workflow_env, settings, "t_csat2")
    assert (await chat.say(f"where is my order {first}", email=email)).endswith(QUESTION)
    more = await chat.say("5 more shirts please")
    assert more != THANKS and QUESTION not in more
    later = await chat.say(f"and where is order {second}?")
    assert second in later and QUESTION not in later, "asked once a day at most"
    assert [e.kind for e in events(settings, "t_csat2")] == ["case_closed", "case_closed"]


async def test_no_question_after_a_hand_over(
    workflow_env: WorkflowEnvironment, settings: Settings, running: None
) -> None:
    chat = Chat(workflow_env, settings, "t_csat3")
    handed = await chat.say("I want to talk to a human", email=JAMES[0])
    assert QUESTION not in handed
    assert await chat.say("5") != THANKS
    assert [(e.kind, e.data.get("outcome")) for e in events(settings, "t_csat3")] == [
        ("case_closed", "escalated")
    ]

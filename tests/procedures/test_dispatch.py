"""The dispatcher decides once what a turn does, from the one intent table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

from supportflow.procedures.base import PROCEDURES
from supportflow.procedures.case import CaseState, ProcedureName
from supportflow.procedures.dispatch import (
    MAX_CLARIFICATIONS,
    AnswerProduct,
    AskKnowledge,
    NoteForLater,
    RunProcedure,
    Say,
    plan_turn,
)
from supportflow.procedures.intents import INTENTS, intents_of, procedure_for
from supportflow.procedures.router import ORDER_STATUS_INTENTS
from tests.procedures.conftest import u

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def plan(intent: str, **kw: object) -> object:
    clarifications = int(kw.pop("clarifications", 0))  # type: ignore[call-overload]
    case = kw.pop("case", None)
    text = str(kw.pop("text", ""))
    return plan_turn(case, u(intent, **kw), text=text, clarifications=clarifications)  # type: ignore[arg-type]


def test_each_kind_of_request_has_one_handler() -> None:
    assert plan("cancel_order") == RunProcedure("cancel")
    assert plan("track_order") == RunProcedure("order_status")
    assert plan("contact_human_agent") == RunProcedure("handoff")
    assert plan("greeting", needs_human=True) == RunProcedure("handoff")
    assert plan("check_refund_policy") == AskKnowledge("kb_unknown")
    assert plan("out_of_scope") == AskKnowledge("out_of_scope")
    assert plan("greeting") == Say("greeting")
    assert plan("product_question") == AnswerProduct()
    assert plan("place_order") == NoteForLater()
    assert plan("change_order", text="pay with paypal instead") == RunProcedure("modify_payment")


def test_an_open_case_takes_the_turn_whatever_was_said() -> None:
    case = CaseState(case_id="c1", procedure="return", intent="return_items", opened_at=NOW)
    assert plan("greeting", case=case) == RunProcedure("return")
    closed = case.model_copy(update={"step": "done"})
    assert plan("greeting", case=closed) == Say("greeting")


def test_unsure_turns_are_clarified_then_handed_to_a_person() -> None:
    assert plan("cancel_order", needs_clarification=True) == Say("clarify")
    assert plan("confirm") == Say("clarify")
    assert plan("decline", clarifications=MAX_CLARIFICATIONS) == RunProcedure("handoff")
    # Unsure of the request but sure of the order: the procedure asks what it needs.
    assert plan("cancel_order", needs_clarification=True, order_ids=["#W1"]) == RunProcedure(
        "cancel"
    )
    # Small talk and store questions are answered even when the engine was unsure.
    assert plan("thanks", needs_clarification=True) == Say("thanks")
    assert plan("delivery_options", needs_clarification=True) == AskKnowledge("kb_unknown")


def test_every_procedure_is_reachable_and_the_table_names_only_real_ones() -> None:
    reachable = {h.procedure for h in INTENTS.values() if isinstance(h, RunProcedure)}
    reachable |= {
        procedure_for(u("change_shipping_address"), "my default address"),
        procedure_for(u("change_order"), "the address"),
        procedure_for(u("change_order"), "the items"),
    }
    assert reachable == set(get_args(ProcedureName)) == set(PROCEDURES)


def test_the_router_of_older_runs_reads_the_same_table() -> None:
    assert {"track_order", "check_order_status", "delivery_period"} == ORDER_STATUS_INTENTS
    assert intents_of("handoff") == {"contact_human_agent", "complaint"}

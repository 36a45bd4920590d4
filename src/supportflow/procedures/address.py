"""Update the customer's default address (their account, not an order)."""

from __future__ import annotations

from supportflow.procedures.case import ActionStep, CaseState, ProcedureName
from supportflow.procedures.facts import CaseFacts
from supportflow.procedures.flow import Prompt, Proposal, Turn, absorb_address
from supportflow.store.actions import StoreAction


class UserAddress:
    name: ProcedureName = "user_address"
    needs_order = False
    store_actions: tuple[StoreAction, ...] = (StoreAction.MODIFY_USER_ADDRESS,)

    def absorb(self, state: CaseState, turn: Turn, facts: CaseFacts) -> CaseState:
        return absorb_address(state, turn)

    def check(self, state: CaseState, facts: CaseFacts) -> tuple[CaseState, Prompt | None]:
        if state.address is None:
            return state, Prompt(
                "ask_address", {"order_id": None, "for_account": True}, awaiting="address"
            )
        return state, None

    def propose(self, state: CaseState, facts: CaseFacts) -> Proposal:
        user = facts.user
        assert user is not None and state.address is not None
        return Proposal(
            action=StoreAction.MODIFY_USER_ADDRESS,
            confirm_template="confirm_user_address",
            summary={
                "address": state.address.one_line(),
                "old_address": user.address.one_line() if user.address else None,
            },
            steps=[
                ActionStep(
                    name="user_address",
                    action=StoreAction.MODIFY_USER_ADDRESS,
                    args={"address": state.address.as_store()},
                    pivot=True,
                )
            ],
        )

    def phrase(self, state: CaseState) -> str:
        return "update your default address"

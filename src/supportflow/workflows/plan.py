"""What a turn of CustomerWorkflow plans to answer, shared by its parts."""

from __future__ import annotations

from dataclasses import dataclass, field

from supportflow.understanding.contract import Understanding

# After these replies the agent waits for a detail; a message supplying it continues the request.
AWAITING_AFTER = {
    "ask_order_id": "order_id",
    "ask_identity": "identity",
    "identity_not_found": "identity",
    "kb_unknown": "handoff_offer",
    # A custom action could not answer (custom-actions-v1): a person is offered.
    "custom_action_unavailable": "handoff_offer",
    "custom_action_no": "handoff_offer",
    # Verifying who the customer is (trust runs).
    "ask_verification": "identity",
    "code_sent": "verification_code",
    "code_wrong": "verification_code",
    "code_expired": "identity",
    "code_locked": "identity",
    "code_rate_limited": "verification_code",
    "case_not_yours": "identity",
    "no_account": "identity",
}


@dataclass(frozen=True)
class Plan:
    """What a turn answers: a template, the effective intent, and the facts to fill it."""

    template: str
    intent: str
    facts: dict[str, object] = field(default_factory=dict)
    # A procedure says what it waits for; otherwise it follows from the template.
    from_procedure: bool = False
    awaiting: str | None = None
    # A reply said before this one in the same message ("you're verified"): template, facts.
    prefix: tuple[str, dict[str, object]] | None = None
    # Replies said after the prefix and before this one: the earlier requests of a message
    # that held several (template, facts each), in order.
    before: tuple[tuple[str, dict[str, object]], ...] = ()
    # Replies said after this one (when a person will answer, after a hand-over).
    then: tuple[tuple[str, dict[str, object]], ...] = ()
    # Answered without a case of its own but recorded as one (a request noted for a person,
    # a hand-over, a router's order status), with the order it is about.
    records_case: bool = False
    order_id: str | None = None
    # Why the turn went to a person, when it did.
    reason: str | None = None

    @property
    def waits_for(self) -> str | None:
        """What the agent waits for after this reply (None: nothing)."""
        return self.awaiting if self.from_procedure else AWAITING_AFTER.get(self.template)


@dataclass(frozen=True)
class Proceed:
    """Verification let the turn go on, maybe with the request that waited for it."""

    understanding: Understanding
    prefix: tuple[str, dict[str, object]] | None = None
    # Replies said after the prefix and before this one: the earlier requests of a message
    # that held several (template, facts each), in order.
    before: tuple[tuple[str, dict[str, object]], ...] = ()
    # Replies said after this one (when a person will answer, after a hand-over).
    then: tuple[tuple[str, dict[str, object]], ...] = ()
    first_name: str | None = None

"""What a turn of CustomerWorkflow plans to answer, shared by its parts."""

from __future__ import annotations

from dataclasses import dataclass, field

from supportflow.understanding.contract import Understanding


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
    # Answered without a case of its own but recorded as one (a request noted for a person,
    # a hand-over, a router's order status), with the order it is about.
    records_case: bool = False
    order_id: str | None = None
    # Why the turn went to a person, when it did.
    reason: str | None = None


@dataclass(frozen=True)
class Proceed:
    """Verification let the turn go on, maybe with the request that waited for it."""

    understanding: Understanding
    prefix: tuple[str, dict[str, object]] | None = None
    first_name: str | None = None

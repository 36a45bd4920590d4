"""What crosses the understanding boundary. Engines (local model, LLM) all speak this."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from supportflow.understanding.catalogue import Catalogue


class Context(BaseModel):
    """What the conversation knows that helps interpret the next message."""

    model_config = ConfigDict(frozen=True)

    # The question the agent asked last, e.g. "confirm" or "order_id"; None when nothing pending.
    awaiting: str | None = None
    last_intent: str | None = None
    customer_email: str | None = None


class ItemMatch(BaseModel):
    item_id: str
    product_id: str
    name: str
    score: float


class Entities(BaseModel):
    order_ids: list[str] = Field(default_factory=list)  # normalised "#W1234567"
    emails: list[str] = Field(default_factory=list)
    phones: list[str] = Field(default_factory=list)  # E.164
    zip_codes: list[str] = Field(default_factory=list)
    person_names: list[str] = Field(default_factory=list)
    amounts: list[float] = Field(default_factory=list)
    cancel_reason: str | None = None  # "no longer needed" | "ordered by mistake"
    items: list[ItemMatch] = Field(default_factory=list)


class Understanding(BaseModel):
    intent: str
    confidence: float = Field(ge=0.0, le=1.0)
    entities: Entities = Field(default_factory=Entities)
    sentiment: float = Field(default=0.0, ge=-1.0, le=1.0)  # VADER compound
    urgent: bool = False
    needs_human: bool = False
    engine: str = "local"
    # Confidence is below the engine's clarify threshold: ask before acting on the intent.
    needs_clarification: bool = False
    # Notable observations, e.g. "prompt_injection", "empty", "truncated".
    flags: list[str] = Field(default_factory=list)
    # A message holding several requests ("cancel #1201 and change the address on #1202"),
    # one part per request in the customer's order; empty for a single request. The fields
    # above describe ``parts[0]`` (its intent and entities; sentiment and flags are the whole
    # message's). A leading yes/no or change of mind ("Actually, don't cancel it. ...") is a
    # part of its own, with intent confirm/decline.
    parts: list[RequestPart] = Field(default_factory=list)


class RequestPart(BaseModel):
    """One request of a message with several: its text (with the clauses that give it
    details) and its own understanding (whose ``parts`` is empty)."""

    text: str
    understanding: Understanding


Understanding.model_rebuild()


class Engine(Protocol):
    """Anything that turns a message into an Understanding. Never raises on bad text.

    ``catalogue``: the tenant's products, for item matching (the understand activity passes
    the tenant's own; ``None``, the demo store's seed, is for offline tools with no tenant)."""

    def understand(
        self, message: str, context: Context, catalogue: Catalogue | None = None
    ) -> Understanding: ...

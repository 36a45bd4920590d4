"""What crosses the knowledge activity boundary. Pydantic only: workflows import this."""

from __future__ import annotations

from pydantic import BaseModel, Field


class KnowledgeInput(BaseModel):
    tenant_id: str
    # The customer's words. Used only as a search query: never as instructions, never
    # echoed into the answer.
    question: str


class KnowledgeAnswer(BaseModel):
    """The passage of the tenant's best-matching article, quoted as the merchant wrote it.

    `found` is False when nothing scores above the retrieval threshold: then the agent says
    it does not know and offers a person, instead of quoting something loosely related.
    """

    found: bool
    title: str | None = None
    text: str | None = None
    article_id: str | None = None
    # The best article's score even when not found, so the audit shows how close it came.
    score: float = Field(default=0.0, ge=0.0, le=1.0)
    # The article is answered by this custom action (issue 16): ``text`` is its whole body,
    # whose {field}s the action's result fills.
    action: str | None = None

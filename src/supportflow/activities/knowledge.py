"""Activity of the `ai` task queue: answer a question from the tenant's knowledge base."""

from __future__ import annotations

from temporalio import activity

from supportflow.knowledge.base import KnowledgeBase
from supportflow.knowledge.contract import KnowledgeAnswer, KnowledgeInput

__all__ = ["KnowledgeActivities", "KnowledgeAnswer", "KnowledgeInput"]


class KnowledgeActivities:
    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb

    # Sync on purpose: fitting and scoring TF-IDF is CPU work for the worker's thread pool.
    @activity.defn(name="answer_from_knowledge")
    def answer_from_knowledge(self, inp: KnowledgeInput) -> KnowledgeAnswer:
        """The most relevant passage of the tenant's best article, quoted as written.

        The customer's text is only a search query; nothing is generated, so whatever the
        customer writes, the answer is words the merchant (or the default set) wrote.
        """
        match, score = self._kb.best(inp.tenant_id, inp.question)
        score = round(min(max(score, 0.0), 1.0), 4)
        if match is None:
            return KnowledgeAnswer(found=False, score=score)
        article = match.article
        return KnowledgeAnswer(
            found=True,
            title=article.title,
            # An action's article is one reply, filled whole; never a passage of it.
            text=article.body if article.action else match.passage,
            article_id=article.id,
            score=score,
            action=article.action,
        )

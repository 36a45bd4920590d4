"""Activities of the `ai` task queue: understanding and reply phrasing."""

from __future__ import annotations

from temporalio import activity

from supportflow.activities.contract import ComposedReply, ComposeInput, UnderstandInput
from supportflow.replies.phrasing import ReplyPhraser
from supportflow.replies.templates import render
from supportflow.understanding.contract import Engine, Understanding

# A message longer than this is cut before the model sees it: the API already refuses
# more than 16 KB, and the classifier gains nothing from more text.
_MAX_MODEL_CHARS = 4096


class AiActivities:
    def __init__(self, engine: Engine, phraser: ReplyPhraser | None = None) -> None:
        self._engine = engine
        # Set in LLM mode: the model may rephrase, a grounding check keeps it to the facts.
        self._phraser = phraser

    # Sync on purpose: model inference is CPU work and runs in the worker's thread pool,
    # so it never blocks the event loop that drives workflows.
    @activity.defn(name="understand")
    def understand(self, inp: UnderstandInput) -> Understanding:
        return self._engine.understand(inp.text[:_MAX_MODEL_CHARS], inp.context)

    @activity.defn(name="compose_reply")
    def compose_reply(self, inp: ComposeInput) -> ComposedReply:
        # Tenant template overrides arrive with the tenant-settings work; defaults for now.
        text = render(inp.template, inp.facts)
        if self._phraser is not None:
            text = self._phraser.phrase(inp.template, inp.facts, text).text
        return ComposedReply(text=text)

"""Activities of the `ai` task queue: understanding and reply phrasing."""

from __future__ import annotations

import logging

from jinja2 import TemplateError
from temporalio import activity

from supportflow.activities.contract import ComposedReply, ComposeInput, UnderstandInput
from supportflow.replies.overrides import TemplateStore
from supportflow.replies.phrasing import ReplyPhraser
from supportflow.replies.templates import render
from supportflow.understanding.contract import Engine, Understanding

log = logging.getLogger(__name__)

# A message longer than this is cut before the model sees it: the API already refuses
# more than 16 KB, and the classifier gains nothing from more text.
_MAX_MODEL_CHARS = 4096


class AiActivities:
    def __init__(
        self,
        engine: Engine,
        phraser: ReplyPhraser | None = None,
        templates: TemplateStore | None = None,
    ) -> None:
        self._engine = engine
        self._templates = templates
        # Set in LLM mode: the model may rephrase, a grounding check keeps it to the facts.
        self._phraser = phraser

    # Sync on purpose: model inference is CPU work and runs in the worker's thread pool,
    # so it never blocks the event loop that drives workflows.
    @activity.defn(name="understand")
    def understand(self, inp: UnderstandInput) -> Understanding:
        return self._engine.understand(inp.text[:_MAX_MODEL_CHARS], inp.context)

    @activity.defn(name="compose_reply")
    def compose_reply(self, inp: ComposeInput) -> ComposedReply:
        text = self._render(inp)
        if self._phraser is not None:
            text = self._phraser.phrase(inp.template, inp.facts, text).text
        return ComposedReply(text=text)

    def _render(self, inp: ComposeInput) -> str:
        overrides = self._templates.overrides(inp.tenant_id) if self._templates else {}
        if inp.template in overrides:
            try:
                return render(inp.template, inp.facts, overrides)
            except TemplateError:
                # Validated on save, so this is a fact the procedure did not supply; the
                # customer still gets the default wording.
                log.warning("tenant template %s failed; using the default", inp.template)
        return render(inp.template, inp.facts)

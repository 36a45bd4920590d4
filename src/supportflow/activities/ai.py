"""Activities of the `ai` task queue: understanding and reply phrasing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateError
from temporalio import activity

from supportflow.activities.contract import ComposedReply, ComposeInput, UnderstandInput
from supportflow.replies.overrides import TemplateStore
from supportflow.replies.phrasing import ReplyPhraser
from supportflow.replies.render import render
from supportflow.replies.templates import CHANNEL_TEMPLATES, TEMPLATE_CHANNELS, reply_facts
from supportflow.understanding.contract import Engine, Understanding
from supportflow.understanding.entities import with_order_numbers

if TYPE_CHECKING:  # the workflow imports this module: keep the store's imports out of it
    from supportflow.activities.catalogue_cache import CatalogueSource

log = logging.getLogger(__name__)

# A message longer than this is cut before the model sees it: the API already refuses
# more than MAX_MESSAGE_BYTES (limits.py), and the classifier gains nothing from more text.
_MAX_MODEL_CHARS = 4096


class AiActivities:
    def __init__(
        self,
        engine: Engine,
        phraser: ReplyPhraser | None = None,
        templates: TemplateStore | None = None,
        *,
        catalogues: CatalogueSource,
    ) -> None:
        self._engine = engine
        # Each tenant's own products, for item matching (activities/catalogue_cache.py).
        self._catalogues = catalogues
        self._templates = templates
        # Set in LLM mode: the model may rephrase, a grounding check keeps it to the facts.
        self._phraser = phraser

    # Sync on purpose: model inference is CPU work and runs in the worker's thread pool,
    # so it never blocks the event loop that drives workflows.
    @activity.defn(name="understand")
    def understand(self, inp: UnderstandInput) -> Understanding:
        catalogue = self._catalogues.catalogue_for(inp.tenant_id)
        text = inp.text[:_MAX_MODEL_CHARS]
        understanding = self._engine.understand(text, inp.context, catalogue)
        # Order numbers as the tenant's store prints them ("#1001" on Shopify), read with the
        # question the agent asked in mind (understanding/order_numbers.py).
        order_format = self._catalogues.order_format_for(inp.tenant_id)
        return with_order_numbers(understanding, text, order_format, inp.context.awaiting)

    @activity.defn(name="compose_reply")
    def compose_reply(self, inp: ComposeInput) -> ComposedReply:
        # The words for facts the procedures state bare (an order's status), so the
        # phraser is held to the same facts the template was rendered from.
        facts = reply_facts(inp.facts)
        if inp.template == "ask_order_id" and "order_example" not in facts:
            # "like #W1234567" on the demo store, "like #1001" on a Shopify shop.
            example = self._catalogues.order_format_for(inp.tenant_id).example
            facts = {**facts, "order_example": example}
        text = self._render(inp, facts)
        if self._phraser is not None:
            text = self._phraser.phrase(inp.template, facts, text).text
        return ComposedReply(text=text)

    def _render(self, inp: ComposeInput, facts: Mapping[str, Any]) -> str:
        overrides = self._templates.overrides(inp.tenant_id) if self._templates else {}
        # The channel's own wording first (the tenant's, then ours), then the template's.
        names = [inp.template]
        if inp.channel in TEMPLATE_CHANNELS:
            names.insert(0, f"{inp.template}.{inp.channel}")
        for name in names:
            if name in overrides:
                try:
                    return render(name, facts, overrides)
                except TemplateError:
                    # Validated on save, so this is a fact the procedure did not supply; the
                    # customer still gets the default wording.
                    log.warning("tenant template %s failed; using the default", name)
        for name in names:
            if name in CHANNEL_TEMPLATES:
                try:
                    return render(name, facts)
                except TemplateError:
                    log.warning("channel template %s failed; using the default", name)
        return render(inp.template, facts)

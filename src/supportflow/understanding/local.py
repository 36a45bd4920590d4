"""The offline local engine: trained intent model + rule-based entities + VADER signals."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from supportflow.understanding.calibration import Thresholds
from supportflow.understanding.catalogue import Catalogue
from supportflow.understanding.contract import Context, Understanding
from supportflow.understanding.corpus import OUT_OF_SCOPE
from supportflow.understanding.entities import extract
from supportflow.understanding.guards import bounded, nothing_said, overrule
from supportflow.understanding.model import Decision, IntentModel
from supportflow.understanding.request_parts import build_parts
from supportflow.understanding.requests import (
    DECLINE,
    RULE_ANSWER_CONFIDENCE,
    Reading,
    group_requests,
    negates,
)
from supportflow.understanding.signals import read_signals
from supportflow.understanding.train import load_or_train

log = logging.getLogger(__name__)

ENGINE = "local"
# When the agent just asked "shall I go ahead?", a short reply is very likely a yes or a no; this
# multiplies their prior odds (Bayes: posterior is proportional to likelihood x prior).
CONFIRM_PRIOR_BOOST = 8.0
SHORT_REPLY_WORDS = 8


def _clean(message: object) -> tuple[str, list[str]]:
    """Coerce any input into valid, bounded text; note what had to be fixed."""
    flags: list[str] = []
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
        flags.append("decoded_bytes")
    if not isinstance(message, str):
        message = "" if message is None else str(message)
        flags.append("not_text")
    text = message.encode("utf-8", "ignore").decode("utf-8")  # drops lone surrogates
    if text != message:
        flags.append("invalid_unicode")
    return bounded(text, flags), flags


class LocalEngine:
    """Implements ``Engine``. Never raises: any failure yields a low-confidence out_of_scope."""

    def __init__(self, model: IntentModel) -> None:
        self.model = model
        self._confirm_idx = [model.classes.index(c) for c in ("confirm", "decline")]

    @property
    def thresholds(self) -> Thresholds:
        return self.model.thresholds

    def understand(
        self, message: str, context: Context, catalogue: Catalogue | None = None
    ) -> Understanding:
        try:
            return self._understand(message, context, catalogue)
        except Exception:  # the contract is "never raises": log and degrade
            log.exception("local understanding failed")
            return Understanding(
                intent=OUT_OF_SCOPE, confidence=0.0, engine=ENGINE, flags=["engine_error"]
            )

    def _decide(self, text: str, context: Context) -> Decision:
        p = self.model.proba_one(text)
        if context.awaiting == "confirm" and len(text.split()) <= SHORT_REPLY_WORDS:
            boost = np.ones_like(p)
            boost[self._confirm_idx] = CONFIRM_PRIOR_BOOST
            p = p * boost
            p = p / p.sum()
        return self.model.decide_row(p)

    def _reader(self, context: Context) -> Callable[[Sequence[tuple[int, str]]], list[Reading]]:
        """Reads a message's clauses; the first with the context's yes/no prior (a clause
        after it is not a reply to the question). One fast single-text call per clause: the
        batch path (scikit-learn's transform) costs more than a few single calls."""

        def read(clauses: Sequence[tuple[int, str]]) -> list[Reading]:
            out = []
            for i, t in clauses:
                d = self._decide(t, context) if i == 0 else self.model.decide_one(t)
                out.append(Reading(d.intent, d.confidence))
            return out

        return read

    def _understand(
        self, message: str, context: Context, catalogue: Catalogue | None
    ) -> Understanding:
        text, flags = _clean(message)
        if not text.strip():
            return nothing_said(ENGINE, flags)
        th = self.thresholds
        sig = read_signals(text, th.anger_below)
        # Several requests in one message (requests.py): the top-level fields describe the
        # first. Text that tries to steer us is not split: none of it is trusted.
        groups = [] if sig.injection else group_requests(text, self._reader(context))
        if groups:
            parts = build_parts(
                text,
                groups,
                catalogue=catalogue,
                clarify_below=th.clarify_below,
                engine=ENGINE,
                sentiment=sig.sentiment,
                urgent=sig.urgent,
            )
            asks_human = any(p.understanding.needs_human for p in parts)
            return parts[0].understanding.model_copy(
                update={
                    "needs_human": sig.wants_human or asks_human or sig.anger <= th.anger_below,
                    "flags": flags,
                    "parts": parts,
                }
            )
        decision = self._decide(text, context)
        intent, confidence = overrule(
            decision.intent,
            decision.confidence,
            injection=sig.injection,
            wants_human=sig.wants_human,
            flags=flags,
        )
        if negates(text, intent):
            # "No need to return it anymore" read as return_items: a no, never that action.
            intent, confidence = DECLINE, RULE_ANSWER_CONFIDENCE
        wants_human = sig.wants_human or intent == "contact_human_agent"
        # Extracted whatever the intent: an out-of-scope turn may still give an id or an email
        # the next turn needs.
        entities = extract(text, catalogue)
        return Understanding(
            intent=intent,
            confidence=float(min(1.0, max(0.0, confidence))),
            entities=entities,
            sentiment=sig.sentiment,
            urgent=sig.urgent,
            needs_human=wants_human or sig.anger <= th.anger_below,
            engine=ENGINE,
            needs_clarification=intent != OUT_OF_SCOPE and confidence < th.clarify_below,
            flags=flags,
        )


@lru_cache(maxsize=1)
def get_local_engine(path: Path | None = None) -> LocalEngine:
    """The process-wide engine; loads the cached model, training it on first use."""
    return LocalEngine(load_or_train(path))

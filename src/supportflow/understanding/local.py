"""The offline local engine: trained intent model + rule-based entities + VADER signals."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from supportflow.understanding.calibration import Thresholds
from supportflow.understanding.contract import Context, Understanding
from supportflow.understanding.corpus import OUT_OF_SCOPE
from supportflow.understanding.entities import extract
from supportflow.understanding.model import Decision, IntentModel
from supportflow.understanding.signals import read_signals
from supportflow.understanding.train import load_or_train

log = logging.getLogger(__name__)

ENGINE = "local"
# When the agent just asked "shall I go ahead?", a short reply is very likely a yes or a no; this
# multiplies their prior odds (Bayes: posterior is proportional to likelihood x prior).
CONFIRM_PRIOR_BOOST = 8.0
SHORT_REPLY_WORDS = 8
# Confidence reported for rule-level overrides, where the model's probability no longer applies.
RULE_CONFIDENCE = 0.5
MAX_MESSAGE_CHARS = 16384


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
    text = text.replace("\x00", " ")
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS]
        flags.append("truncated")
    return text, flags


class LocalEngine:
    """Implements ``Engine``. Never raises: any failure yields a low-confidence out_of_scope."""

    def __init__(self, model: IntentModel) -> None:
        self.model = model
        self._confirm_idx = [model.classes.index(c) for c in ("confirm", "decline")]

    @property
    def thresholds(self) -> Thresholds:
        return self.model.thresholds

    def understand(self, message: str, context: Context) -> Understanding:
        try:
            return self._understand(message, context)
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

    def _understand(self, message: str, context: Context) -> Understanding:
        text, flags = _clean(message)
        if not text.strip():
            return Understanding(
                intent=OUT_OF_SCOPE,
                confidence=0.0,
                engine=ENGINE,
                needs_clarification=True,
                flags=[*flags, "empty"],
            )
        th = self.thresholds
        decision = self._decide(text, context)
        sig = read_signals(text, th.anger_below)
        intent, confidence = decision.intent, decision.confidence
        if sig.injection:
            # Instructions inside customer text are never followed; the model's reading of the
            # rest of the text (often "refund"/"cancel") is not trusted either.
            flags.append("prompt_injection")
            intent, confidence = OUT_OF_SCOPE, RULE_CONFIDENCE
        if sig.wants_human and intent == OUT_OF_SCOPE:
            # Asking for a person is never out of scope, whatever else the message rambles about.
            intent, confidence = "contact_human_agent", RULE_CONFIDENCE
        # Extracted whatever the intent: an out-of-scope turn may still give an id or an email
        # the next turn needs.
        entities = extract(text)
        wants_human = sig.wants_human or intent == "contact_human_agent"
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

"""The intent labels an LLM may answer with: exactly the classes the local model learns."""

from __future__ import annotations

import csv
import gzip
import io
from functools import lru_cache
from importlib import resources

from supportflow.understanding.corpus import CLINC_TO_OURS, DATA_PACKAGE, OUT_OF_SCOPE
from supportflow.understanding.shopper import shopper_train
from supportflow.understanding.templates import NEW_INTENTS

BITEXT_FILE = "data/bitext_v11_26872.csv.gz"

# Short glosses for labels whose name alone is ambiguous to a model; the rest are self-describing.
DESCRIPTIONS: dict[str, str] = {
    "confirm": "the customer says yes to the question the agent asked last",
    "decline": "the customer says no to the question the agent asked last",
    "greeting": "only a greeting",
    "thanks": "only thanks",
    "complaint": "a complaint about the store, an order or the service",
    "review": "wants to leave feedback or a review",
    "change_order": "change something about an order in general",
    "modify_order_items": "swap an item of a pending order for another option (size, colour...)",
    "modify_order_payment": "change the payment method of a pending order",
    "return_items": "send delivered items back",
    "exchange_items": "exchange delivered items for other options",
    "contact_human_agent": "wants a human agent",
    "product_question": "asks about a product: availability, options, size, price, compatibility",
    OUT_OF_SCOPE: "anything not about the store, its orders or the customer's account",
}


@lru_cache(maxsize=1)
def known_intents() -> tuple[str, ...]:
    """Sorted labels: the Bitext intents, the generated ones, CLINC's mapped ones, the shopper
    messages' (product_question), out_of_scope.

    Read from the shipped data without building the corpus (which fills placeholders for 27k
    messages), so an LLM-only worker never pays for the local model's training data.
    """
    raw = resources.files(DATA_PACKAGE).joinpath(BITEXT_FILE).read_bytes()
    with io.StringIO(gzip.decompress(raw).decode("utf-8"), newline="") as fh:
        bitext = {row["intent"] for row in csv.DictReader(fh)}
    shopper = {e.intent for e in shopper_train()}
    return tuple(
        sorted(bitext | set(NEW_INTENTS) | set(CLINC_TO_OURS.values()) | shopper | {OUT_OF_SCOPE})
    )

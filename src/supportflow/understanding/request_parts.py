"""Each request of a message with several (``requests.py``) as an Understanding of its own.

A part's intent and confidence are its request clause's reading; its entities are read from its
own text, so an order id, an address, the options or a reason stay with the request they were
written for. Two details are shared because they are not any one request's:
- Who the customer is (emails, phones, names) is the whole message's: every part gets them when
  its own text has none, so identification works whichever request runs first.
- Order ids: a request about an order that names none takes the one it refers to
  (``part_orders.py``).
"""

from __future__ import annotations

from supportflow.understanding.catalogue import Catalogue
from supportflow.understanding.contract import Entities, RequestPart, Understanding
from supportflow.understanding.entities import extract
from supportflow.understanding.part_orders import inherit_order_ids
from supportflow.understanding.requests import Group


def _share_identity(entities: list[Entities]) -> None:
    emails = list(dict.fromkeys(v for e in entities for v in e.emails))
    phones = list(dict.fromkeys(v for e in entities for v in e.phones))
    names = list(dict.fromkeys(v for e in entities for v in e.person_names))
    for e in entities:
        e.emails = e.emails or list(emails)
        e.phones = e.phones or list(phones)
        e.person_names = e.person_names or list(names)


def build_parts(
    text: str,
    groups: list[Group],
    *,
    catalogue: Catalogue | None,
    clarify_below: float,
    engine: str,
    sentiment: float,
    urgent: bool,
) -> list[RequestPart]:
    """One RequestPart per group, in order. ``text`` is the cleaned message the groups' spans
    point into; the tone (sentiment, urgency) is the whole message's."""
    read = []
    for g in groups:
        piece = text[g.start : g.end].strip()
        read.append((g, piece, extract(piece, catalogue)))
    inherit_order_ids([(g.intent, piece, ents) for g, piece, ents in read])
    _share_identity([e for _, _, e in read])
    return [
        RequestPart(
            text=piece,
            understanding=Understanding(
                intent=g.intent,
                confidence=float(min(1.0, max(0.0, g.confidence))),
                entities=ents,
                sentiment=sentiment,
                urgent=urgent,
                # A hand-off is the request that asks for one; the whole message's tone is on
                # the top-level understanding.
                needs_human=g.intent == "contact_human_agent",
                engine=engine,
                needs_clarification=g.confidence < clarify_below,
            ),
        )
        for g, piece, ents in read
    ]

"""Understanding: message + context -> intent, entities, sentiment, confidence."""

from supportflow.understanding.catalogue import EMPTY_CATALOGUE, Catalogue
from supportflow.understanding.contract import (
    Context,
    Engine,
    Entities,
    ItemMatch,
    Understanding,
)

__all__ = [
    "EMPTY_CATALOGUE",
    "Catalogue",
    "Context",
    "Engine",
    "Entities",
    "ItemMatch",
    "Understanding",
]

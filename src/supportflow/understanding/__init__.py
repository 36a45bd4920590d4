"""Understanding: message + context -> intent, entities, sentiment, confidence."""

from supportflow.understanding.contract import (
    Context,
    Engine,
    Entities,
    ItemMatch,
    Understanding,
)

__all__ = ["Context", "Engine", "Entities", "ItemMatch", "Understanding"]

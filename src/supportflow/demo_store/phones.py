"""The phone number the demo store gives a seed user, known without a database.

For tests and tools that start from a seed user id (an SMS from "Noah Brown's phone"): the
numbers are those ``seeding`` writes into every fresh database from the shipped seed, and
``upgrade`` into older ones (``identity.assign_phones`` over the sorted seed ids). Only the
composers (``stack``, ``chaos``) and tests may import the demo store; everything else, the
simulator included, reads the same number from the store's API: ``GET /users/{user_id}``
-> ``"phone"``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType

from supportflow.demo_store.identity import assign_phones
from supportflow.demo_store.seeding import load_seed


@functools.cache
def seed_phones() -> Mapping[str, str]:
    """Every seed user's phone (E.164), by user id; read-only, computed once."""
    return MappingProxyType(assign_phones(load_seed()["users"]))


def demo_phone(user_id: str) -> str:
    """The E.164 phone of the seed user ``user_id`` (``LookupError`` if there is none)."""
    try:
        return seed_phones()[user_id]
    except KeyError:
        raise LookupError(f"{user_id!r} is not a user of the demo store's seed") from None

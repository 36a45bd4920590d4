"""Read-only view of the demo store seed: products (for item matching) and sample values.

The seed belongs to the store package; we only read it so the understanding model and the item
matcher see the same catalogue the agent sells.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Variant:
    item_id: str
    product_id: str
    product_name: str
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class StoreSample:
    """Real values from the seed, used to fill training-data placeholders realistically."""

    order_ids: tuple[str, ...]
    person_names: tuple[str, ...]
    cities: tuple[str, ...]
    zip_codes: tuple[str, ...]


@lru_cache(maxsize=1)
def _seed() -> dict[str, Any]:
    ref = resources.files("supportflow.store").joinpath("seed/db.json.gz")
    with ref.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@lru_cache(maxsize=1)
def variants() -> tuple[Variant, ...]:
    out: list[Variant] = []
    for product in _seed()["products"].values():
        for variant in product["variants"].values():
            opts = tuple((str(k), str(v)) for k, v in variant["options"].items())
            out.append(
                Variant(
                    item_id=str(variant["item_id"]),
                    product_id=str(product["product_id"]),
                    product_name=str(product["name"]),
                    options=opts,
                )
            )
    return tuple(out)


@lru_cache(maxsize=1)
def store_sample() -> StoreSample:
    seed = _seed()
    users = list(seed["users"].values())
    names = sorted({f"{u['name']['first_name']} {u['name']['last_name']}" for u in users})
    cities = sorted({str(u["address"]["city"]) for u in users})
    zips = sorted({str(u["address"]["zip"]) for u in users})
    return StoreSample(
        order_ids=tuple(sorted(seed["orders"])),
        person_names=tuple(names),
        cities=tuple(cities),
        zip_codes=tuple(zips),
    )

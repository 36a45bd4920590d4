"""Read-only view of the demo store seed: its products and sample values, for training data.

The seed belongs to the demo store (``supportflow.demo_store``); we only read it so the
generated training messages name real products, ids and people. Item matching at run time uses
each tenant's own catalogue, read through its store port; ``demo_catalogue`` is for offline
tools with no tenant (evaluation, the command line, benchmarks) and for engines called without
a catalogue.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from supportflow.understanding.catalogue import Catalogue, Variant


@dataclass(frozen=True)
class StoreSample:
    """Real values from the seed, used to fill training-data placeholders realistically."""

    order_ids: tuple[str, ...]
    person_names: tuple[str, ...]
    cities: tuple[str, ...]
    zip_codes: tuple[str, ...]


@lru_cache(maxsize=1)
def _seed() -> dict[str, Any]:
    ref = resources.files("supportflow.demo_store").joinpath("seed/db.json.gz")
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
def demo_catalogue() -> Catalogue:
    """The demo store's seed catalogue, prepared for item matching."""
    return Catalogue(variants())


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

"""A store's item catalogue, prepared once for item matching (``items.match_items``).

The catalogue is data the engine is given, never something it looks up: each tenant's comes
from its own store (``activities/catalogue_cache.py`` reads it through the tenant's store port),
and offline tools that have no tenant use the demo store's seed
(``store_catalogue.demo_catalogue``).

Products are kept longest name first ("Smart Watch" must claim its words before a "Watch"
could), then by name and id, so matching does not depend on the order a backend lists them;
a product's variants keep the backend's order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variant:
    item_id: str
    product_id: str
    product_name: str
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CatalogueProduct:
    product_id: str
    name: str
    pattern: re.Pattern[str]
    variants: tuple[Variant, ...]


def name_pattern(name: str) -> re.Pattern[str]:
    # "T-Shirt" matches "t-shirt", "tshirt", "t shirt", "t-shirts"; "E-Reader" likewise.
    words = [re.escape(w) for w in re.split(r"[\s\-]+", name.lower()) if w]
    body = r"[\s\-]?".join(words)
    return re.compile(rf"\b{body}(?:s|es)?\b")


class Catalogue:
    """Products with their variants and compiled name patterns. Immutable; safe to share
    between threads."""

    __slots__ = ("products",)

    def __init__(self, variants: Iterable[Variant]) -> None:
        grouped: dict[tuple[str, str], list[Variant]] = {}
        for v in variants:
            if v.product_name.strip():  # a nameless product cannot be mentioned
                grouped.setdefault((v.product_id, v.product_name), []).append(v)
        ordered = sorted(grouped.items(), key=lambda kv: (-len(kv[0][1]), kv[0][1], kv[0][0]))
        self.products: tuple[CatalogueProduct, ...] = tuple(
            CatalogueProduct(pid, name, name_pattern(name), tuple(vs))
            for (pid, name), vs in ordered
        )

    @classmethod
    def from_products(cls, products: Iterable[Mapping[str, Any]]) -> Catalogue:
        """From the store port's product documents (the seed's shape: ``product_id``,
        ``name``, ``variants: {item_id: {item_id, options}}``). Malformed entries are skipped:
        one odd product in a merchant's shop must not cost the others their matching."""
        found: list[Variant] = []
        skipped = 0
        for product in products:
            try:
                found.extend(_variants_of(product))
            except (KeyError, TypeError, AttributeError, ValueError):
                skipped += 1
        if skipped:
            log.warning("skipped %d malformed product(s) of a store catalogue", skipped)
        return cls(found)

    def __len__(self) -> int:
        return len(self.products)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Catalogue) and self.products == other.products

    def __hash__(self) -> int:
        return hash(self.products)

    def __repr__(self) -> str:
        return f"Catalogue({len(self.products)} products)"


def _variants_of(product: Mapping[str, Any]) -> list[Variant]:
    product_id = str(product["product_id"])
    name = str(product["name"])
    variants = product.get("variants") or {}
    entries = variants.values() if isinstance(variants, Mapping) else variants
    out = []
    for variant in entries:
        options = variant.get("options") or {}
        out.append(
            Variant(
                item_id=str(variant["item_id"]),
                product_id=product_id,
                product_name=name,
                options=tuple((str(k), str(v)) for k, v in options.items()),
            )
        )
    return out


EMPTY_CATALOGUE = Catalogue(())

"""/products: the catalog, read-only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from supportflow.demo_store.db import read_transaction
from supportflow.demo_store.repository import StoreRepository
from supportflow.demo_store.routes.common import engine_of
from supportflow.store.errors import StoreNotFound

router = APIRouter(prefix="/products", tags=["products"])


@router.get("", name="list_products")
def list_products(request: Request) -> dict[str, Any]:
    """Name and id of every product, by name (tau2's list_all_product_types)."""
    with read_transaction(engine_of(request)) as conn:
        return {"products": StoreRepository(conn).list_products()}


@router.get("/{product_id}", name="get_product")
def get_product(request: Request, product_id: str) -> dict[str, Any]:
    with read_transaction(engine_of(request)) as conn:
        product = StoreRepository(conn).get_product(product_id)
    if product is None:
        raise StoreNotFound(f"product {product_id} not found")
    return product

"""Product questions answered from the store as it is now: the real demo store over HTTP."""

from __future__ import annotations

from supportflow.activities.contract import ProductQuestionInput
from supportflow.activities.store import StoreActivities
from supportflow.store.adapters.demo_client import StoreClient

WATER_BOTTLE = "8310926033"  # 18 variants, 6 of them sold out (the tau2 seed)
RED_GLASS_LITRE = "1434748144"  # 1000ml, glass, red: sold out, $49.72
BLACK_STEEL_LITRE = "7661609223"  # 1000ml, stainless steel, black: in stock, $46.51


async def test_the_variants_asked_for_come_with_stock_and_price(store_url: str) -> None:
    async with StoreClient(store_url) as store:
        answer = await StoreActivities(store).answer_product_question(
            ProductQuestionInput(
                tenant_id="t_any",
                product_ids=[WATER_BOTTLE],
                item_ids=[RED_GLASS_LITRE, BLACK_STEEL_LITRE, "no-such-item"],
            )
        )
    (bottle,) = answer.products
    assert bottle.name == "Water Bottle" and (bottle.in_stock, bottle.variants) == (12, 18)
    assert bottle.options["capacity"] == ["1000ml", "750ml", "500ml"]
    assert [(v.label, v.available, v.price) for v in bottle.asked] == [
        ("1000ml, glass, red", False, "$49.72"),
        ("1000ml, stainless steel, black", True, "$46.51"),
    ]
    # The range is of what can be bought now.
    assert bottle.price_range.startswith("$") and " to " in bottle.price_range


async def test_an_unknown_product_is_no_answer_rather_than_an_error(store_url: str) -> None:
    async with StoreClient(store_url) as store:
        answer = await StoreActivities(store).answer_product_question(
            ProductQuestionInput(tenant_id="t_any", product_ids=["0000000000"])
        )
    assert answer.products == []

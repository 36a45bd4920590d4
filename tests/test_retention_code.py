"""The retention code's store write (activities/retention.py) against the real demo store: one
code per idempotency key, one-use and for the customer only; refused for good for an order
that is not the customer's or no longer pending (nothing is created)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from supportflow.activities.retention import RetentionActivities, RetentionCodeInput
from supportflow.store.adapters.demo_client import StoreClient
from tests.conftest import _run_store

# Pending orders of the seed (the store below is this module's own).
PENDING = ("#W8557584", "omar_kim_3528")
CANCELLED_LATER = "#W7111824"  # omar's other pending order, cancelled in the test
PROCESSED = ("#W2611340", "james_li_5688")


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path: Path = tmp_path_factory.mktemp("retention-code") / "store.db"
    yield from _run_store(path)


def code_input(order_id: str, user: str, key: str, offer: str = "discount") -> RetentionCodeInput:
    return RetentionCodeInput.model_validate(
        {
            "tenant_id": "t_code",
            "store_user_id": user,
            "order_id": order_id,
            "offer": offer,
            "percent": 10 if offer == "discount" else None,
            "expires_at": datetime.now(UTC) + timedelta(days=30),
            "idempotency_key": key,
        }
    )


async def test_one_code_per_key_for_the_customer_only(store_url: str) -> None:
    async with StoreClient(store_url) as store:
        acts = RetentionActivities(store)
        order_id, user = PENDING
        key = f"sf:wf-{uuid.uuid4().hex}:case/1:retention.code"
        inp = code_input(order_id, user, key)
        first = await acts.create_retention_code(inp)
        again = await acts.create_retention_code(inp)  # a retry: the same input and key
        assert first.code == again.code and first.expires_at is not None
        made = await store.get_discount_code(first.code)
        assert made is not None
        assert (made["kind"], made["value"], made["usage_limit"], made["customer_id"]) == (
            "percentage",
            10,
            1,
            user,
        )
        other = await acts.create_retention_code(
            code_input(order_id, user, key + "-2", offer="free_shipping")
        )
        assert other.code != first.code
        shipping = await store.get_discount_code(other.code)
        assert shipping is not None and shipping["kind"] == "free_shipping"


@pytest.mark.parametrize(
    ("order_id", "user", "kind"),
    [
        (PENDING[0], "someone_else_1234", "NotCustomersOrder"),
        (PROCESSED[0], PROCESSED[1], "StoreRejected"),
        ("#W0000000", PENDING[1], "StoreNotFound"),
    ],
)
async def test_refused_for_good_and_nothing_made(
    store_url: str, order_id: str, user: str, kind: str
) -> None:
    async with StoreClient(store_url) as store:
        acts = RetentionActivities(store)
        with pytest.raises(ApplicationError) as err:
            await acts.create_retention_code(code_input(order_id, user, f"k-{uuid.uuid4().hex}"))
        assert err.value.type == kind and err.value.non_retryable


async def test_no_code_for_an_order_cancelled_meanwhile(store_url: str) -> None:
    async with StoreClient(store_url) as store:
        await store.cancel_order(CANCELLED_LATER, "no longer needed", f"c-{uuid.uuid4().hex}")
        acts = RetentionActivities(store)
        with pytest.raises(ApplicationError) as err:
            await acts.create_retention_code(
                code_input(CANCELLED_LATER, PENDING[1], f"k-{uuid.uuid4().hex}")
            )
        assert err.value.type == "StoreRejected"

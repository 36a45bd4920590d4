"""Delivery, standing in for the carrier: a processed or pending order becomes delivered,
with a tracking number when it had none, and fulfillments/update goes in the outbox."""

from __future__ import annotations

import secrets

from supportflow.demo_store.operations import load_order, load_user
from supportflow.demo_store.repository import Doc, StoreRepository, utc_now
from supportflow.demo_store.sales_records import SalesRecords
from supportflow.demo_store.webhooks.outbox import enqueue
from supportflow.demo_store.webhooks.payloads import fulfillment_payload
from supportflow.store.errors import StoreRejected

DELIVERABLE = ("pending", "pending (item modified)", "processed")


def deliver_order(repo: StoreRepository, order_id: str) -> Doc:
    order = load_order(repo, order_id)
    if order["status"] not in DELIVERABLE:
        raise StoreRejected(
            f"order {order_id} is {order['status']}; only pending or processed can be delivered"
        )
    if repo.get_hold(order_id) is not None:
        raise StoreRejected(f"order {order_id} is on hold for cancellation")
    if not order["fulfillments"]:
        order["fulfillments"].append(
            {
                # 12 digits, as the seed's tracking numbers.
                "tracking_id": [f"{secrets.randbelow(10**12):012d}"],
                "item_ids": [item["item_id"] for item in order["items"]],
            }
        )
    order["status"] = "delivered"
    repo.save_order(order)
    user = load_user(repo, order["user_id"])
    checkout = SalesRecords(repo.conn).checkout_of_order(order_id)
    payload = fulfillment_payload(
        # Named as Shopify names fulfilments: the order's name, a dot, the fulfilment's number.
        fulfillment_id=f"{order_id}.{len(order['fulfillments'])}",
        order=order,
        tracking_number=order["fulfillments"][-1]["tracking_id"][0],
        email=checkout["email"] if checkout else user["email"],
        at=utc_now(),
    )
    enqueue(repo, "fulfillments/update", user["user_id"], payload)
    return order

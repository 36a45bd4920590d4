"""Outgoing webhooks of the demo store, signed and shaped as Shopify's (issue 14).

A change writes its webhook to the outbox in its own transaction (``outbox``); the app's
background task (``dispatcher``) delivers it with retries and finds abandoned checkouts
(``abandoned``). Payloads are built in ``payloads``, headers and signature in ``signing``.
"""

from supportflow.demo_store.webhooks.config import StoreWebhooks

__all__ = ["StoreWebhooks"]

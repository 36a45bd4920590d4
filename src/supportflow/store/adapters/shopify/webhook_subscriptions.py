"""Subscribing a shop's webhooks to our store-webhook endpoint (``webhookSubscriptionCreate``).

Idempotent: the app's existing subscriptions for the wanted topics are listed first
(``webhookSubscriptions``), and only a topic without one to ``callback_url`` is created. A
creation refused because the subscription exists by now (two runs racing) counts as done after
a fresh list. Subscriptions of the same topic to another address are left alone: they may
serve another deployment, and removing them is the merchant's call.

Shopify delivers to HTTPS addresses only, and payloads are JSON (what
``store.webhooks.parse_store_event`` reads). Admin API 2025-07 names the address
``callbackUrl``; the unified ``uri`` field replaces it from 2025-10.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from supportflow.store.adapters.shopify.fields import nodes, path, user_errors
from supportflow.store.adapters.shopify.queries import M_WEBHOOK_CREATE, Q_WEBHOOKS
from supportflow.store.adapters.shopify.reads import ShopifyReads
from supportflow.store.errors import StoreRejected, StoreUnavailable

# What the sales agent listens to (``store.webhooks`` reads these topics).
SALES_WEBHOOK_TOPICS: tuple[str, ...] = (
    "ORDERS_CREATE",
    "ORDERS_CANCELLED",
    "CHECKOUTS_CREATE",
    "CHECKOUTS_UPDATE",
    "FULFILLMENTS_UPDATE",
)
_SUBSCRIBABLE = frozenset({*SALES_WEBHOOK_TOPICS, "FULFILLMENTS_CREATE"})
_PAGE = 100


class ShopifyWebhookSubscriptions(ShopifyReads):
    async def subscribe_webhooks(
        self, callback_url: str, topics: Sequence[str] = SALES_WEBHOOK_TOPICS
    ) -> list[str]:
        """Make sure each topic (``ORDERS_CREATE`` or ``orders/create``) is delivered to
        ``callback_url``; the subscriptions' GIDs, one per topic in the order given."""
        url = _https_url(callback_url)
        wanted = list(dict.fromkeys(topic_enum(t) for t in topics))
        if not wanted:
            raise StoreRejected("no webhook topics given", status_code=422)
        existing = await self._subscriptions(url, wanted)
        for topic in wanted:
            if topic in existing:
                continue
            variables = {
                "topic": topic,
                "webhookSubscription": {"callbackUrl": url, "format": "JSON"},
            }
            payload = (await self.graphql(M_WEBHOOK_CREATE, variables)).get(
                "webhookSubscriptionCreate"
            ) or {}
            errors = user_errors(payload, "userErrors")
            created = path(payload, "webhookSubscription", "id")
            if errors or not created:
                existing = await self._subscriptions(url, wanted)
                if topic in existing:
                    continue  # made meanwhile, by an earlier attempt or a parallel run
                if errors:
                    raise StoreRejected(
                        f"Shopify refused the {topic} webhook subscription: {errors}",
                        status_code=422,
                    )
                raise StoreUnavailable("Shopify answered without the webhook subscription")
            existing[topic] = str(created)
        return [existing[topic] for topic in wanted]

    async def _subscriptions(self, url: str, topics: list[str]) -> dict[str, str]:
        """topic -> subscription GID, for this app's subscriptions of ``topics`` to ``url``."""
        found: dict[str, str] = {}
        after: str | None = None
        while True:
            variables = {"first": _PAGE, "after": after, "topics": topics}
            connection = (await self._patiently(Q_WEBHOOKS, variables)).get("webhookSubscriptions")
            for node in nodes(connection):
                if path(node, "endpoint", "callbackUrl") == url and node.get("topic") in topics:
                    found.setdefault(str(node["topic"]), str(node.get("id")))
            after = path(connection, "pageInfo", "endCursor")
            if not path(connection, "pageInfo", "hasNextPage") or not after:
                return found


def topic_enum(topic: str) -> str:
    """``orders/create`` or ``ORDERS_CREATE`` as Shopify's ``WebhookSubscriptionTopic``; only
    the topics the store-webhook reader takes."""
    name = topic.strip().upper().replace("/", "_")
    if name not in _SUBSCRIBABLE:
        raise StoreRejected(
            f"webhook topic must be one of {sorted(_SUBSCRIBABLE)}", status_code=422
        )
    return name


def _https_url(value: str) -> str:
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise StoreRejected("Shopify delivers webhooks to https:// addresses only", status_code=422)
    return url

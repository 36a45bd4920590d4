"""Shopify's webhook signature and headers: ``X-Shopify-Hmac-Sha256`` is the base64 of
HMAC-SHA256 over the raw body, keyed with the shared secret."""

from __future__ import annotations

import base64
import hashlib
import hmac

from supportflow.demo_store.webhooks.config import API_VERSION, SHOP_DOMAIN


def sign(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def webhook_headers(
    *, secret: str, body: bytes, topic: str, webhook_id: str, event_id: str, triggered_at: str
) -> dict[str, str]:
    """Every header of one delivery; the same for each retry of that delivery."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "supportflow-demo-store",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(secret, body),
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Shop-Domain": SHOP_DOMAIN,
        "X-Shopify-Triggered-At": triggered_at,
        "X-Shopify-API-Version": API_VERSION,
    }

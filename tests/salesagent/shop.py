"""A shop with the sales agent on, for end-to-end tests: its own demo store (checkouts,
discount codes), the real API and workers, the session's SMTP server as the outbound relay,
and store webhooks signed exactly as Shopify signs them (the store's own sending is tested
with the store; here a test decides when each event arrives)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.mail.maildir_server import MaildirServer
from supportflow.policy.store import PolicyStore
from supportflow.settings import Settings
from supportflow.store.connection_store import StoreConnectionStore
from supportflow.tenants.service import CreatedTenant, create_tenant
from supportflow.tenants.store_webhooks import set_store_webhook_secret
from tests.helpers import TEST_KEYRING, free_port, running_workers, serve_api

SECRET = "whsec-" + "5" * 32


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class SalesShop:
    http: httpx.AsyncClient
    store: httpx.AsyncClient
    settings: Settings
    sessions: sessionmaker[Session]
    tenant: CreatedTenant
    relay: MaildirServer
    temporal: Client

    @property
    def tenant_id(self) -> str:
        return self.tenant.tenant_id

    async def post_event(
        self,
        topic: str,
        payload: dict[str, Any],
        *,
        event_id: str | None = None,
        secret: str = SECRET,
        tenant_id: str | None = None,
    ) -> httpx.Response:
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Webhook-Id": event_id or str(uuid.uuid4()),
            "X-Shopify-Hmac-Sha256": sign(secret, body),
            "X-Shopify-Shop-Domain": "demo-store.local",
        }
        return await self.http.post(
            f"/v1/webhooks/store/{tenant_id or self.tenant_id}", content=body, headers=headers
        )

    async def checkout(self, user_id: str, item_id: str, **extra: Any) -> dict[str, Any]:
        r = await self.store.post(
            "/checkouts", json={"user_id": user_id, "items": [{"item_id": item_id}], **extra}
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def mails_to(self, address: str) -> list[EmailMessage]:
        new = self.relay.maildir_dir / "new"
        found = []
        for f in sorted(new.iterdir()) if new.exists() else []:
            msg = BytesParser(policy=policy.default).parsebytes(f.read_bytes())
            assert isinstance(msg, EmailMessage)
            if str(msg["To"]).strip().lower() == address.lower():
                found.append(msg)
        return found


def checkout_payload(checkout: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The store's ``checkouts/create`` payload (Shopify's REST shape) for a checkout read
    from the demo store."""
    lines = [
        {
            "variant_id": line["item_id"],
            "product_id": line.get("product_id"),
            "title": line.get("title", ""),
            "quantity": line.get("quantity", 1),
            "price": str(line.get("price", "0")),
        }
        for line in checkout["line_items"]
    ]
    payload = {
        "id": checkout["id"],
        "token": checkout["token"],
        "email": checkout.get("email"),
        "phone": checkout.get("phone"),
        "customer": {"id": checkout["customer_id"]},
        "buyer_accepts_marketing": True,
        "buyer_accepts_sms_marketing": False,
        "line_items": lines,
        "total_price": str(checkout.get("total_price", "0")),
        "currency": "USD",
        "created_at": checkout.get("created_at") or datetime.now(UTC).isoformat(),
        "updated_at": datetime.now(UTC).isoformat(),
        "completed_at": None,
        "abandoned_checkout_url": checkout.get("abandoned_checkout_url"),
        "discount_codes": [],
    }
    payload.update(overrides)
    return payload


def order_payload(
    order_id: str, customer_id: str, checkout: dict[str, Any] | None, total: str
) -> dict[str, Any]:
    return {
        "id": order_id,
        "name": order_id,
        "customer": {"id": customer_id},
        "checkout_id": checkout["id"] if checkout else None,
        "checkout_token": checkout["token"] if checkout else None,
        "total_price": total,
        "currency": "USD",
        "line_items": [],
        "discount_codes": [],
        "financial_status": "paid",
        "created_at": datetime.now(UTC).isoformat(),
    }


@contextlib.asynccontextmanager
async def open_sales_shop(
    temporal: Client,
    settings: Settings,
    relay: MaildirServer,
    store_url: str,
    sales: dict[str, Any],
) -> AsyncIterator[SalesShop]:
    settings = settings.model_copy(update={"api_port": free_port(), "store_url": store_url})
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    sessions = make_session_factory(engine)
    tenant = create_tenant(sessions, "Sales Shop", keyring=TEST_KEYRING)
    StoreConnectionStore(sessions).ensure_demo(tenant.tenant_id)
    set_store_webhook_secret(sessions, TEST_KEYRING, tenant.tenant_id, SECRET)
    PolicyStore(sessions).put(tenant.tenant_id, {"sales": sales})
    try:
        async with (
            running_workers(temporal, settings),
            serve_api(settings, temporal) as http,
            httpx.AsyncClient(base_url=store_url, timeout=30) as store,
        ):
            yield SalesShop(http, store, settings, sessions, tenant, relay, temporal)
    finally:
        engine.dispose()
        await asyncio.sleep(0)

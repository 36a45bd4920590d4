"""A Shopify shop behind the store port, over the Admin GraphQL API (httpx, no SDK).

Every call is ``POST {base}/admin/api/{version}/graphql.json`` with the header
``X-Shopify-Access-Token``. Orders and customers are mapped to the demo store's shapes:

- ``order_id`` is the order's name (``#1001``); ``get_order`` also takes ``1001`` or the GID
  (``gid://shopify/Order/...``). ``user_id`` is the customer's GID.
- ``status``: ``cancelled`` when ``cancelledAt`` is set; ``delivered`` when fully fulfilled and
  every live fulfillment is ``DELIVERED``; ``processed`` once anything is fulfilled or in
  progress; ``pending`` otherwise. The raw ``displayFinancialStatus`` /
  ``displayFulfillmentStatus`` are kept under ``external``.
- ``items``: one per line item; ``item_id`` is the variant's GID (as the seed's item ids name
  variants), ``options`` the variant's selected options, ``quantity`` added.
- ``fulfillments``: ``tracking_id`` from ``trackingInfo.number``; ``payment_history`` from
  successful SALE/CAPTURE (payment) and REFUND transactions, ``payment_method_id`` being the
  gateway (``shopify_payments``, ``gift_card``, ...).
- amounts are in the shop's currency (``shopMoney``); orders presented in another currency
  are refunded in shop amounts, which Shopify converts.
- users: ``payment_methods`` is empty (the Admin API does not list a customer's past payment
  instruments); ``orders`` lists order names.

Errors: HTTP 401/403 and ``ACCESS_DENIED`` -> ``BackendAuthError`` (permanent); HTTP 429 and
GraphQL ``THROTTLED`` -> ``StoreThrottled``; 5xx, timeouts and connection errors ->
``StoreUnavailable``; ``userErrors`` / ``orderCancelUserErrors`` -> ``StoreRejected``.

Idempotency. Shopify's mutations take no idempotency key in general, so the adapter reads
before it writes and recognises its own earlier writes:

- cancel: an order whose ``cancelledAt`` is set is returned as is (a retry is a no-op). After
  ``orderCancel`` the adapter polls the returned ``job`` until ``done`` (bounded by
  ``job_timeout``); if the job is still running then, it raises ``StoreUnavailable``, and the
  retry finds the order cancelled. A user error on a retry is checked against a fresh read:
  an order that is cancelled by now counts as success.
- refund: each refund carries ``[supportflow:<idempotency key>]`` in its ``note``; before
  ``refundCreate`` the adapter looks for a refund with that marker and, when one exists,
  returns the order without refunding again. The key itself is the marker, so the check holds
  across processes and restarts. (Two concurrent calls with one key could both miss the marker;
  Temporal runs an activity's attempts one after another, so that does not arise.)
- address: ``orderUpdate`` sets the address, which is idempotent by nature; an order already
  at the requested address is not written at all.
- hold (the cancel saga's first step): ``fulfillmentOrderHold`` on each of the order's open
  fulfillment orders, with the hold's ``handle`` derived from the idempotency key
  (``sf-<sha256>``). Before holding, the adapter reads the order's fulfillment orders and
  skips those that already carry a hold with that handle, so a retry holds nothing twice.
- release (the hold's compensation): ``fulfillmentOrderReleaseHold`` with the ``holdIds`` of
  the holds carrying the hold key's handle, and only those (never a merchant's own holds). No
  such hold: nothing to release, a no-op. Unlike the demo store, Shopify cannot fence a hold
  that reaches it after its release; Temporal runs a step's attempts one after another and
  the saga compensates only once the hold activity has finished, so that needs a hold request
  lost in the network and delivered late, which the adapter cannot rule out.
- cancel with ``refund_on_cancel=False`` (how the registry builds it, since the cancel saga
  refunds first): ``orderCancel(refund: false, restock: true)``, so the refund already made is
  not repeated; the "already cancelled" check above makes it at-most-once.

Capabilities: reads, tracking, hold/release, refund, cancel and the order's address. Payment
and item changes, returns, exchanges and the customer's default address are the demo store's
own (``UnsupportedOperation``); procedures learn this from ``CaseFacts.capabilities`` and hand
such requests to a person before promising anything.

The access token is a ``SecretStr``: it goes into one request header and nowhere else (not in
``repr``, errors or logs).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from types import TracebackType
from typing import Any

import httpx
from pydantic import SecretStr

from supportflow.store.errors import StoreNotFound, StoreRejected, StoreUnavailable
from supportflow.store.port import (
    CANCEL_REASONS,
    BackendAuthError,
    Capability,
    Doc,
    StoreThrottled,
    TrackingInfo,
    UnsupportedOperation,
)

log = logging.getLogger(__name__)

SHOPIFY_CAPABILITIES: frozenset[Capability] = frozenset(
    {
        Capability.GET_ORDER,
        Capability.GET_USER,
        Capability.FIND_USERS,
        Capability.CANCEL_ORDER,
        Capability.REFUND_ORDER,
        Capability.MODIFY_ORDER_ADDRESS,
        Capability.TRACKING,
        Capability.HOLD_ORDER,
        Capability.RELEASE_ORDER,
    }
)
HOLD_HANDLE_PREFIX = "sf-"
# Fulfillment orders that can take a hold (ON_HOLD ones can take more since API 2025-01).
_HOLDABLE = frozenset({"OPEN", "ON_HOLD", "SCHEDULED"})

ORDER_GID = "gid://shopify/Order/"
CUSTOMER_GID = "gid://shopify/Customer/"

# Both of our cancel reasons are the customer's wish; the words go into the staff note.
_CANCEL_REASON_ENUM = {reason: "CUSTOMER" for reason in CANCEL_REASONS}
_PAYMENT_KINDS = frozenset({"SALE", "CAPTURE"})
_DEAD_FULFILLMENTS = frozenset({"CANCELLED", "ERROR", "FAILURE"})
_IN_PROGRESS = frozenset({"FULFILLED", "PARTIALLY_FULFILLED", "IN_PROGRESS", "PENDING_FULFILLMENT"})
_COUNTRY_ALIASES = {"USA": "US", "UNITED STATES": "US", "UNITED STATES OF AMERICA": "US"}

_MONEY = "shopMoney { amount currencyCode }"
_ADDRESS = "firstName lastName company phone address1 address2 city provinceCode countryCodeV2 zip"
ORDER_FIELDS = f"""
fragment SupportOrder on Order {{
  id
  name
  createdAt
  cancelledAt
  cancelReason
  displayFinancialStatus
  displayFulfillmentStatus
  customer {{ id }}
  shippingAddress {{ {_ADDRESS} }}
  lineItems(first: 100) {{
    nodes {{
      id
      title
      quantity
      originalUnitPriceSet {{ {_MONEY} }}
      product {{ id }}
      variant {{ id selectedOptions {{ name value }} }}
    }}
  }}
  fulfillments(first: 50) {{
    id
    status
    displayStatus
    trackingInfo(first: 10) {{ company number url }}
    fulfillmentLineItems(first: 100) {{ nodes {{ quantity lineItem {{ id variant {{ id }} }} }} }}
  }}
  transactions(first: 100) {{
    id
    kind
    status
    gateway
    authorizationCode
    amountSet {{ {_MONEY} }}
    parentTransaction {{ id }}
  }}
  refunds(first: 100) {{ id note createdAt totalRefundedSet {{ {_MONEY} }} }}
  fulfillmentOrders(first: 20) {{ nodes {{ id status fulfillmentHolds {{ id handle }} }} }}
}}
"""

Q_ORDER = "query SupportOrderById($id: ID!) { order(id: $id) { ...SupportOrder } }" + ORDER_FIELDS
Q_ORDERS = (
    "query SupportOrderByName($query: String!) {"
    " orders(first: 5, query: $query) { nodes { ...SupportOrder } } }" + ORDER_FIELDS
)
CUSTOMER_FIELDS = f"""
fragment SupportCustomer on Customer {{
  id
  firstName
  lastName
  defaultEmailAddress {{ emailAddress }}
  defaultPhoneNumber {{ phoneNumber }}
  defaultAddress {{ {_ADDRESS} }}
  addresses(first: 10) {{ zip }}
  orders(first: 50) {{ nodes {{ name }} }}
}}
"""
Q_CUSTOMER = (
    "query SupportCustomerById($id: ID!) { customer(id: $id) { ...SupportCustomer } }"
    + CUSTOMER_FIELDS
)
Q_CUSTOMERS = (
    "query SupportCustomerSearch($query: String!) {"
    " customers(first: 10, query: $query) { nodes { ...SupportCustomer } } }" + CUSTOMER_FIELDS
)
Q_JOB = "query SupportJob($id: ID!) { job(id: $id) { id done } }"
M_CANCEL = """
mutation SupportOrderCancel($orderId: ID!, $reason: OrderCancelReason!,
    $refundMethod: OrderCancelRefundMethodInput!, $restock: Boolean!,
    $notifyCustomer: Boolean!, $staffNote: String!) {
  orderCancel(orderId: $orderId, reason: $reason, refundMethod: $refundMethod,
      restock: $restock, notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { field message code }
    userErrors { field message }
  }
}
"""
M_CANCEL_WITHOUT_REFUND = """
mutation SupportOrderCancelNoRefund($orderId: ID!, $reason: OrderCancelReason!,
    $refund: Boolean!, $restock: Boolean!, $notifyCustomer: Boolean!, $staffNote: String!) {
  orderCancel(orderId: $orderId, reason: $reason, refund: $refund,
      restock: $restock, notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { field message code }
    userErrors { field message }
  }
}
"""
M_HOLD = """
mutation SupportFulfillmentOrderHold($id: ID!, $fulfillmentHold: FulfillmentOrderHoldInput!) {
  fulfillmentOrderHold(id: $id, fulfillmentHold: $fulfillmentHold) {
    fulfillmentHold { id handle }
    fulfillmentOrder { id status }
    userErrors { field message code }
  }
}
"""
M_RELEASE = """
mutation SupportFulfillmentOrderReleaseHold($id: ID!, $holdIds: [ID!]) {
  fulfillmentOrderReleaseHold(id: $id, holdIds: $holdIds) {
    fulfillmentOrder { id status }
    userErrors { field message code }
  }
}
"""
M_REFUND = f"""
mutation SupportRefundCreate($input: RefundInput!) {{
  refundCreate(input: $input) {{
    refund {{ id note createdAt totalRefundedSet {{ {_MONEY} }} }}
    userErrors {{ field message }}
  }}
}}
"""
M_ORDER_UPDATE = """
mutation SupportOrderUpdate($input: OrderInput!) {
  orderUpdate(input: $input) {
    order { id }
    userErrors { field message }
  }
}
"""


class ShopifyAdapter:
    """A ``StorePort`` over one shop's Admin GraphQL API."""

    capabilities: frozenset[Capability] = SHOPIFY_CAPABILITIES

    def __init__(
        self,
        shop_domain_or_base_url: str,
        access_token: SecretStr,
        api_version: str = "2025-07",
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        timeout: float = 15.0,
        notify_customer: bool = False,
        restock: bool = True,
        refund_on_cancel: bool = True,
        job_poll_interval: float = 0.5,
        job_poll_max_interval: float = 5.0,
        job_timeout: float = 30.0,
    ) -> None:
        if not isinstance(access_token, SecretStr):
            raise TypeError("access_token must be a pydantic SecretStr")
        self.base_url = _base_url(shop_domain_or_base_url)
        self.api_version = api_version
        self._notify_customer = notify_customer
        self._restock = restock
        self._refund_on_cancel = refund_on_cancel
        self._job_poll_interval = job_poll_interval
        self._job_poll_max_interval = max(job_poll_max_interval, job_poll_interval)
        self._job_timeout = job_timeout
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={
                "X-Shopify-Access-Token": access_token.get_secret_value(),
                "Accept": "application/json",
            },
        )

    def __repr__(self) -> str:
        return f"ShopifyAdapter({self.base_url!r}, api_version={self.api_version!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ShopifyAdapter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- reads ------------------------------------------------------------------------------

    async def get_order(self, order_id: str) -> Doc | None:
        node = await self._order_node(order_id)
        return None if node is None else map_order(node)

    async def get_user(self, user_id: str) -> Doc | None:
        gid = _gid(user_id, CUSTOMER_GID)
        if gid is None:
            return None
        data = await self.graphql(Q_CUSTOMER, {"id": gid})
        node = data.get("customer")
        return map_customer(node) if isinstance(node, dict) else None

    async def find_users(
        self,
        *,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        zip: str | None = None,
        phone: str | None = None,
    ) -> list[Doc]:
        """Customers by email, first + last name + zip (of any of their addresses), or phone;
        Shopify's search is fuzzy, so results are filtered to exact (case-insensitive) matches."""
        if email:
            mode, query = "email", f"email:{_search_value(email)}"
        elif first_name and last_name and zip:
            first, last = _search_value(first_name), _search_value(last_name)
            mode, query = "name", f"first_name:{first} last_name:{last}"
        elif phone:
            mode, query = "phone", f"phone:{_search_value(re.sub(r'[^0-9+]', '', phone))}"
        else:
            raise StoreRejected(
                "give email, or first_name + last_name + zip, or phone", status_code=422
            )
        data = await self.graphql(Q_CUSTOMERS, {"query": query})
        found = []
        for node in _nodes(data.get("customers")):
            if mode == "email":
                match = _fold(_path(node, "defaultEmailAddress", "emailAddress")) == _fold(email)
            elif mode == "name":
                names = (_fold(node.get("firstName")), _fold(node.get("lastName")))
                zips = {_fold(a.get("zip")) for a in _list(node.get("addresses"))}
                zips.add(_fold(_path(node, "defaultAddress", "zip")))
                match = names == (_fold(first_name), _fold(last_name)) and _fold(zip) in zips
            else:
                match = _digits(_path(node, "defaultPhoneNumber", "phoneNumber")) == _digits(phone)
            if match:
                found.append(map_customer(node))
        return found

    async def tracking(self, order_id: str) -> list[TrackingInfo] | None:
        node = await self._order_node(order_id)
        if node is None:
            return None
        found: list[TrackingInfo] = []
        for fulfillment in _live_fulfillments(node):
            item_ids = _fulfilled_variant_ids(fulfillment)
            for info in _list(fulfillment.get("trackingInfo")):
                if info.get("number"):
                    found.append(
                        TrackingInfo(
                            tracking_id=str(info["number"]),
                            item_ids=item_ids,
                            carrier=info.get("company"),
                            url=info.get("url"),
                        )
                    )
        return found

    # -- writes -----------------------------------------------------------------------------

    async def cancel_order(self, order_id: str, reason: str, idempotency_key: str) -> Doc:
        if reason not in _CANCEL_REASON_ENUM:
            raise StoreRejected(f"reason must be one of {list(CANCEL_REASONS)}", status_code=422)
        node = await self._require_order(order_id)
        if node.get("cancelledAt"):
            log.info("shopify order %s already cancelled; nothing to do", node.get("name"))
            return map_order(node)
        variables: dict[str, Any] = {
            "orderId": node["id"],
            "reason": _CANCEL_REASON_ENUM[reason],
            "restock": self._restock,
            "notifyCustomer": self._notify_customer,
            "staffNote": f"supportflow: {reason} {_marker(idempotency_key)}",
        }
        if self._refund_on_cancel:
            variables["refundMethod"] = {"originalPaymentMethodsRefund": True}
            mutation = M_CANCEL
        else:
            variables["refund"] = False  # the cancel saga refunded before this step
            mutation = M_CANCEL_WITHOUT_REFUND
        payload = (await self.graphql(mutation, variables)).get("orderCancel") or {}
        errors = _user_errors(payload, "orderCancelUserErrors", "userErrors")
        if errors:
            after = await self._require_order(order_id)
            if after.get("cancelledAt"):
                return map_order(after)  # a retry that raced its own earlier attempt
            raise StoreRejected(f"Shopify refused to cancel {node.get('name')}: {errors}")
        job = payload.get("job")
        if isinstance(job, dict) and job.get("id") and not job.get("done"):
            await self._wait_for_job(str(job["id"]), what=f"cancel of {node.get('name')}")
        after = await self._require_order(order_id)
        if not after.get("cancelledAt"):
            raise StoreRejected(
                f"Shopify finished the cancel job for {node.get('name')} "
                "but the order is not cancelled"
            )
        return map_order(after)

    async def refund_order(
        self,
        order_id: str,
        idempotency_key: str,
        *,
        amount: float | None = None,
        payment_method_id: str | None = None,
    ) -> Doc:
        """Refund ``amount`` (default: all that is outstanding) to the original transactions,
        or only to those of gateway ``payment_method_id``."""
        node = await self._require_order(order_id)
        marker = _marker(idempotency_key)
        if _has_refund_marked(node, marker):
            log.info("refund %s on %s already made; nothing to do", marker, node.get("name"))
            return map_order(node)
        refundable = _refundable(node, payment_method_id)
        wanted = sum(c for _, _, c in refundable) if amount is None else _to_cents(amount)
        if wanted <= 0:
            raise StoreRejected(f"nothing left to refund on order {node.get('name')}")
        transactions = []
        remaining = wanted
        for parent_id, gateway, available in refundable:
            take = min(available, remaining)
            if take <= 0:
                break
            transactions.append(
                {
                    "orderId": node["id"],
                    "parentId": parent_id,
                    "gateway": gateway,
                    "kind": "REFUND",
                    "amount": _amount(take),
                }
            )
            remaining -= take
        if remaining > 0:
            raise StoreRejected(
                f"refund of {_amount(wanted)} exceeds what was paid "
                f"(by {payment_method_id or 'the original methods'}) for order {node.get('name')}"
            )
        refund_input = {
            "orderId": node["id"],
            "note": f"supportflow refund {marker}",
            "notify": self._notify_customer,
            "transactions": transactions,
        }
        payload = (await self.graphql(M_REFUND, {"input": refund_input})).get("refundCreate") or {}
        errors = _user_errors(payload, "userErrors")
        if errors:
            after = await self._require_order(order_id)
            if _has_refund_marked(after, marker):
                return map_order(after)
            raise StoreRejected(f"Shopify refused the refund on {node.get('name')}: {errors}")
        return map_order(await self._require_order(order_id))

    async def modify_order_address(
        self, order_id: str, address: Mapping[str, str], idempotency_key: str
    ) -> Doc:
        """Change the shipping address of a pending (unfulfilled, not cancelled) order."""
        node = await self._require_order(order_id)
        order = map_order(node)
        if order["status"] != "pending":
            raise StoreRejected(
                f"order {order['order_id']} is {order['status']}; cannot change its address"
            )
        wanted = _normalize_address(address)
        if order.get("address") == wanted:
            return order
        current = node.get("shippingAddress") or {}
        shipping = {
            # Keep who and how to reach them; replace where.
            **{
                k: current[k]
                for k in ("firstName", "lastName", "company", "phone")
                if current.get(k)
            },
            "address1": wanted["address1"],
            "address2": wanted["address2"],
            "city": wanted["city"],
            "provinceCode": wanted["state"],
            "countryCode": wanted["country"],
            "zip": wanted["zip"],
        }
        variables = {"input": {"id": node["id"], "shippingAddress": shipping}}
        payload = (await self.graphql(M_ORDER_UPDATE, variables)).get("orderUpdate") or {}
        errors = _user_errors(payload, "userErrors")
        if errors:
            raise StoreRejected(f"Shopify refused the address of {order['order_id']}: {errors}")
        return map_order(await self._require_order(order_id))

    async def hold_order(
        self, order_id: str, idempotency_key: str, *, reason: str | None = None
    ) -> Doc:
        """Hold every open fulfillment order of a pending order (see the module's notes)."""
        node = await self._require_order(order_id)
        order = map_order(node)
        if order["status"] != "pending":
            raise StoreRejected(
                f"order {order['order_id']} is {order['status']}; only a pending order is held"
            )
        handle = hold_handle(idempotency_key)
        held = 0
        for fo in _nodes(node.get("fulfillmentOrders")):
            if _has_hold(fo, handle):
                held += 1  # an earlier attempt with this key placed it
                continue
            if fo.get("status") not in _HOLDABLE:
                continue
            variables = {
                "id": fo["id"],
                "fulfillmentHold": {
                    "reason": "OTHER",
                    "reasonNotes": f"supportflow: cancellation requested ({reason or 'customer'})",
                    "handle": handle,
                    "notifyMerchant": False,
                },
            }
            payload = (await self.graphql(M_HOLD, variables)).get("fulfillmentOrderHold") or {}
            errors = _user_errors(payload, "userErrors")
            if errors:
                again = await self._require_order(order_id)
                if not any(_has_hold(f, handle) for f in _nodes(again.get("fulfillmentOrders"))):
                    raise StoreRejected(
                        f"Shopify refused to hold {order['order_id']}: {errors}", status_code=409
                    )
            held += 1
        if held == 0:
            raise StoreRejected(f"order {order['order_id']} has no open fulfillment order to hold")
        return map_order(await self._require_order(order_id))

    async def release_order(
        self, order_id: str, idempotency_key: str, hold_idempotency_key: str | None = None
    ) -> Doc:
        """Release the holds this adapter placed with ``hold_idempotency_key`` (all of its own
        holds when none is given); a no-op when there are none."""
        node = await self._require_order(order_id)
        handle = hold_handle(hold_idempotency_key) if hold_idempotency_key else None
        for fo in _nodes(node.get("fulfillmentOrders")):
            hold_ids = [
                str(h["id"])
                for h in _list(fo.get("fulfillmentHolds"))
                if h.get("id")
                and (
                    h.get("handle") == handle
                    if handle
                    else str(h.get("handle") or "").startswith(HOLD_HANDLE_PREFIX)
                )
            ]
            if not hold_ids:
                continue
            variables = {"id": fo["id"], "holdIds": hold_ids}
            payload = (await self.graphql(M_RELEASE, variables)).get(
                "fulfillmentOrderReleaseHold"
            ) or {}
            errors = _user_errors(payload, "userErrors")
            if errors:
                raise StoreRejected(f"Shopify refused to release {node.get('name')}: {errors}")
        return map_order(await self._require_order(order_id))

    # -- what Shopify lacks here: refused up front (capabilities) and if called anyway ------

    async def get_product(self, product_id: str) -> Doc | None:
        raise self._unsupported(Capability.GET_PRODUCT)

    async def modify_order_payment(
        self, order_id: str, payment_method_id: str, idempotency_key: str
    ) -> Doc:
        raise self._unsupported(Capability.MODIFY_ORDER_PAYMENT)

    async def modify_order_items(
        self,
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
        idempotency_key: str,
    ) -> Doc:
        raise self._unsupported(Capability.MODIFY_ORDER_ITEMS)

    async def return_order_items(
        self, order_id: str, item_ids: list[str], payment_method_id: str, idempotency_key: str
    ) -> Doc:
        raise self._unsupported(Capability.RETURN_ORDER_ITEMS)

    async def exchange_order_items(
        self,
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
        idempotency_key: str,
    ) -> Doc:
        raise self._unsupported(Capability.EXCHANGE_ORDER_ITEMS)

    async def modify_user_address(
        self, user_id: str, address: Mapping[str, str], idempotency_key: str
    ) -> Doc:
        raise self._unsupported(Capability.MODIFY_USER_ADDRESS)

    def _unsupported(self, capability: Capability) -> UnsupportedOperation:
        return UnsupportedOperation(f"the Shopify backend does not support {capability.value}")

    # -- plumbing ---------------------------------------------------------------------------

    async def graphql(self, query: str, variables: Mapping[str, Any]) -> Doc:
        """Run one GraphQL operation; its ``data``, or the mapped error."""
        path = f"/admin/api/{self.api_version}/graphql.json"
        try:
            response = await self._http.post(
                path, json={"query": query, "variables": dict(variables)}
            )
        except httpx.TimeoutException as exc:
            raise StoreUnavailable("Shopify timed out") from exc
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"Shopify unreachable: {type(exc).__name__}") from exc
        status = response.status_code
        if status in (401, 403):
            raise BackendAuthError(
                f"Shopify refused the access token ({status}): check the token and its scopes",
                status_code=status,
            )
        if status == 429:
            raise StoreThrottled(
                "Shopify rate limit (429)",
                status_code=429,
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise StoreUnavailable(f"Shopify error {status}", status_code=status)
        if status == 404:
            raise StoreRejected(
                f"no Admin API at {self.base_url}{path} (404): check the shop domain and API "
                "version",
                status_code=404,
            )
        if status in (402, 423):
            raise StoreRejected(f"the shop is frozen or locked ({status})", status_code=status)
        try:
            body = response.json()
        except ValueError as exc:
            raise StoreUnavailable(f"Shopify sent a non-JSON answer ({status})") from exc
        if not response.is_success:
            raise StoreRejected(
                f"Shopify refused the request ({status}): {body}", status_code=status
            )
        if not isinstance(body, dict):
            raise StoreUnavailable("Shopify sent an unexpected answer")
        if body.get("errors"):
            raise _graphql_error(body)
        data = body.get("data")
        if not isinstance(data, dict):
            raise StoreUnavailable("Shopify answered without data")
        return data

    async def _wait_for_job(self, job_id: str, *, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._job_timeout
        interval = self._job_poll_interval
        while True:
            await asyncio.sleep(interval)
            try:
                job = (await self.graphql(Q_JOB, {"id": job_id})).get("job")
            except StoreUnavailable as exc:
                # The cancel is under way whatever happens to one poll: keep waiting.
                log.info("polling Shopify job for the %s: %s", what, exc.detail)
                if isinstance(exc, StoreThrottled) and exc.retry_after:
                    interval = max(interval, min(exc.retry_after, self._job_poll_max_interval))
            else:
                if not isinstance(job, dict) or job.get("done"):
                    return  # a finished job may be gone: the caller re-reads the order anyway
            if loop.time() + interval > deadline:
                raise StoreUnavailable(
                    f"Shopify is still running the {what} after {self._job_timeout:g}s; "
                    "retry with the same idempotency key"
                )
            interval = min(interval * 1.5, self._job_poll_max_interval)

    async def _order_node(self, order_id: str) -> Doc | None:
        order_id = order_id.strip()
        if order_id.startswith(ORDER_GID):
            node = (await self.graphql(Q_ORDER, {"id": order_id})).get("order")
            return node if isinstance(node, dict) else None
        name = order_id if order_id.startswith("#") else f"#{order_id}"
        if not re.fullmatch(r"#[\w-]{1,40}", name):
            return None
        data = await self.graphql(Q_ORDERS, {"query": f"name:{name}"})
        for node in _nodes(data.get("orders")):
            if _fold(node.get("name")) == _fold(name):  # search is fuzzy: exact match only
                return node
        return None

    async def _require_order(self, order_id: str) -> Doc:
        node = await self._order_node(order_id)
        if node is None:
            raise StoreNotFound(f"order {order_id} not found")
        return node


# -- mapping ------------------------------------------------------------------------------------


def map_order(node: Mapping[str, Any]) -> Doc:
    """A Shopify Order node (as ``ORDER_FIELDS`` selects it) in the seed's order shape."""
    items = []
    for line in _nodes(node.get("lineItems")):
        variant = line.get("variant") or {}
        items.append(
            {
                "name": line.get("title"),
                "product_id": _path(line, "product", "id"),
                "item_id": variant.get("id") or line.get("id"),
                "price": _money(line.get("originalUnitPriceSet")),
                "options": {
                    str(o["name"]).lower(): o["value"]
                    for o in _list(variant.get("selectedOptions"))
                    if o.get("name") and o.get("name") != "Title"
                },
                "quantity": line.get("quantity", 1),
                "line_item_id": line.get("id"),
            }
        )
    fulfillments = [
        {
            "tracking_id": [
                str(t["number"]) for t in _list(f.get("trackingInfo")) if t.get("number")
            ],
            "item_ids": _fulfilled_variant_ids(f),
        }
        for f in _live_fulfillments(node)
    ]
    payments = []
    for t in _list(node.get("transactions")):
        if t.get("status") != "SUCCESS":
            continue
        kind = t.get("kind")
        if kind in _PAYMENT_KINDS or kind == "REFUND":
            entry = {
                "transaction_type": "refund" if kind == "REFUND" else "payment",
                "amount": _money(t.get("amountSet")),
                "payment_method_id": t.get("gateway"),
            }
            if t.get("authorizationCode"):
                # The gateway's own id (a Stripe payment intent for the "stripe" gateway).
                entry["reference"] = str(t["authorizationCode"])
            payments.append(entry)
    return {
        "order_id": node.get("name"),
        "user_id": _path(node, "customer", "id"),
        "address": _map_address(node.get("shippingAddress")),
        "items": items,
        "status": _status(node),
        "fulfillments": fulfillments,
        "payment_history": payments,
        "external": {
            "system": "shopify",
            "id": node.get("id"),
            "financial_status": node.get("displayFinancialStatus"),
            "fulfillment_status": node.get("displayFulfillmentStatus"),
            "cancel_reason": node.get("cancelReason"),
            "created_at": node.get("createdAt"),
        },
    }


def map_customer(node: Mapping[str, Any]) -> Doc:
    return {
        "user_id": node.get("id"),
        "name": {"first_name": node.get("firstName"), "last_name": node.get("lastName")},
        "address": _map_address(node.get("defaultAddress")),
        "email": _path(node, "defaultEmailAddress", "emailAddress"),
        "phone": _path(node, "defaultPhoneNumber", "phoneNumber"),
        "payment_methods": {},
        "orders": [o.get("name") for o in _nodes(node.get("orders"))],
    }


def _status(node: Mapping[str, Any]) -> str:
    if node.get("cancelledAt"):
        return "cancelled"
    live = _live_fulfillments(node)
    fulfillment_status = node.get("displayFulfillmentStatus")
    if (
        live
        and fulfillment_status == "FULFILLED"
        and all(f.get("displayStatus") == "DELIVERED" for f in live)
    ):
        return "delivered"
    if live or fulfillment_status in _IN_PROGRESS:
        return "processed"
    return "pending"


def _map_address(address: object) -> Doc | None:
    if not isinstance(address, dict):
        return None
    return {
        "address1": address.get("address1") or "",
        "address2": address.get("address2") or "",
        "city": address.get("city") or "",
        "country": address.get("countryCodeV2") or "",
        "state": address.get("provinceCode") or "",
        "zip": address.get("zip") or "",
    }


def _normalize_address(address: Mapping[str, str]) -> dict[str, str]:
    missing = [k for k in ("address1", "city", "state", "country", "zip") if not address.get(k)]
    if missing:
        raise StoreRejected(f"address lacks {', '.join(missing)}", status_code=422)
    country = address["country"].strip().upper()
    country = _COUNTRY_ALIASES.get(country, country)
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise StoreRejected(
            f"country must be an ISO 3166 alpha-2 code for Shopify, not {address['country']!r}",
            status_code=422,
        )
    return {
        "address1": address["address1"].strip(),
        "address2": (address.get("address2") or "").strip(),
        "city": address["city"].strip(),
        "country": country,
        "state": address["state"].strip().upper(),
        "zip": address["zip"].strip(),
    }


def _live_fulfillments(node: Mapping[str, Any]) -> list[Doc]:
    return [f for f in _list(node.get("fulfillments")) if f.get("status") not in _DEAD_FULFILLMENTS]


def _fulfilled_variant_ids(fulfillment: Mapping[str, Any]) -> list[str]:
    ids = []
    for entry in _nodes(fulfillment.get("fulfillmentLineItems")):
        line = entry.get("lineItem") or {}
        ident = _path(line, "variant", "id") or line.get("id")
        if ident:
            ids.append(str(ident))
    return ids


def _refundable(node: Mapping[str, Any], gateway: str | None) -> list[tuple[str, str, int]]:
    """(transaction id, gateway, cents still refundable) per successful payment transaction,
    optionally of one gateway only."""
    transactions = _list(node.get("transactions"))
    refunded: dict[str, int] = {}
    for t in transactions:
        parent = _path(t, "parentTransaction", "id")
        if t.get("kind") == "REFUND" and t.get("status") == "SUCCESS" and parent:
            refunded[parent] = refunded.get(parent, 0) + _to_cents(_money(t.get("amountSet")))
    available = []
    for t in transactions:
        if t.get("kind") not in _PAYMENT_KINDS or t.get("status") != "SUCCESS":
            continue
        if gateway is not None and t.get("gateway") != gateway:
            continue
        left = _to_cents(_money(t.get("amountSet"))) - refunded.get(str(t["id"]), 0)
        if left > 0:
            available.append((str(t["id"]), str(t.get("gateway")), left))
    return available


def hold_handle(idempotency_key: str) -> str:
    """The ``handle`` of the fulfillment hold made with this key: short, stable, ours."""
    return HOLD_HANDLE_PREFIX + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def _has_hold(fulfillment_order: Mapping[str, Any], handle: str) -> bool:
    return any(h.get("handle") == handle for h in _list(fulfillment_order.get("fulfillmentHolds")))


def _has_refund_marked(node: Mapping[str, Any], marker: str) -> bool:
    return any(marker in (r.get("note") or "") for r in _list(node.get("refunds")))


def _marker(idempotency_key: str) -> str:
    return f"[supportflow:{idempotency_key}]"


def _user_errors(payload: Mapping[str, Any], *fields: str) -> str:
    messages = []
    for field in fields:
        for error in _list(payload.get(field)):
            where = ".".join(str(p) for p in error.get("field") or [])
            code = error.get("code")
            text = str(error.get("message"))
            messages.append(f"{where + ': ' if where else ''}{text}{f' ({code})' if code else ''}")
    return "; ".join(dict.fromkeys(messages))  # the deprecated userErrors repeats the others


def _graphql_error(body: Mapping[str, Any]) -> Exception:
    errors = body.get("errors")
    if not isinstance(errors, list):  # e.g. {"errors": "[API] ..."} next to an HTTP status
        return StoreRejected(f"Shopify refused the request: {errors}")
    codes = {_path(e, "extensions", "code") for e in errors if isinstance(e, dict)}
    text = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))
    if "THROTTLED" in codes:
        return StoreThrottled(
            f"Shopify throttled the request: {text}", retry_after=_throttle_wait(body)
        )
    if "ACCESS_DENIED" in codes:
        return BackendAuthError(f"Shopify denied access: {text}", status_code=403)
    if "INTERNAL_SERVER_ERROR" in codes:
        return StoreUnavailable(f"Shopify internal error: {text}")
    return StoreRejected(f"Shopify GraphQL error: {text}")


def _throttle_wait(body: Mapping[str, Any]) -> float | None:
    cost = _path(body, "extensions", "cost")
    if not isinstance(cost, dict):
        return None
    status = cost.get("throttleStatus") or {}
    try:
        needed = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(needed, 0.0) / float(status["restoreRate"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _base_url(shop: str) -> str:
    shop = shop.strip().rstrip("/")
    if not shop:
        raise ValueError("a shop domain or base URL is required")
    if shop.startswith(("http://", "https://")):
        return shop
    if "/" in shop:
        raise ValueError(f"not a shop domain: {shop!r}")
    return f"https://{shop}"


def _gid(value: str, prefix: str) -> str | None:
    value = value.strip()
    if value.startswith(prefix):
        return value
    return prefix + value if value.isdigit() else None


def _search_value(value: str) -> str:
    # Quoted, without what could end the quote or start another term.
    cleaned = re.sub(r'["\\]', "", value.strip())
    return f'"{cleaned}"'


def _money(money_set: object) -> float:
    amount = _path(money_set, "shopMoney", "amount")
    return float(Decimal(str(amount))) if amount is not None else 0.0


def _to_cents(amount: float) -> int:
    return int((Decimal(str(amount)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _amount(cents: int) -> str:
    return str(Decimal(cents) / 100)


def _fold(value: object) -> str:
    return str(value or "").strip().casefold()


def _digits(value: object) -> str:
    return re.sub(r"\D", "", str(value or ""))


def _path(value: object, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _list(value: object) -> list[Doc]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _nodes(connection: object) -> list[Doc]:
    return _list(_path(connection, "nodes"))

"""The GraphQL documents the adapter sends, each selecting only what the mapping reads.

Fragments keep one order or customer shape for every query that returns one, so
``mapping.map_order`` sees the same fields whichever way the order was found.
"""

from __future__ import annotations

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
# The shop's order names (Settings > General > Order ID format): prefix + number + suffix.
Q_SHOP_ORDER_NAMING = (
    "query SupportShopOrderNaming { shop { orderNumberFormatPrefix orderNumberFormatSuffix } }"
)


def _order_cancel(name: str, refund_variable: str, refund_argument: str) -> str:
    """``orderCancel`` with one way of refunding: the rest of the operation is the same."""
    return f"""
mutation {name}($orderId: ID!, $reason: OrderCancelReason!,
    {refund_variable}, $restock: Boolean!, $notifyCustomer: Boolean!, $staffNote: String!) {{
  orderCancel(orderId: $orderId, reason: $reason, {refund_argument},
      restock: $restock, notifyCustomer: $notifyCustomer, staffNote: $staffNote) {{
    job {{ id done }}
    orderCancelUserErrors {{ field message code }}
    userErrors {{ field message }}
  }}
}}
"""


M_CANCEL = _order_cancel(
    "SupportOrderCancel",
    "$refundMethod: OrderCancelRefundMethodInput!",
    "refundMethod: $refundMethod",
)
# The cancel saga refunds before it cancels: this one must not refund again.
M_CANCEL_WITHOUT_REFUND = _order_cancel(
    "SupportOrderCancelNoRefund", "$refund: Boolean!", "refund: $refund"
)
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

# The catalogue as one flat connection of variants, each with its product: nesting variants
# under products(first: n) would multiply the query's cost (Shopify charges first x children)
# past the 1,000-point limit of a single query, or cut off products with many variants.
CATALOGUE_PAGE = 250  # the most a connection returns at once
Q_CATALOGUE = """
query SupportCatalogue($first: Int!, $after: String) {
  productVariants(first: $first, after: $after) {
    nodes { id title availableForSale price selectedOptions { name value } product { id title } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# -- sales (issue 14): discount codes, abandoned checkouts, webhook subscriptions ---------------
#
# One shape for a code discount wherever it is read (by code, or as a mutation's result), so
# ``discounts.map_discount`` reads the same fields both ways.
_CUSTOMER_SELECTION = (
    "customerSelection { __typename ... on DiscountCustomers { customers { id } } }"
)
CODE_DISCOUNT_FIELDS = f"""
fragment SupportCodeDiscount on DiscountCodeNode {{
  id
  codeDiscount {{
    __typename
    ... on DiscountCodeBasic {{
      title
      endsAt
      usageLimit
      codes(first: 1) {{ nodes {{ code }} }}
      {_CUSTOMER_SELECTION}
      customerGets {{
        value {{
          __typename
          ... on DiscountPercentage {{ percentage }}
          ... on DiscountAmount {{ amount {{ amount currencyCode }} }}
        }}
      }}
    }}
    ... on DiscountCodeFreeShipping {{
      title
      endsAt
      usageLimit
      codes(first: 1) {{ nodes {{ code }} }}
      {_CUSTOMER_SELECTION}
    }}
  }}
}}
"""
Q_DISCOUNT_BY_CODE = (
    "query SupportDiscountByCode($code: String!) {"
    " codeDiscountNodeByCode(code: $code) { ...SupportCodeDiscount } }" + CODE_DISCOUNT_FIELDS
)
M_DISCOUNT_BASIC = (
    "mutation SupportDiscountCodeBasicCreate($basicCodeDiscount: DiscountCodeBasicInput!) {"
    " discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {"
    " codeDiscountNode { ...SupportCodeDiscount } userErrors { field message code } } }"
    + CODE_DISCOUNT_FIELDS
)
M_DISCOUNT_FREE_SHIPPING = (
    "mutation SupportDiscountCodeFreeShippingCreate("
    "$freeShippingCodeDiscount: DiscountCodeFreeShippingInput!) {"
    " discountCodeFreeShippingCreate(freeShippingCodeDiscount: $freeShippingCodeDiscount) {"
    " codeDiscountNode { ...SupportCodeDiscount } userErrors { field message code } } }"
    + CODE_DISCOUNT_FIELDS
)

# Abandoned checkouts (``abandonedCheckouts``, Admin API 2024-10 and later): read by id with
# the query filter ``id:<number>``; the GraphQL object has no token, see ``checkouts.py``.
_CHECKOUT_LINES = f"""
lineItems(first: 50) {{
  nodes {{
    id title quantity variant {{ id }} product {{ id }} originalUnitPriceSet {{ {_MONEY} }}
  }}
}}
"""
CHECKOUT_FIELDS = f"""
fragment SupportCheckout on AbandonedCheckout {{
  id
  abandonedCheckoutUrl
  completedAt
  createdAt
  customer {{ id defaultEmailAddress {{ emailAddress }} defaultPhoneNumber {{ phoneNumber }} }}
  shippingAddress {{ phone }}
  totalPriceSet {{ {_MONEY} }}
  {_CHECKOUT_LINES}
}}
"""
Q_CHECKOUT = (
    "query SupportAbandonedCheckout($query: String!) {"
    " abandonedCheckouts(first: 1, query: $query) { nodes { ...SupportCheckout } } }"
    + CHECKOUT_FIELDS
)
# Only what finds a checkout by its token: ids and recovery URLs, newest first, cheap per page.
Q_CHECKOUT_URLS = """
query SupportAbandonedCheckoutUrls($first: Int!, $after: String, $reverse: Boolean) {
  abandonedCheckouts(first: $first, after: $after, reverse: $reverse) {
    nodes { id abandonedCheckoutUrl }
    pageInfo { hasNextPage endCursor }
  }
}
"""
# The order placed from a checkout (the ``checkout_token`` search filter of ``orders``).
Q_ORDER_OF_CHECKOUT = f"""
query SupportOrderOfCheckout($query: String!) {{
  orders(first: 1, query: $query) {{
    nodes {{
      id
      name
      createdAt
      email
      phone
      customer {{ id }}
      totalPriceSet {{ {_MONEY} }}
      {_CHECKOUT_LINES}
    }}
  }}
}}
"""

# Webhook subscriptions of this app on this shop (Admin API 2025-07: HTTPS endpoints are
# ``callbackUrl``; the unified ``uri`` arrives in 2025-10).
_WEBHOOK_FIELDS = "id topic endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } }"
Q_WEBHOOKS = f"""
query SupportWebhookSubscriptions($first: Int!, $after: String,
    $topics: [WebhookSubscriptionTopic!]) {{
  webhookSubscriptions(first: $first, after: $after, topics: $topics) {{
    nodes {{ {_WEBHOOK_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
M_WEBHOOK_CREATE = f"""
mutation SupportWebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!,
    $webhookSubscription: WebhookSubscriptionInput!) {{
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {{
    webhookSubscription {{ {_WEBHOOK_FIELDS} }}
    userErrors {{ field message }}
  }}
}}
"""

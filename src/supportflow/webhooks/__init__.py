"""Outbound webhooks (issue 16): events a tenant's back end receives, signed in Stripe's style.

``verify`` is what a merchant's Python back end (and the tests) check a delivery with; the
endpoint store, the outbox and the dispatcher are in this package's other modules.
"""

from supportflow.webhooks.signing import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    WebhookSignatureError,
    sign,
    signature_header,
    verify,
)

__all__ = [
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "WebhookSignatureError",
    "sign",
    "signature_header",
    "verify",
]

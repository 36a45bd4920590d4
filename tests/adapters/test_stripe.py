"""StripeRefunds against a fake of Stripe's Refunds API on loopback.

The server (``fake_stripe``, a real uvicorn/FastAPI app on a free port) stands in for a paid
service this machine cannot reach; it speaks Stripe's REST wire format as documented
(form-encoded requests, ``{"error": {...}}`` bodies, ``Idempotency-Key`` semantics). The
adapter code under test is the production code, talking real HTTP.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from supportflow.store.adapters.stripe import StripeRefunds
from supportflow.store.errors import (
    IdempotencyKeyReused,
    StoreRejected,
    StoreUnavailable,
)
from supportflow.store.port import BackendAuthError, StoreThrottled
from tests.adapters.fake_stripe import STRIPE_KEY, StripeState
from tests.helpers import free_port

PI = "pi_3PaidFullyAAAA"  # 50.00 USD received


async def test_refund_request_and_object(stripe: StripeRefunds, stripe_state: StripeState) -> None:
    refund = await stripe.create_refund(
        PI, 1_250, "wf-1/refund", "requested_by_customer", metadata={"order_id": "#1001"}
    )
    assert refund["object"] == "refund"
    assert refund["id"].startswith("re_")
    assert (refund["amount"], refund["currency"], refund["status"]) == (1_250, "usd", "succeeded")
    assert refund["payment_intent"] == PI
    assert refund["metadata"] == {"supportflow_idempotency_key": "wf-1/refund", "order_id": "#1001"}
    (sent,) = stripe_state.requests
    assert sent["content_type"] == "application/x-www-form-urlencoded"
    assert sent["idempotency_key"] == "wf-1/refund"
    assert sent["form"] == {
        "payment_intent": PI,
        "amount": "1250",
        "reason": "requested_by_customer",
        "metadata[supportflow_idempotency_key]": "wf-1/refund",
        "metadata[order_id]": "#1001",
    }
    assert await stripe.get_refund(refund["id"]) == refund
    assert await stripe.get_refund("re_missing") is None


async def test_same_key_same_params_returns_the_same_refund(
    stripe: StripeRefunds, stripe_state: StripeState
) -> None:
    first = await stripe.create_refund(PI, 2_000, "wf-2/refund")
    again = await stripe.create_refund(PI, 2_000, "wf-2/refund")
    assert again == first
    assert len(stripe_state.refunds) == 1
    assert stripe_state.payment_intents[PI]["refunded"] == 2_000


async def test_same_key_other_params_is_refused(
    stripe: StripeRefunds, stripe_state: StripeState
) -> None:
    await stripe.create_refund(PI, 2_000, "wf-3/refund")
    with pytest.raises(IdempotencyKeyReused, match="idempotency_error") as caught:
        await stripe.create_refund(PI, 2_500, "wf-3/refund")
    assert isinstance(caught.value, StoreRejected)
    assert caught.value.status_code == 400
    assert len(stripe_state.refunds) == 1


async def test_business_errors_are_rejections(
    stripe: StripeRefunds, stripe_state: StripeState
) -> None:
    with pytest.raises(StoreRejected, match="amount_too_large") as caught:
        await stripe.create_refund(PI, 6_000, "wf-4/refund")
    assert "greater than unrefunded amount" in str(caught.value)
    with pytest.raises(StoreRejected, match="resource_missing"):
        await stripe.create_refund("pi_nope", 100, "wf-5/refund")
    full = await stripe.create_refund(PI, None, "wf-6/refund")  # everything left
    assert full["amount"] == 5_000
    with pytest.raises(StoreRejected, match="charge_already_refunded"):
        await stripe.create_refund(PI, None, "wf-7/refund")
    with pytest.raises(StoreRejected, match="positive"):
        await stripe.create_refund(PI, 0, "wf-8/refund")
    stripe_state.fail_next.append(
        (
            402,
            {
                "error": {
                    "type": "card_error",
                    "code": "expired_or_canceled_card",
                    "message": "The card was closed.",
                }
            },
            {},
        )
    )
    with pytest.raises(StoreRejected, match=r"card_error.*closed") as card:
        await stripe.create_refund(PI, 100, "wf-9/refund")
    assert not isinstance(card.value, StoreUnavailable)


async def test_rate_limit_and_server_errors_are_transient(
    stripe: StripeRefunds, stripe_state: StripeState
) -> None:
    stripe_state.fail_next.append(
        (
            429,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "message": "Too many requests hit the API too quickly.",
                }
            },
            {"Retry-After": "1"},
        )
    )
    stripe_state.fail_next.append(
        (500, {"error": {"type": "api_error", "message": "Something went wrong."}}, {})
    )
    stripe_state.fail_next.append(
        (
            409,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "lock_timeout",
                    "message": "There is currently another in-progress request using this "
                    "Stripe token.",
                }
            },
            {"Stripe-Should-Retry": "true"},
        )
    )
    with pytest.raises(StoreThrottled) as throttled:
        await stripe.create_refund(PI, 700, "wf-10/refund")
    assert throttled.value.retry_after == 1.0
    with pytest.raises(StoreUnavailable):
        await stripe.create_refund(PI, 700, "wf-10/refund")
    with pytest.raises(StoreUnavailable):
        await stripe.create_refund(PI, 700, "wf-10/refund")
    refund = await stripe.create_refund(PI, 700, "wf-10/refund")  # the retry goes through, once
    assert refund["amount"] == 700
    assert len(stripe_state.refunds) == 1


async def test_bad_key_is_a_permanent_auth_error(stripe_url: str) -> None:
    key = "sk_test_51WrongKeyWrongKeyWrongKey000000000000000"
    async with StripeRefunds(SecretStr(key), base_url=stripe_url) as wrong:
        with pytest.raises(BackendAuthError) as caught:
            await wrong.create_refund(PI, 100, "wf-11/refund")
        assert caught.value.status_code == 401
        assert key not in str(caught.value) and key[-4:] not in str(caught.value)
        assert key not in repr(wrong)
        with pytest.raises(BackendAuthError):
            await wrong.get_refund("re_x")


async def test_unreachable_is_transient() -> None:
    async with StripeRefunds(
        SecretStr(STRIPE_KEY), base_url=f"http://127.0.0.1:{free_port()}"
    ) as gone:
        with pytest.raises(StoreUnavailable):
            await gone.create_refund(PI, 100, "wf-12/refund")


def test_key_must_be_secret() -> None:
    with pytest.raises(TypeError):
        StripeRefunds(STRIPE_KEY)  # type: ignore[arg-type]

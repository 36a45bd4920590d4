"""A small fake of Stripe's Refunds API (``POST /v1/refunds``, ``GET /v1/refunds/{id}``).

It stands in for Stripe, which this machine cannot reach. What it models from Stripe's docs:
``Authorization: Bearer`` keys, form-encoded bodies (``metadata[key]=value``), unknown and
invalid parameters, refunds against a payment intent's unrefunded amount, error bodies
``{"error": {"type", "code", "message", "param"}}`` with their HTTP statuses, ``Request-Id``,
and idempotency: the same ``Idempotency-Key`` with the same parameters replays the first
response (``Idempotent-Replayed: true``); with other parameters it is a 400
``idempotency_error``; requests that fail validation save no result.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

Doc = dict[str, Any]

STRIPE_KEY = "sk_test_51FakeKeyForLoopbackTestsOnly0000000000000000000000"
REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
PARAMS = frozenset(
    {
        "payment_intent",
        "charge",
        "amount",
        "reason",
        "refund_application_fee",
        "reverse_transfer",
        "instructions_email",
        "origin",
    }
)


@dataclass
class StripeState:
    payment_intents: dict[str, Doc] = field(default_factory=dict)
    refunds: dict[str, Doc] = field(default_factory=dict)
    idempotent: dict[str, tuple[str, int, Doc]] = field(default_factory=dict)
    requests: list[Doc] = field(default_factory=list)
    fail_next: list[tuple[int, Doc, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self._ids = itertools.count(1)
            self.refunds.clear()
            self.idempotent.clear()
            self.requests.clear()
            self.fail_next.clear()
            self.payment_intents.clear()
            for pi, amount in (("pi_3PaidFullyAAAA", 5_000), ("pi_3PaidFullyBBBB", 12_999)):
                self.payment_intents[pi] = {
                    "id": pi,
                    "amount_received": amount,
                    "currency": "usd",
                    "latest_charge": "ch_" + pi[3:],
                    "refunded": 0,
                }

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_3Fake{next(self._ids):010d}"


def _error(
    status: int, kind: str, message: str, *, code: str | None = None, param: str | None = None
) -> tuple[int, Doc]:
    error: Doc = {"type": kind, "message": message}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    return status, {"error": error}


def create_stripe_app(state: StripeState) -> FastAPI:
    app = FastAPI()

    def respond(status: int, body: Doc, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(
            body,
            status_code=status,
            headers={"Request-Id": state.new_id("req"), **(headers or {})},
        )

    def authorized(request: Request) -> JSONResponse | None:
        auth = request.headers.get("Authorization", "")
        if auth == f"Bearer {STRIPE_KEY}":
            return None
        shown = auth.removeprefix("Bearer ")
        masked = f"{shown[:8]}{'*' * 4}{shown[-4:]}" if len(shown) > 12 else "****"
        status, body = _error(401, "invalid_request_error", f"Invalid API Key provided: {masked}")
        return respond(status, body)

    @app.post("/v1/refunds")
    async def create_refund(request: Request) -> JSONResponse:
        denied = authorized(request)
        if denied is not None:
            return denied
        raw = (await request.body()).decode()
        form_encoded = request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        )
        pairs = parse_qsl(raw, keep_blank_values=True) if form_encoded else []
        key = request.headers.get("Idempotency-Key")
        with state.lock:
            state.requests.append(
                {
                    "content_type": request.headers.get("content-type"),
                    "idempotency_key": key,
                    "stripe_account": request.headers.get("Stripe-Account"),
                    "form": dict(pairs),
                }
            )
            if state.fail_next:
                status, body, headers = state.fail_next.pop(0)
                return respond(status, body, headers)
            fingerprint = json.dumps(sorted(pairs))
            if key is not None and key in state.idempotent:
                saved_fingerprint, status, body = state.idempotent[key]
                if saved_fingerprint != fingerprint:
                    status, body = _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters "
                        f"they were first used with. Try using a key other than '{key}' if you "
                        "meant to execute a different request.",
                    )
                    return respond(status, body)
                return respond(status, body, {"Idempotent-Replayed": "true"})
            validated = _validate(pairs)
            if isinstance(validated, tuple):
                return respond(*validated)  # validation failures save no idempotent result
            status, body = _execute(state, validated)
            if key is not None:
                state.idempotent[key] = (fingerprint, status, body)
            return respond(status, body, {"Idempotency-Key": key} if key else None)

    @app.get("/v1/refunds/{refund_id}")
    async def get_refund(refund_id: str, request: Request) -> JSONResponse:
        denied = authorized(request)
        if denied is not None:
            return denied
        with state.lock:
            refund = state.refunds.get(refund_id)
        if refund is None:
            return respond(
                *_error(
                    404,
                    "invalid_request_error",
                    f"No such refund: '{refund_id}'",
                    code="resource_missing",
                    param="id",
                )
            )
        return respond(200, refund)

    return app


def _validate(pairs: list[tuple[str, str]]) -> Doc | tuple[int, Doc]:
    params: Doc = {"metadata": {}}
    for name, value in pairs:
        if name.startswith("metadata[") and name.endswith("]"):
            params["metadata"][name[len("metadata[") : -1]] = value
        elif name in PARAMS:
            params[name] = value
        else:
            return _error(
                400,
                "invalid_request_error",
                f"Received unknown parameter: {name}",
                code="parameter_unknown",
                param=name,
            )
    if "payment_intent" not in params and "charge" not in params:
        return _error(
            400,
            "invalid_request_error",
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
            code="parameter_missing",
        )
    if "amount" in params:
        try:
            params["amount"] = int(params["amount"])
        except ValueError:
            return _error(
                400,
                "invalid_request_error",
                f"Invalid integer: {params['amount']}",
                code="parameter_invalid_integer",
                param="amount",
            )
        if params["amount"] <= 0:
            return _error(
                400,
                "invalid_request_error",
                "This value must be greater than or equal to 1.",
                code="parameter_invalid_integer",
                param="amount",
            )
    if "reason" in params and params["reason"] not in REASONS:
        return _error(
            400,
            "invalid_request_error",
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
            param="reason",
        )
    return params


def _execute(state: StripeState, params: Doc) -> tuple[int, Doc]:
    intent = state.payment_intents.get(str(params.get("payment_intent")))
    if intent is None:
        return _error(
            400,
            "invalid_request_error",
            f"No such payment_intent: '{params.get('payment_intent')}'",
            code="resource_missing",
            param="payment_intent",
        )
    left = intent["amount_received"] - intent["refunded"]
    if left <= 0:
        return _error(
            400,
            "invalid_request_error",
            f"Charge {intent['latest_charge']} has already been refunded.",
            code="charge_already_refunded",
        )
    amount = params.get("amount", left)
    if amount > left:
        return _error(
            400,
            "invalid_request_error",
            f"Refund amount (${amount / 100:.2f}) is greater than unrefunded amount on "
            f"charge (${left / 100:.2f})",
            code="amount_too_large",
            param="amount",
        )
    intent["refunded"] += amount
    refund = {
        "id": state.new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": state.new_id("txn"),
        "charge": intent["latest_charge"],
        "created": int(time.time()),
        "currency": intent["currency"],
        "destination_details": {
            "card": {
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": params["metadata"],
        "payment_intent": intent["id"],
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    state.refunds[refund["id"]] = refund
    return 200, refund

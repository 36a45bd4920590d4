"""The sales agent's activities (issue 14): begin an opportunity (policy, experiment arm,
the touch record) and send its one message (consent, store state, discount code, email or
SMS) — everything checked again at the moment of sending.

Idempotent: the touch is written once per workflow; the discount code is created with the
workflow's key (the store gives the same code back); the email's Message-ID and each SMS
part's key come from the workflow id, so a retried send goes out once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from supportflow.activities.channels import html_body, tenant_thread_secret
from supportflow.channels import records
from supportflow.channels.sms.sender import SmsDeferred, SmsRejected, TwilioSms
from supportflow.crypto.keyring import KeyRing
from supportflow.mail.outgoing import OutgoingMail, message_id_for
from supportflow.mail.sender import MailDeferred, MailRejected, MailSender
from supportflow.policy.sales import SalesPolicy
from supportflow.policy.store import PolicyStore
from supportflow.replies.overrides import TemplateStore
from supportflow.replies.render import compiled
from supportflow.replies.sandbox import render_limited
from supportflow.replies.templates import DEFAULT_TEMPLATES
from supportflow.sales import consent, touches
from supportflow.sales.experiment_store import running_experiment
from supportflow.sales.experiments import assign
from supportflow.sales.timing import in_quiet_hours, next_allowed
from supportflow.sales.unsubscribe import make_token
from supportflow.settings import Settings
from supportflow.store.errors import StoreNotFound, StoreRejected
from supportflow.store.port import Capability, DiscountSpec, Doc, StorePort, supports
from supportflow.store.registry import PortSource
from supportflow.tenants.channels import ChannelConfig, channel_config
from supportflow.workflows.sales_contract import (
    BeginSalesInput,
    SalesPlan,
    SendSalesInput,
    SendSalesResult,
)

log = logging.getLogger(__name__)

_SUBJECTS = {
    "abandoned_checkout": "Your cart at {store} is waiting",
    "post_purchase": "How is your order from {store}?",
}


class SalesActivities:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keyring: KeyRing,
        settings: Settings,
        stores: PortSource,
        mail: MailSender,
        templates: TemplateStore,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._settings = settings
        self._stores = stores
        self._mail = mail
        self._templates = templates
        self._policies = PolicyStore(sessions)

    async def _port(self, tenant_id: str) -> StorePort:
        try:
            return await self._stores.port_for(tenant_id)
        except StoreRejected as exc:
            raise ApplicationError(str(exc), type="StoreRejected", non_retryable=True) from exc

    async def _sales_policy(self, tenant_id: str) -> SalesPolicy:
        return (await asyncio.to_thread(self._policies.get, tenant_id)).sales

    # --- begin -----------------------------------------------------------------------------

    @activity.defn(name="begin_sales_opportunity")
    async def begin(self, inp: BeginSalesInput) -> SalesPlan:
        policy = await self._sales_policy(inp.tenant_id)
        rules = policy.abandoned_checkout if inp.kind == "abandoned_checkout" else None
        enabled = policy.enabled and (
            policy.abandoned_checkout.enabled
            if inp.kind == "abandoned_checkout"
            else policy.post_purchase.enabled
        )
        if not enabled:
            return SalesPlan(go=False, reason="sales_off")
        port = await self._port(inp.tenant_id)
        try:
            user = await port.get_user(inp.store_user_id)
        except StoreNotFound:
            user = None
        if user is None:
            return SalesPlan(go=False, reason="unknown_customer")
        experiment = await asyncio.to_thread(
            running_experiment, self._sessions, inp.tenant_id, inp.kind
        )
        delay = policy.post_purchase.delay if rules is None else rules.delay
        offer: Literal["none", "discount", "free_shipping"] = (
            rules.offer if rules is not None else "none"
        )
        percent: int | None = rules.discount_percent if rules is not None else None
        send = True
        arm_name: str | None = None
        if experiment is not None:
            arm = assign(experiment, inp.store_user_id)
            arm_name = arm.name
            params = arm.params
            send = params.send
            # "exchange" is a retention offer; a reminder cannot carry it.
            offer = params.offer if params.offer != "exchange" else "none"
            percent = params.discount_percent if offer == "discount" else None
            if params.delay_minutes is not None:
                delay = timedelta(minutes=params.delay_minutes)
        began = inp.began_at.astimezone(UTC)
        send_at = next_allowed(policy.quiet_hours, began + delay)
        await asyncio.to_thread(
            touches.open_touch,
            self._sessions,
            touch_id=inp.workflow_id,
            tenant_id=inp.tenant_id,
            store_user_id=inp.store_user_id,
            kind=inp.kind,
            subject_id=inp.subject_id,
            workflow_id=inp.workflow_id,
            at=began,
            experiment_id=experiment.experiment_id if experiment else None,
            arm=arm_name,
        )
        return SalesPlan(
            go=True,
            touch_id=inp.workflow_id,
            send_at=send_at,
            experiment_id=experiment.experiment_id if experiment else None,
            experiment_version=experiment.version if experiment else None,
            arm=arm_name,
            send=send,
            offer=offer,
            discount_percent=percent,
            offer_valid_seconds=int(
                (rules.offer_valid if rules is not None else timedelta(hours=72)).total_seconds()
            ),
        )

    # --- send ------------------------------------------------------------------------------

    @activity.defn(name="send_sales_message")
    async def send(self, inp: SendSalesInput) -> SendSalesResult:
        touch_id = inp.plan.touch_id or inp.workflow_id
        status = await asyncio.to_thread(touches.touch_status, self._sessions, touch_id)
        if status is not None and status != "assigned":
            # An earlier attempt finished (and recorded) this touch.
            return SendSalesResult(status=_result_status(status), detail=status)
        policy = await self._sales_policy(inp.tenant_id)
        held = await self._held_back(inp, policy)
        if held is not None:
            return held
        port = await self._port(inp.tenant_id)
        subject = await self._subject(port, inp)
        if isinstance(subject, SendSalesResult):
            return await self._close(touch_id, subject)
        user = await port.get_user(inp.store_user_id)
        if user is None:
            return await self._close(touch_id, _held("unknown_customer"))
        config = await asyncio.to_thread(
            channel_config, self._sessions, self._keyring, inp.tenant_id
        )
        if config is None:
            raise ApplicationError("unknown tenant", type="UnknownTenant", non_retryable=True)
        channel = await self._channel(inp, policy, user, config)
        if channel is None:
            return await self._close(touch_id, _held("no_consent"))
        code = await self._discount(port, inp)
        facts = _facts(inp, user, subject, config.store_name, code)
        overrides = await asyncio.to_thread(self._templates.overrides, inp.tenant_id)
        name = _template_name(inp, policy)
        if channel == "email":
            await self._email(inp, user, config, overrides, name, facts)
        else:
            await self._sms(inp, user, config, overrides, name, facts)
        await asyncio.to_thread(
            touches.close_touch,
            self._sessions,
            touch_id,
            status="sent",
            channel=channel,
            discount_code=code,
            sent_at=datetime.now(UTC),
        )
        log.info("sales message sent (tenant %s, %s, %s)", inp.tenant_id, inp.kind, channel)
        return SendSalesResult(status="sent", channel=channel)

    async def _held_back(self, inp: SendSalesInput, policy: SalesPolicy) -> SendSalesResult | None:
        touch_id = inp.plan.touch_id or inp.workflow_id
        if inp.ordered is not None:
            # The store's order webhook may have come before this touch was written; the
            # conversion is recorded here too (once per order, whichever is first).
            ordered = inp.ordered
            await asyncio.to_thread(
                lambda: touches.attribute_order(
                    self._sessions,
                    tenant_id=inp.tenant_id,
                    store_user_id=inp.store_user_id,
                    order_id=ordered.order_id,
                    amount=ordered.total,
                    placed_at=ordered.placed_at,
                    window=policy.attribution_window,
                    touch_id=touch_id,
                )
            )
            return await self._close(touch_id, _held("ordered"))
        if not policy.enabled:
            return await self._close(touch_id, _held("sales_off"))
        if not inp.plan.send:
            return await self._close(touch_id, SendSalesResult(status="control"))
        now = datetime.now(UTC)
        if policy.quiet_hours is not None and in_quiet_hours(policy.quiet_hours, now):
            return SendSalesResult(
                status="deferred", retry_at=next_allowed(policy.quiet_hours, now)
            )
        return None

    async def _close(self, touch_id: str, result: SendSalesResult) -> SendSalesResult:
        status = result.status if result.detail is None else f"{result.status}:{result.detail}"
        await asyncio.to_thread(touches.close_touch, self._sessions, touch_id, status=status)
        return result

    async def _subject(self, port: StorePort, inp: SendSalesInput) -> Doc | SendSalesResult:
        """The checkout or order as it is now; held back when it no longer calls for a
        message (bought meanwhile, cancelled, gone)."""
        if inp.kind == "abandoned_checkout":
            if not supports(port, Capability.GET_CHECKOUT):
                return _held("store_cannot_read_checkouts")
            checkout = await port.get_checkout(inp.subject_id)
            if checkout is None:
                return _held("checkout_gone")
            if checkout.get("completed_order_id"):
                return _held("ordered")
            return checkout
        order = await port.get_order(inp.subject_id)
        if order is None:
            return _held("order_gone")
        if str(order.get("status", "")).startswith(("cancelled", "return", "exchange")):
            return _held("order_" + str(order["status"]).split()[0])
        return order

    async def _channel(
        self, inp: SendSalesInput, policy: SalesPolicy, user: Doc, config: ChannelConfig
    ) -> Literal["email", "sms"] | None:
        for channel in policy.channels:
            phone = str(user.get("phone") or "") or None
            if channel == "email" and not user.get("email"):
                continue
            if channel == "sms" and (phone is None or not config.sms_number):
                continue
            if await asyncio.to_thread(
                consent.may_contact,
                self._sessions,
                inp.tenant_id,
                inp.store_user_id,
                channel,
                phone=phone,
            ):
                return channel
        return None

    async def _discount(self, port: StorePort, inp: SendSalesInput) -> str | None:
        plan = inp.plan
        if plan.offer == "none" or not supports(port, Capability.CREATE_DISCOUNT_CODE):
            return None
        spec = DiscountSpec(
            kind="percentage" if plan.offer == "discount" else "free_shipping",
            value=float(plan.discount_percent or 0) if plan.offer == "discount" else 0.0,
            expires_at=datetime.now(UTC) + timedelta(seconds=plan.offer_valid_seconds),
            usage_limit=1,
            customer_id=inp.store_user_id,
        )
        made = await port.create_discount_code(spec, f"{inp.workflow_id}:discount")
        return str(made["code"])

    def _unsubscribe_url(self, inp: SendSalesInput, secret: bytes, channel: str) -> str:
        token = make_token(secret, inp.tenant_id, inp.store_user_id, channel)
        return f"{self._settings.public_url}/v1/unsubscribe/{inp.tenant_id}/{token}"

    async def _email(
        self,
        inp: SendSalesInput,
        user: Doc,
        config: ChannelConfig,
        overrides: dict[str, str],
        name: str,
        facts: dict[str, Any],
    ) -> None:
        sender = config.reply_from or self._settings.mail_from
        secret = await asyncio.to_thread(tenant_thread_secret, self._sessions, inp.tenant_id)
        link = self._unsubscribe_url(inp, secret, "email")
        body = _render(overrides, f"{name}.email", name, facts)
        first = facts.get("first_name")
        text = (
            f"Hi{' ' + str(first) if first else ''},\n\n{body}\n\n{config.store_name}\n\n"
            f"You get this because you agreed to hear from {config.store_name}. "
            f"Unsubscribe: {link}"
        )
        mail = OutgoingMail(
            to=str(user["email"]),
            subject=_SUBJECTS[inp.kind].format(store=config.store_name),
            text=text,
            html=html_body(text),
            message_id=message_id_for(f"sales:{inp.workflow_id}", sender),
            from_name=config.store_name,
            from_address=sender,
            list_unsubscribe=link,
        )
        try:
            await self._mail.send(mail)
        except ValueError as err:
            raise ApplicationError(str(err), type="BadAddress", non_retryable=True) from None
        except MailRejected as err:
            raise ApplicationError(str(err), type="MailRejected", non_retryable=True) from None
        except MailDeferred as err:
            raise ApplicationError(str(err), type="MailDeferred") from None

    async def _sms(
        self,
        inp: SendSalesInput,
        user: Doc,
        config: ChannelConfig,
        overrides: dict[str, str],
        name: str,
        facts: dict[str, Any],
    ) -> None:
        key = f"sales:{inp.workflow_id}"
        if await asyncio.to_thread(
            records.message_status, self._sessions, inp.tenant_id, "sms", "out", key
        ):
            return  # an earlier attempt sent it
        if not (config.sms_number and config.twilio_account_sid and config.twilio_auth_token):
            raise ApplicationError("sms is not configured", type="SmsRejected", non_retryable=True)
        body = _render(overrides, f"{name}.sms", name, facts) + " Reply STOP to opt out."
        client = TwilioSms(
            config.twilio_account_sid,
            config.twilio_auth_token,
            base_url=self._settings.twilio_api_base_url or None,
        )
        phone = str(user["phone"])
        try:
            sent = await client.send(from_=config.sms_number, to=phone, body=body)
        except SmsRejected as err:
            raise ApplicationError(
                f"Twilio refused the message ({err.code})", type="SmsRejected", non_retryable=True
            ) from None
        except SmsDeferred as err:
            raise ApplicationError(str(err), type="SmsDeferred") from None
        await asyncio.to_thread(
            records.record_message,
            self._sessions,
            tenant_id=inp.tenant_id,
            channel="sms",
            direction="out",
            external_id=key,
            status=sent.status or "queued",
            customer_id=None,
            address=phone,
            provider_id=sent.sid,
        )


def _held(reason: str) -> SendSalesResult:
    return SendSalesResult(status="suppressed", detail=reason)


def _result_status(status: str) -> Literal["sent", "control", "suppressed"]:
    head = status.split(":", 1)[0]
    return head if head in ("sent", "control") else "suppressed"  # type: ignore[return-value]


def _template_name(inp: SendSalesInput, policy: SalesPolicy) -> str:
    if inp.kind == "abandoned_checkout":
        return "sales_abandoned_checkout"
    return f"sales_post_purchase_{policy.post_purchase.kind.replace('_request', '')}"


def _render(overrides: dict[str, str], name: str, fallback: str, facts: dict[str, Any]) -> str:
    for candidate in (name, fallback):
        source = overrides.get(candidate)
        if source:
            try:
                return render_limited(compiled(source), facts).strip()
            except Exception:  # a tenant's template that fails: ours instead
                log.warning("tenant template %s failed; using the default", candidate)
    shipped = DEFAULT_TEMPLATES.get(name) or DEFAULT_TEMPLATES[fallback]
    return render_limited(compiled(shipped), facts).strip()


def _facts(
    inp: SendSalesInput, user: Doc, subject: Doc, store: str, code: str | None
) -> dict[str, Any]:
    lines = subject.get("line_items") or subject.get("items") or []
    items = [str(i.get("title") or i.get("name") or "your item") for i in lines][:5]
    name = user.get("name") or {}
    return {
        "first_name": name.get("first_name") if isinstance(name, dict) else None,
        "store": store,
        "items": items or ["your items"],
        "total": subject.get("total_price"),
        "checkout_url": subject.get("abandoned_checkout_url"),
        "order_id": subject.get("order_id") or inp.subject_id,
        "code": code,
        "offer": inp.plan.offer if code else "none",
        "discount_percent": inp.plan.discount_percent,
    }

"""Verifying who a customer is, inside CustomerWorkflow (runs from PATCH_TRUST on).

A message is trusted when the API verified its sender with a signed identity token
(``InboundMessage.verified``) or when its sender proved the email on the account with a
one-time code in this conversation. Only a trusted turn sees the account (``_user``); an open
case continues only for the verified identity that opened it. Codes are made, mailed and
checked by activities (activities/identity.py): no code or secret enters history.

This is a mixin: CustomerWorkflow supplies the conversation state and the activity calls
declared at the top of the class.
"""

from __future__ import annotations

import re
from dataclasses import replace

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.contract import OrderEmailInput
    from supportflow.activities.identity import (
        CheckCodeInput,
        FindAccountInput,
        FindAccountResult,
        IdentityActivities,
        LinkIdentityInput,
        SendCodeInput,
    )
    from supportflow.activities.store import StoreActivities
    from supportflow.activities.tenant import LoadPolicyInput, TenantActivities
    from supportflow.procedures.router import ORDER_STATUS_INTENTS, effective_intent
    from supportflow.understanding.contract import Understanding
    from supportflow.workflows.contract import (
        Channel,
        InboundMessage,
        PendingRequest,
        VerifiedIdentity,
    )
    from supportflow.workflows.conversation import ConversationBase
    from supportflow.workflows.plan import Plan, Proceed

# A one-time code as customers type it: six digits, maybe spaced ("123 456").
_CODE = re.compile(r"(?<!\d)(\d{3})[ -]?(\d{3})(?!\d)")
# Intents of a message that carries no request of its own ("ok", "done", "hi").
_NO_REQUEST = frozenset({"out_of_scope", "greeting", "thanks", "confirm"})


def _says_nothing_new(u: Understanding) -> bool:
    return u.intent in _NO_REQUEST or u.needs_clarification


class VerificationSteps(ConversationBase):
    def _sender_verified(self, msg: InboundMessage) -> bool:
        s = self._s
        if msg.verified is not None:
            return True
        if self._version.channels and msg.channel != Channel.CHAT:
            # A From header or caller id is no proof: each email or SMS proves itself (a
            # reply in our thread, the account's phone), checked by the API, or a code.
            return False
        return s.verification is not None and msg.sender.key in s.verified_senders

    def _verified_by(self, msg: InboundMessage) -> str | None:
        if not self._trust:
            return None
        if msg.verified is not None:
            return msg.verified.method
        return "code" if self._trusted else None

    async def _act_verified(self, msg: InboundMessage, u: Understanding) -> Plan:
        s = self._s
        gate = await self._verify(msg, u)
        if isinstance(gate, Plan):
            return gate
        u = gate.understanding
        intent = effective_intent(u, awaiting=s.awaiting, last_intent=s.last_intent)
        plan = await self._route(msg, u, intent, gate.first_name)
        if plan.template == "ask_identity":
            # Account data needs a verified customer: keep the request, ask for the email
            # the code goes to (or say that the verified email has no account).
            if self._trusted:
                plan = replace(plan, template="no_account", awaiting="identity")
            else:
                # The request being served: one part of a message with several (the others
                # are queued), or the whole message.
                serving = self._serving if self._version.requests else u
                s.pending_request = PendingRequest(
                    text=self._text,
                    understanding=serving,
                    sender=msg.sender.key if self._version.channels else None,
                )
                plan = replace(plan, template="ask_verification", awaiting="identity")
        return replace(plan, prefix=gate.prefix)

    async def _verify(self, msg: InboundMessage, u: Understanding) -> Plan | Proceed:
        s = self._s
        if msg.verified is not None:
            first_name = None
            if s.verification is None or s.verification.key != msg.verified.key:
                found = await self._find_account(msg.verified)
                if found is None:
                    return Plan("store_unavailable", u.intent)
                self._adopt(msg.verified, found)
                first_name = found.first_name
            self._trusted = True
            pending, s.pending_request = s.pending_request, None
            theirs = pending is None or pending.sender in (None, msg.sender.key)
            if self._version.channels and not theirs:
                pending = None  # someone else's words: never taken up by this proof
            if pending is not None and _says_nothing_new(u):
                # Signed in after asking ("ok, logged in"): answer what was asked.
                self._text = pending.text
                understanding = pending.understanding
                case = s.case
                if self._version.channels and case is not None and case.is_open and case.awaiting:
                    # Kept from before the sender proved who they are, it was read without
                    # their open case's question ("I no longer need it" to "why?", "yes" to
                    # "shall I?"): read it again, now that the case is theirs.
                    understanding = await self._understand_text(pending.text)
                return Proceed(understanding, first_name=first_name)
            return Proceed(u, first_name=first_name)
        if self._trusted:
            return Proceed(u)
        if s.verification is None:
            # Identified by a typed email in a run before verification existed: not proof.
            s.store_user_id = s.verified_email = None
        code = _CODE.search(msg.text) if s.awaiting == "verification_code" else None
        if code is not None:
            return await self._check_code(msg, u, code.group(1) + code.group(2))
        email = next((e.strip().lower() for e in [msg.email, *u.entities.emails] if e), None)
        if email is not None and len(email) <= 320:
            limited = await self._status_by_order_email(u, email)
            if limited is not None:
                return limited
            if self._version.dispatch and not _says_nothing_new(u):
                # The email came with a request ("where is my order #W1? my email is ..."):
                # it waits for the code and is answered then, with every detail it gave.
                s.pending_request = PendingRequest(text=self._text, understanding=u)
            return await self._send_code(u, email)
        return Proceed(u)

    async def _status_by_order_email(self, u: Understanding, email: str) -> Plan | None:
        """Where the tenant allows it: an order's status and tracking for its number plus the
        email on it, without verification (nothing else about the order or the account)."""
        s = self._s
        asks_status = u.intent in ORDER_STATUS_INTENTS or (
            s.awaiting == "identity" and s.last_intent in ORDER_STATUS_INTENTS
        )
        order_id = u.entities.order_ids[0] if u.entities.order_ids else s.pending_order_id
        if not asks_status or order_id is None:
            return None
        s.policy = await self._calls.ai(
            TenantActivities.load_policy, LoadPolicyInput(tenant_id=self._inp.tenant_id)
        )
        if not self._policy.status_by_order_email:
            return None
        order = await self._calls.store_read(
            StoreActivities.order_status_by_email,
            OrderEmailInput(tenant_id=self._inp.tenant_id, order_id=order_id, email=email),
        )
        if order is None:
            return Plan("store_unavailable", u.intent)
        if not order.found:
            return Plan(
                "order_not_found",
                u.intent,
                {"order_id": order_id},
            )
        return Plan(
            "order_status_limited",
            u.intent,
            {
                "order_id": order.order_id,
                "status": order.status,
                "tracking_ids": order.tracking_ids,
            },
        )

    async def _send_code(self, u: Understanding, email: str) -> Plan:
        info = workflow.info()
        sent = await self._calls.integration(
            IdentityActivities.send_verification_code,
            SendCodeInput(
                tenant_id=self._inp.tenant_id,
                customer_id=self._inp.customer_id,
                email=email,
                request_key=f"{info.run_id}/turn/{self._s.turns}",
            ),
        )
        if sent is None:
            return Plan("code_unavailable", "verify")
        if sent.status == "rate_limited":
            minutes = max(1, -(-sent.retry_after_seconds // 60))
            return Plan(
                "code_rate_limited",
                "verify",
                {"minutes": minutes},
            )
        return Plan("code_sent", "verify", {"email": email})

    async def _check_code(self, msg: InboundMessage, u: Understanding, code: str) -> Plan | Proceed:
        s = self._s
        checked = await self._calls.integration(
            IdentityActivities.check_verification_code,
            CheckCodeInput(
                tenant_id=self._inp.tenant_id, customer_id=self._inp.customer_id, code=code
            ),
        )
        if checked is None:
            return Plan("store_unavailable", u.intent)
        if checked.status == "wrong":
            return Plan(
                "code_wrong",
                "verify",
                {"tries_left": checked.tries_left},
            )
        if checked.status != "verified" or checked.email is None:
            template = "code_locked" if checked.status == "locked" else "code_expired"
            return Plan(template, "verify")
        who = VerifiedIdentity(email=checked.email, method="code")
        found = await self._find_account(who)
        if found is None:
            return Plan("store_unavailable", u.intent)
        self._adopt(who, found)
        s.verified_senders.append(msg.sender.key)
        self._trusted = True
        if s.transcript and s.transcript[-1].message_id == msg.message_id:
            s.transcript[-1].verified_by = "code"  # the message that proved it
        # Remembered for the next sign-in with this email; the conversation goes on without it.
        await self._calls.integration(
            IdentityActivities.link_verified_identity,
            LinkIdentityInput(
                tenant_id=self._inp.tenant_id,
                customer_id=self._inp.customer_id,
                email=checked.email,
                method="code",
            ),
        )
        pending, s.pending_request = s.pending_request, None
        welcome: dict[str, object] = {"first_name": found.first_name, "ask_next": False}
        if found.store_user_id is None:
            return Plan("no_account", "verify")
        if pending is None:
            return Plan("verified", "verify", {**welcome, "ask_next": True})
        self._text = pending.text
        return Proceed(
            pending.understanding, prefix=("verified", welcome), first_name=found.first_name
        )

    async def _find_account(self, who: VerifiedIdentity) -> FindAccountResult | None:
        return await self._calls.store_read(
            IdentityActivities.find_verified_account,
            FindAccountInput(
                tenant_id=self._inp.tenant_id,
                email=who.email,
                store_customer_id=who.store_customer_id,
            ),
        )

    def _adopt(self, who: VerifiedIdentity, found: FindAccountResult) -> None:
        s = self._s
        before = s.verification.key if s.verification is not None else None
        same_account = found.store_user_id is not None and found.store_user_id == s.store_user_id
        if s.verification is None or s.verification.key != who.key:
            s.verified_senders = []  # proofs of another identity do not carry over
        s.verification = who
        s.store_user_id = found.store_user_id
        s.verified_email = who.email
        case = s.case
        if (
            self._version.channels
            and same_account
            and case is not None
            and case.is_open
            and case.owner == before
        ):
            # The same store account, proven another way (a token in chat, then a reply by
            # email, then a text from the account's phone): the case is still theirs.
            s.case = case.model_copy(update={"owner": who.key})

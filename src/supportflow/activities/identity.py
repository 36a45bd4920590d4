"""Activities that verify who a customer is: send a one-time code, check it, find the store
account of a verified identity, and remember a verified email for the conversation.

Codes and emails never cross into workflow history in clear: the workflow passes the email
the customer claimed (history is encrypted by the payload codec) and gets back only a status
and, once the right code came back, the email it proved.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from supportflow.crypto.keyring import KeyRing
from supportflow.db.models import Customer, Identity, Tenant
from supportflow.identity import codes
from supportflow.identity.mailer import CodeMailer
from supportflow.store.errors import StoreRejected
from supportflow.store.registry import PortSource

log = logging.getLogger(__name__)


class SendCodeInput(BaseModel):
    tenant_id: str
    customer_id: str
    email: str = Field(max_length=320)
    # Derived from workflow id and turn: a retried activity sends at most one mail.
    request_key: str = Field(max_length=255)


class SendCodeResult(BaseModel):
    status: Literal["sent", "rate_limited"]
    retry_after_seconds: int = 0


class CheckCodeInput(BaseModel):
    tenant_id: str
    customer_id: str
    code: str = Field(max_length=16)


class CheckCodeResult(BaseModel):
    status: Literal["verified", "wrong", "expired", "locked", "none"]
    email: str | None = None
    tries_left: int = 0


class FindAccountInput(BaseModel):
    tenant_id: str
    email: str | None = None
    # The store's own customer id, from a signed identity token's `sub`.
    store_customer_id: str | None = None


class FindAccountResult(BaseModel):
    store_user_id: str | None
    first_name: str | None = None


class LinkIdentityInput(BaseModel):
    tenant_id: str
    customer_id: str
    email: str
    method: Literal["token", "code"]


class IdentityActivities:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keyring: KeyRing,
        ports: PortSource,
        mailer: CodeMailer,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._ports = ports
        self._mailer = mailer

    async def _account(self, tenant_id: str, email: str) -> dict[str, object] | None:
        try:
            port = await self._ports.port_for(tenant_id)
            users = await port.find_users(email=codes.normalise_email(email))
        except StoreRejected as exc:
            raise ApplicationError(str(exc), type="StoreRejected", non_retryable=True) from exc
        return users[0] if len(users) == 1 else None

    @activity.defn(name="send_verification_code")
    async def send_verification_code(self, inp: SendCodeInput) -> SendCodeResult:
        has_account = await self._account(inp.tenant_id, inp.email) is not None
        issued = await asyncio.to_thread(
            codes.issue_code,
            self._sessions,
            self._keyring,
            tenant_id=inp.tenant_id,
            customer_id=inp.customer_id,
            email=inp.email,
            request_key=inp.request_key,
            has_account=has_account,
        )
        if issued.status == "rate_limited":
            return SendCodeResult(
                status="rate_limited", retry_after_seconds=issued.retry_after_seconds
            )
        if issued.code is not None:
            tenant_name = await asyncio.to_thread(self._tenant_name, inp.tenant_id)
            # The request key makes the mail's Message-ID: a retried send goes out once.
            await self._mailer(
                tenant_name, codes.normalise_email(inp.email), issued.code, inp.request_key
            )
            await asyncio.to_thread(codes.mark_sent, self._sessions, inp.request_key)
        # Same answer with or without an account: the reply must not reveal which.
        return SendCodeResult(status="sent")

    @activity.defn(name="check_verification_code")
    async def check_verification_code(self, inp: CheckCodeInput) -> CheckCodeResult:
        found = await asyncio.to_thread(
            codes.check_code,
            self._sessions,
            self._keyring,
            tenant_id=inp.tenant_id,
            customer_id=inp.customer_id,
            code=inp.code,
        )
        return CheckCodeResult(status=found.status, email=found.email, tries_left=found.tries_left)

    @activity.defn(name="find_verified_account")
    async def find_verified_account(self, inp: FindAccountInput) -> FindAccountResult:
        """The store account of an identity that is already verified (token or code)."""
        user: dict[str, object] | None = None
        try:
            port = await self._ports.port_for(inp.tenant_id)
            if inp.store_customer_id:
                user = await port.get_user(inp.store_customer_id)
                if user is not None and inp.email:
                    # A token naming both must name the same account.
                    stored = str(user.get("email", "")).strip().lower()
                    if stored and stored != codes.normalise_email(inp.email):
                        user = None
            elif inp.email:
                user = await self._account(inp.tenant_id, inp.email)
        except StoreRejected as exc:
            raise ApplicationError(str(exc), type="StoreRejected", non_retryable=True) from exc
        if user is None:
            return FindAccountResult(store_user_id=None)
        name = user.get("name")
        first = name.get("first_name") if isinstance(name, dict) else None
        return FindAccountResult(store_user_id=str(user["user_id"]), first_name=first)

    @activity.defn(name="link_verified_identity")
    async def link_verified_identity(self, inp: LinkIdentityInput) -> None:
        """Remember that this conversation proved this email, so a later sign-in with it finds
        the conversation. An email another customer has verified stays theirs."""
        await asyncio.to_thread(self._link, inp)

    def _link(self, inp: LinkIdentityInput) -> None:
        value = codes.normalise_email(inp.email)
        with self._sessions.begin() as s:
            if s.get(Customer, inp.customer_id) is None:
                # Conversations started outside the API (tools, tests) have no row yet.
                s.add(Customer(id=inp.customer_id, tenant_id=inp.tenant_id))
                s.flush()
            row = s.scalar(
                select(Identity).where(
                    Identity.tenant_id == inp.tenant_id,
                    Identity.kind == "email",
                    Identity.value == value,
                )
            )
            if row is None:
                s.add(
                    Identity(
                        tenant_id=inp.tenant_id,
                        kind="email",
                        value=value,
                        customer_id=inp.customer_id,
                        verified_by=inp.method,
                    )
                )
            elif row.verified_by is None:
                # Linked on a typed, unproven email (before verification existed): reclaim it.
                row.customer_id = inp.customer_id
                row.verified_by = inp.method

    def _tenant_name(self, tenant_id: str) -> str:
        with self._sessions() as s:
            name = s.scalar(select(Tenant.name).where(Tenant.id == tenant_id))
        return name or "our store"

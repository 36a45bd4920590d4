"""Creating tenants, checking their keys, and resolving a channel identity to a customer."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import Customer, Identity, Tenant
from supportflow.tenants.keys import hash_key, new_api_key, new_chat_key

_NAME_RE = re.compile(r"^[\w .&'-]{1,200}$", re.UNICODE)


class InvalidTenantName(ValueError):
    pass


@dataclass(frozen=True)
class CreatedTenant:
    tenant_id: str
    name: str
    api_key: str  # shown once; only its hash is stored
    chat_key: str


def create_tenant(sessions: sessionmaker[Session], name: str) -> CreatedTenant:
    name = name.strip()
    if not _NAME_RE.fullmatch(name):
        raise InvalidTenantName(
            "tenant name must be 1-200 letters, digits, spaces or . & ' - _ characters"
        )
    tenant_id = "t_" + uuid.uuid4().hex[:16]
    api_key, chat_key = new_api_key(), new_chat_key()
    with sessions.begin() as s:
        s.add(Tenant(id=tenant_id, name=name, api_key_hash=hash_key(api_key), chat_key=chat_key))
    return CreatedTenant(tenant_id=tenant_id, name=name, api_key=api_key, chat_key=chat_key)


def tenant_for_chat_key(sessions: sessionmaker[Session], chat_key: str) -> str | None:
    with sessions() as s:
        return s.scalar(select(Tenant.id).where(Tenant.chat_key == chat_key))


def tenant_for_api_key(sessions: sessionmaker[Session], api_key: str) -> str | None:
    with sessions() as s:
        return s.scalar(select(Tenant.id).where(Tenant.api_key_hash == hash_key(api_key)))


def find_tenant_by_name(sessions: sessionmaker[Session], name: str) -> Tenant | None:
    with sessions() as s:
        return s.scalars(select(Tenant).where(Tenant.name == name).limit(1)).first()


def find_customer(
    sessions: sessionmaker[Session], tenant_id: str, kind: str, value: str
) -> str | None:
    """The customer behind one identity, without creating anything."""
    with sessions() as s:
        return s.scalar(
            select(Identity.customer_id).where(
                Identity.tenant_id == tenant_id,
                Identity.kind == kind,
                Identity.value == _normalise(kind, value),
            )
        )


def resolve_customer(
    sessions: sessionmaker[Session], tenant_id: str, identities: list[tuple[str, str]]
) -> str:
    """Return the customer id for these identities, creating the customer if none is known.

    The first listed identity that is already known wins (callers list the channel identity
    first), so an unverified email typed into a chat can never move an existing visitor into
    somebody else's conversation. Unknown identities are then linked to that customer.
    """
    identities = [(kind, _normalise(kind, value)) for kind, value in identities if value]
    for _attempt in range(3):
        try:
            return _resolve_once(sessions, tenant_id, identities)
        except IntegrityError:
            # Another request linked the same identity at the same moment: read it again.
            continue
    return _resolve_once(sessions, tenant_id, identities)


def _resolve_once(
    sessions: sessionmaker[Session], tenant_id: str, identities: list[tuple[str, str]]
) -> str:
    with sessions.begin() as s:
        known: dict[tuple[str, str], str] = {}
        for kind, value in identities:
            found = s.scalar(
                select(Identity.customer_id).where(
                    Identity.tenant_id == tenant_id, Identity.kind == kind, Identity.value == value
                )
            )
            if found:
                known[(kind, value)] = found
        customer_id = next((known[i] for i in identities if i in known), None)
        if customer_id is None:
            customer_id = "c_" + uuid.uuid4().hex[:16]
            s.add(Customer(id=customer_id, tenant_id=tenant_id))
            s.flush()
        for kind, value in identities:
            if (kind, value) not in known:
                s.add(
                    Identity(tenant_id=tenant_id, kind=kind, value=value, customer_id=customer_id)
                )
        return customer_id


def _normalise(kind: str, value: str) -> str:
    value = value.strip()
    return value.lower() if kind == "email" else value

"""Creating tenants, checking their keys, and resolving a channel identity to a customer."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.crypto.keyring import KeyRing
from supportflow.db.conflicts import retry_on_conflict
from supportflow.db.models import Customer, Identity, Tenant
from supportflow.identity.secrets import new_identity_secret, set_identity_secret
from supportflow.tenants.api_keys import add_key, key_for
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
    # Signs shoppers' identity tokens on the merchant's site; stored sealed (with a key ring).
    identity_secret: str | None = None


def create_tenant(
    sessions: sessionmaker[Session], name: str, *, keyring: KeyRing | None = None
) -> CreatedTenant:
    """A new tenant; with a key ring, also its identity secret (sealed at rest)."""
    name = name.strip()
    if not _NAME_RE.fullmatch(name):
        raise InvalidTenantName(
            "tenant name must be 1-200 letters, digits, spaces or . & ' - _ characters"
        )
    tenant_id = "t_" + uuid.uuid4().hex[:16]
    api_key, chat_key = new_api_key(), new_chat_key()
    identity_secret = new_identity_secret() if keyring is not None else None
    with sessions.begin() as s:
        tenant = Tenant(id=tenant_id, name=name, api_key_hash=hash_key(api_key), chat_key=chat_key)
        if keyring is not None and identity_secret is not None:
            set_identity_secret(tenant, keyring, identity_secret)
        s.add(tenant)
        s.flush()  # the key row refers to the tenant row
        add_key(s, tenant_id, api_key)  # keys are checked, rotated and revoked there
    return CreatedTenant(
        tenant_id=tenant_id,
        name=name,
        api_key=api_key,
        chat_key=chat_key,
        identity_secret=identity_secret,
    )


def tenant_for_chat_key(sessions: sessionmaker[Session], chat_key: str) -> str | None:
    with sessions() as s:
        return s.scalar(select(Tenant.id).where(Tenant.chat_key == chat_key))


def tenant_for_api_key(sessions: sessionmaker[Session], api_key: str) -> str | None:
    """The tenant of a valid (not revoked, not expired) API key (tenants/api_keys.py)."""
    return key_for(sessions, api_key)


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
    return retry_on_conflict(lambda: _resolve_once(sessions, tenant_id, identities))


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
    return value.lower() if kind in ("email", "email_from") else value


def resolve_channel_sender(
    sessions: sessionmaker[Session],
    tenant_id: str,
    sender: tuple[str, str],
    proven: list[tuple[str, str]],
    method: str | None,
    route_by: list[tuple[str, str]] | None = None,
) -> str:
    """The customer an email or SMS sender writes as.

    ``sender`` is the channel's own identity ("email_from", address) or ("phone", E.164): on
    its own it leads to a conversation of its own, created on first contact, and never into
    anyone else's (a From header or a caller id is not proof). ``proven`` are identities the
    message proves ("email" by replying to a message only that mailbox received; "store" and
    "email" of the account whose phone number it came from), with ``method``: the first one
    already proven by someone leads to that customer (one conversation across channels);
    if none is, the sender's own conversation becomes theirs. The sender and every proven
    identity not proven for another customer then point to it.

    ``route_by`` (an unproven message's "email" address) only routes: when someone proved it
    before, the message joins that customer's conversation, where it is an unverified turn
    (no account data, no actions) and the answer goes to that address, its owner's mailbox.
    So "I wrote in chat about my return" reaches the case, and replying in the thread then
    proves the sender and carries on.
    """
    sender = (sender[0], _normalise(*sender))
    proven = [(kind, _normalise(kind, value)) for kind, value in proven if value]
    routes = [(kind, _normalise(kind, value)) for kind, value in route_by or [] if value]
    return retry_on_conflict(
        lambda: _resolve_sender_once(sessions, tenant_id, sender, proven, method, routes)
    )


def _identity(s: Session, tenant_id: str, kind: str, value: str) -> Identity | None:
    return s.scalar(
        select(Identity).where(
            Identity.tenant_id == tenant_id, Identity.kind == kind, Identity.value == value
        )
    )


def _first_proven(rows: dict[tuple[str, str], Identity | None]) -> str | None:
    """The customer of the first of these identities that someone proved, if any."""
    return next(
        (r.customer_id for r in rows.values() if r is not None and r.verified_by is not None),
        None,
    )


def _resolve_sender_once(
    sessions: sessionmaker[Session],
    tenant_id: str,
    sender: tuple[str, str],
    proven: list[tuple[str, str]],
    method: str | None,
    routes: list[tuple[str, str]],
) -> str:
    with sessions.begin() as s:
        own = _identity(s, tenant_id, *sender)
        rows = {key: _identity(s, tenant_id, *key) for key in (proven if method else routes)}
        customer_id = _first_proven(rows)
        if customer_id is None and own is not None:
            customer_id = own.customer_id
        if customer_id is None:
            customer_id = "c_" + uuid.uuid4().hex[:16]
            s.add(Customer(id=customer_id, tenant_id=tenant_id))
            s.flush()
        if method is None:
            if own is None:
                s.add(
                    Identity(
                        tenant_id=tenant_id,
                        kind=sender[0],
                        value=sender[1],
                        customer_id=customer_id,
                    )
                )
            elif own.verified_by is None:
                own.customer_id = customer_id  # follows its address's proven customer
            return customer_id
        for (kind, value), row in rows.items():
            if row is None or row.verified_by is None:
                _point(s, row, tenant_id, kind, value, customer_id, method)
        _point(s, own, tenant_id, *sender, customer_id, method)
        return customer_id


def resolve_visitor(sessions: sessionmaker[Session], tenant_id: str, visitor_id: str) -> str:
    """The customer of an anonymous chat visitor: their own, created on first contact. A
    typed email plays no part (it identifies, it does not authenticate)."""
    return resolve_customer(sessions, tenant_id, [("chat", visitor_id)])


def resolve_verified(
    sessions: sessionmaker[Session],
    tenant_id: str,
    visitor_id: str,
    kind: str,
    value: str,
    method: str,
    also: list[tuple[str, str]] | None = None,
) -> str:
    """The customer of a verified identity (kind "email" or "store"), created if new; the
    visitor id follows it, so this visitor's next messages reach the same conversation.
    Only identities linked on proof count: one linked on a typed email (before verification
    existed) is taken over by the verified customer. ``also`` are more identities the same
    proof covers (a token's email beside its store id): the first of all of them already
    proven leads to its customer (the one conversation across channels), and each not yet
    proven for another customer is linked to it."""
    proven = [(kind, _normalise(kind, value))]
    proven += [(k, _normalise(k, v)) for k, v in also or [] if v]
    return retry_on_conflict(
        lambda: _resolve_verified_once(sessions, tenant_id, visitor_id, proven, method)
    )


def _resolve_verified_once(
    sessions: sessionmaker[Session],
    tenant_id: str,
    visitor_id: str,
    proven: list[tuple[str, str]],
    method: str,
) -> str:
    with sessions.begin() as s:
        rows = {key: _identity(s, tenant_id, *key) for key in proven}
        customer_id = _first_proven(rows)
        if customer_id is None:
            customer_id = "c_" + uuid.uuid4().hex[:16]
            s.add(Customer(id=customer_id, tenant_id=tenant_id))
            s.flush()
        for (kind, value), row in rows.items():
            if row is None or row.verified_by is None:
                _point(s, row, tenant_id, kind, value, customer_id, method)
        visitor = s.scalar(
            select(Identity).where(
                Identity.tenant_id == tenant_id,
                Identity.kind == "chat",
                Identity.value == visitor_id.strip(),
            )
        )
        _point(s, visitor, tenant_id, "chat", visitor_id.strip(), customer_id, method)
        return customer_id


def _point(
    s: Session,
    row: Identity | None,
    tenant_id: str,
    kind: str,
    value: str,
    customer_id: str,
    method: str,
) -> None:
    """Make the identity (kind, value) lead to this customer, verified by ``method``."""
    if row is None:
        s.add(
            Identity(
                tenant_id=tenant_id,
                kind=kind,
                value=value,
                customer_id=customer_id,
                verified_by=method,
            )
        )
    else:
        row.customer_id, row.verified_by = customer_id, method

"""One customer across channels, and no way in without proof: how an email address, a phone
number and a chat visitor resolve to a tenant's customer (tenants/service.py), on SQLite and
Postgres. A From header or caller id routes a message at most; only proof (a signed token, a
reply in our thread, the account's phone) joins or moves identities."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import Identity
from supportflow.tenants.service import create_tenant, resolve_channel_sender, resolve_verified
from tests.helpers import TEST_KEYRING

Db = tuple[sessionmaker[Session], str]


@pytest.fixture
def db(database_url: str) -> Iterator[Db]:
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    yield sessions, create_tenant(sessions, "Channels", keyring=TEST_KEYRING).tenant_id
    engine.dispose()


def _email(db: Db, address: str, *, proven: bool = False) -> str:
    """As the email door resolves a message from ``address``."""
    sessions, tenant = db
    return resolve_channel_sender(
        sessions,
        tenant,
        ("email_from", address),
        [("email", address)] if proven else [],
        "email_reply" if proven else None,
        [("email", address)],
    )


def _sms(db: Db, phone: str, account: tuple[str, str] | None = None) -> str:
    """As the SMS door resolves a text; ``account`` (store id, email) when the number is on it."""
    sessions, tenant = db
    proven = [("store", account[0]), ("email", account[1])] if account else []
    return resolve_channel_sender(
        sessions, tenant, ("phone", phone), proven, "phone" if account else None
    )


def _chat_token(db: Db, visitor: str, email: str, sub: str | None = None) -> str:
    sessions, tenant = db
    if sub is None:
        return resolve_verified(sessions, tenant, visitor, "email", email, "token")
    return resolve_verified(sessions, tenant, visitor, "store", sub, "token", [("email", email)])


def _verified_rows(db: Db) -> dict[tuple[str, str], str]:
    sessions, tenant = db
    with sessions() as s:
        rows = s.scalars(select(Identity).where(Identity.tenant_id == tenant)).all()
        return {(r.kind, r.value): r.customer_id for r in rows if r.verified_by is not None}


def test_an_unproven_sender_has_a_conversation_of_its_own(db: Db) -> None:
    first = _email(db, "Ann@Mail.example")
    assert _email(db, "ann@mail.example") == first, "addresses compare without case"
    assert _email(db, "bob@mail.example") != first
    assert _sms(db, "+13035550101") not in (first, _sms(db, "+13035550102"))
    assert _verified_rows(db) == {}, "nothing unproven is ever verified"


def test_a_reply_in_our_thread_keeps_the_senders_own_conversation(db: Db) -> None:
    first = _email(db, "ann@mail.example")
    assert _email(db, "ann@mail.example", proven=True) == first
    assert _verified_rows(db)[("email", "ann@mail.example")] == first


def test_chat_email_and_sms_of_one_customer_are_one_conversation(db: Db) -> None:
    chat = _chat_token(db, "v-1", "ann@mail.example", sub="ann_1")
    # An unproven email from that address reaches the same conversation (an unverified
    # turn there, answered to that mailbox only); a proven one too.
    assert _email(db, "ann@mail.example") == chat
    assert _email(db, "ann@mail.example", proven=True) == chat
    # A text from the phone on the account (store id + email proven).
    assert _sms(db, "+13035550103", ("ann_1", "ann@mail.example")) == chat
    # The order of first contact does not matter: email first, then chat.
    mail = _email(db, "cy@mail.example", proven=True)
    assert _chat_token(db, "v-2", "cy@mail.example") == mail


def test_claims_never_move_or_take_a_proven_identity(db: Db) -> None:
    owner = _chat_token(db, "v-1", "ann@mail.example", sub="ann_1")
    stranger = _sms(db, "+13035550104")  # a number on no account
    assert stranger != owner
    # The account's id proven for the owner, its email proven elsewhere: neither moves.
    other = _email(db, "bea@mail.example", proven=True)
    assert _sms(db, "+13035550105", ("ann_1", "bea@mail.example")) == owner
    rows = _verified_rows(db)
    assert rows[("email", "bea@mail.example")] == other
    assert rows[("store", "ann_1")] == owner
    assert rows[("email", "ann@mail.example")] == owner

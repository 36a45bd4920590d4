"""One-time codes on the real app database (SQLite and Postgres): expiry, tries, resend
limits, idempotent issue, and codes for emails without an account."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import VerificationCode
from supportflow.identity import codes
from supportflow.tenants.service import create_tenant
from tests.helpers import TEST_KEYRING

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
EMAIL = "Someone@Example.com"


@pytest.fixture
def db(database_url: str) -> Iterator[tuple[sessionmaker[Session], str]]:
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    yield sessions, create_tenant(sessions, "Codes", keyring=TEST_KEYRING).tenant_id
    engine.dispose()


def issue(db: tuple[sessionmaker[Session], str], key: str, **kw: object) -> codes.IssuedCode:
    sessions, tenant = db
    args: dict[str, object] = {
        "tenant_id": tenant,
        "customer_id": "c_1",
        "email": EMAIL,
        "request_key": key,
        "has_account": True,
        "now": NOW,
    }
    return codes.issue_code(sessions, TEST_KEYRING, **{**args, **kw})  # type: ignore[arg-type]


def check(db: tuple[sessionmaker[Session], str], code: str, **kw: object) -> codes.CodeCheck:
    sessions, tenant = db
    args: dict[str, object] = {"tenant_id": tenant, "customer_id": "c_1", "now": NOW}
    return codes.check_code(sessions, TEST_KEYRING, code=code, **{**args, **kw})  # type: ignore[arg-type]


def sent(db: tuple[sessionmaker[Session], str], key: str) -> None:
    codes.mark_sent(db[0], key)


def test_a_code_is_six_digits_stored_only_as_a_salted_hash(
    db: tuple[sessionmaker[Session], str],
) -> None:
    issued = issue(db, "k1")
    assert issued.code is not None and re.fullmatch(r"\d{6}", issued.code)
    with db[0]() as s:
        row = s.scalar(select(VerificationCode))
    assert row is not None and issued.code not in (row.code_hash, row.salt)
    assert "someone@example.com" not in row.email_sealed


def test_the_right_code_verifies_once_and_returns_the_email(
    db: tuple[sessionmaker[Session], str],
) -> None:
    code = issue(db, "k1").code
    assert code is not None
    sent(db, "k1")
    ok = check(db, code)
    assert ok.status == "verified" and ok.email == "someone@example.com"
    assert check(db, code).status == "none", "spent"


def test_five_wrong_tries_lock_the_code(db: tuple[sessionmaker[Session], str]) -> None:
    code = issue(db, "k1").code
    assert code is not None
    sent(db, "k1")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    results = [check(db, wrong) for _ in range(5)]
    assert [r.tries_left for r in results] == [4, 3, 2, 1, 0]
    assert results[-1].status == "locked"
    assert check(db, code).status == "locked"


def test_a_code_expires_after_ten_minutes(db: tuple[sessionmaker[Session], str]) -> None:
    code = issue(db, "k1").code
    assert code is not None
    sent(db, "k1")
    late = NOW + codes.CODE_TTL + timedelta(seconds=1)
    assert check(db, code, now=late).status == "expired"


def test_an_email_without_account_gets_no_code_that_could_match(
    db: tuple[sessionmaker[Session], str],
) -> None:
    issued = issue(db, "k1", has_account=False)
    assert issued.status == "issued" and issued.code is None
    assert check(db, "123456").status == "wrong"


def test_issuing_is_idempotent_per_request_and_limited_per_email_and_conversation(
    db: tuple[sessionmaker[Session], str],
) -> None:
    first = issue(db, "k1")
    sent(db, "k1")
    again = issue(db, "k1")
    assert again.code is None and again.already_sent, "a retried send mails nothing new"
    for i in range(2, codes.MAX_SENDS_PER_EMAIL + 1):
        assert issue(db, f"k{i}").status == "issued"
    assert issue(db, "k-over").status == "rate_limited"
    # Another email from the same conversation: limited per conversation too.
    for i in range(codes.MAX_SENDS_PER_CUSTOMER - codes.MAX_SENDS_PER_EMAIL):
        assert issue(db, f"o{i}", email=f"other{i}@example.com").status == "issued"
    assert issue(db, "o-over", email="fresh@example.com").status == "rate_limited"
    # After the window, codes flow again.
    later = NOW + codes.SEND_WINDOW + timedelta(seconds=1)
    assert issue(db, "k-later", now=later).status == "issued"
    assert first.code is not None


def test_a_send_that_failed_gets_a_fresh_code_on_retry_and_only_it_works(
    db: tuple[sessionmaker[Session], str],
) -> None:
    first = issue(db, "k1")  # the relay then failed: never marked sent
    retried = issue(db, "k1")
    assert first.code is not None and retried.code is not None
    sent(db, "k1")
    if retried.code != first.code:
        assert check(db, first.code).status == "wrong", "the unsent code is void"
    assert check(db, retried.code).status == "verified"
    with db[0]() as s:
        assert len(s.scalars(select(VerificationCode)).all()) == 1, "one row per request"

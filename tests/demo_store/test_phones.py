"""Demo store phones: every user gets a fictional, valid, unique E.164 number, the same on
every machine; databases seeded before phones existed get the same numbers at startup; and
``GET /users?phone=`` finds the account by any common writing of its number."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import httpx
import phonenumbers
import pytest
from sqlalchemy import inspect

from supportflow.demo_store.db import create_store_engine
from supportflow.demo_store.phones import demo_phone, seed_phones
from supportflow.demo_store.repository import StoreRepository
from supportflow.demo_store.seeding import seed_if_empty
from supportflow.demo_store.upgrade import add_missing_phones
from tests.demo_store.conftest import ThreadedStore

# NANPA's range for fiction: any area code, exchange 555, lines 0100-0199.
FICTIONAL = re.compile(r"^\+1[2-9]\d{2}55501\d{2}$")
# A valid number outside the demo scheme (415 is not one of its area codes): on no account.
NOBODYS = "+14155550123"


def _seeded_phones(db_path: Path) -> dict[str, str]:
    engine = create_store_engine(db_path)
    try:
        seed_if_empty(engine)
        with engine.connect() as conn:
            return {u["user_id"]: u["phone"] for u in StoreRepository(conn).all_users()}
    finally:
        engine.dispose()


def _column_phones(db_path: Path) -> dict[str, str]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT user_id, phone, json_extract(doc, '$.phone') FROM users"
        ).fetchall()
    assert all(column == doc for _, column, doc in rows), "column and document disagree"
    return {user_id: column for user_id, column, _ in rows}


def _make_pre_phone_database(db_path: Path) -> None:
    """A database as seeded before users had phones: no column, no key in the documents."""
    _seeded_phones(db_path)
    with sqlite3.connect(db_path) as conn:
        conn.executescript(
            """
            CREATE TABLE users_old (
                user_id VARCHAR PRIMARY KEY, email_key VARCHAR NOT NULL UNIQUE,
                first_name_key VARCHAR NOT NULL, last_name_key VARCHAR NOT NULL,
                zip VARCHAR NOT NULL, doc JSON NOT NULL);
            INSERT INTO users_old SELECT user_id, email_key, first_name_key, last_name_key,
                zip, json_remove(doc, '$.phone') FROM users;
            DROP TABLE users;
            ALTER TABLE users_old RENAME TO users;
            """
        )
    with sqlite3.connect(db_path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(users)")]
        assert "phone" not in columns
        assert conn.execute("SELECT count(*) FROM users WHERE doc LIKE '%phone%'").fetchone() == (
            0,
        )


def test_fresh_databases_get_the_same_valid_unique_fictional_numbers(tmp_path: Path) -> None:
    first = _seeded_phones(tmp_path / "a.db")
    second = _seeded_phones(tmp_path / "b.db")
    assert first == second == dict(seed_phones())  # and the helper needs no database
    assert len(first) == 500 and len(set(first.values())) == 500
    for phone in first.values():
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone
        assert FICTIONAL.match(phone), phone
    assert demo_phone("noah_brown_6181") == first["noah_brown_6181"]
    with pytest.raises(LookupError):
        demo_phone("nobody_0")


def test_a_database_from_before_phones_gets_the_seed_numbers_once(tmp_path: Path) -> None:
    db_path = tmp_path / "old.db"
    _make_pre_phone_database(db_path)
    engine = create_store_engine(db_path)  # as the app opens it: create_all adds no column
    try:
        assert add_missing_phones(engine) == 500
        assert _column_phones(db_path) == dict(seed_phones())
        assert add_missing_phones(engine) == 0  # idempotent: nothing left to do
        # SQLite cannot add the UNIQUE constraint to an old table; the index stands in for it.
        indexes = inspect(engine).get_indexes("users")
        assert any(i["column_names"] == ["phone"] and i["unique"] for i in indexes)
    finally:
        engine.dispose()
    assert _column_phones(db_path) == dict(seed_phones())


def test_a_document_missing_its_phone_gets_the_columns_number_back(tmp_path: Path) -> None:
    db_path = tmp_path / "half.db"
    before = _seeded_phones(db_path)
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE users SET doc = json_remove(doc, '$.phone') WHERE user_id = ?",
            ("noah_brown_6181",),
        )
    engine = create_store_engine(db_path)
    try:
        assert add_missing_phones(engine) == 1
    finally:
        engine.dispose()
    assert _column_phones(db_path) == before


async def test_the_store_upgrades_an_old_database_when_it_starts(tmp_path: Path) -> None:
    db_path = tmp_path / "old.db"
    _make_pre_phone_database(db_path)
    with ThreadedStore(db_path) as running:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            user = (await http.get("/users/noah_brown_6181")).json()
            assert user["phone"] == demo_phone("noah_brown_6181")
            found = (await http.get("/users", params={"phone": user["phone"]})).json()
    assert [u["user_id"] for u in found["users"]] == ["noah_brown_6181"]


async def test_lookup_by_phone_found_in_any_common_writing(store: ThreadedStore) -> None:
    e164 = demo_phone("noah_brown_6181")
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    writings = [e164, f"+1 ({area}) {exchange}-{line}", f"{area}.{exchange}.{line}", e164[1:]]
    async with httpx.AsyncClient(base_url=store.url, timeout=10) as http:
        for writing in writings:
            response = await http.get("/users", params={"phone": writing})
            assert response.status_code == 200, writing
            assert [u["user_id"] for u in response.json()["users"]] == ["noah_brown_6181"]
            assert response.json()["users"][0]["phone"] == e164


async def test_lookup_by_a_number_on_no_account_finds_no_one(store: ThreadedStore) -> None:
    assert NOBODYS not in seed_phones().values()
    async with httpx.AsyncClient(base_url=store.url, timeout=10) as http:
        response = await http.get("/users", params={"phone": NOBODYS})
    assert response.status_code == 200
    assert response.json() == {"users": []}


@pytest.mark.parametrize(
    "malformed",
    [
        "12",  # too short
        "call me",  # not a number at all
        "+1 555 555 0100",  # 555 is no area code
        "+1201555015",  # a digit short
        "+1 201 555 0150 ext 3",  # an extension is no phone of its own
    ],
)
async def test_lookup_by_a_malformed_number_is_a_clear_422(
    store: ThreadedStore, malformed: str
) -> None:
    async with httpx.AsyncClient(base_url=store.url, timeout=10) as http:
        response = await http.get("/users", params={"phone": malformed})
    assert response.status_code == 422
    # One fixed message: what was typed is not echoed back (error bodies end up in logs).
    assert response.json()["detail"] == (
        "phone: not a valid phone number; give it in E.164 form (+12015550123) "
        "or as a US number without extension"
    )


async def test_phone_lookup_is_one_lookup_mode(store: ThreadedStore) -> None:
    async with httpx.AsyncClient(base_url=store.url, timeout=10) as http:
        both = {"phone": demo_phone("noah_brown_6181"), "email": "noah.brown7922@example.com"}
        response = await http.get("/users", params=both)
        empty = await http.get("/users", params={"phone": ""})
    assert response.status_code == 422
    assert "exactly one" in response.json()["detail"]
    assert empty.status_code == 422

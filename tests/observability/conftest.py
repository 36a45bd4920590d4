"""A real API, real workers and the real dev server for the observability tests, with one
tenant on SQLite, and a way to send chat turns."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.identity.tokens import sign_identity_token
from supportflow.observability import process
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import TEST_KEYRING, free_port

JAMES = "james.li4495@example.com"
JAMES_ORDER = "#W2611340"


@dataclass
class Shop:
    settings: Settings
    tenant: CreatedTenant
    sessions: sessionmaker[Session]
    visitor: str = field(default_factory=lambda: "v-" + uuid.uuid4().hex[:8])

    def token(self, email: str = JAMES) -> str:
        assert self.tenant.identity_secret is not None
        return sign_identity_token(self.tenant.identity_secret, email=email)

    async def turn(
        self, http: httpx.AsyncClient, text: str, *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await http.post(
            "/v1/chat/messages",
            json={
                "visitor_id": self.visitor,
                "message_id": uuid.uuid4().hex,
                "text": text,
                "identity_token": self.token(),
            },
            headers={"X-Chat-Key": self.tenant.chat_key, **(headers or {})},
        )


@pytest.fixture
def shop(settings: Settings) -> Iterator[Shop]:
    url = f"sqlite:///{settings.data_dir / 'app.db'}"
    settings = settings.model_copy(
        update={"database_url": url, "api_port": free_port(), "chat_reply_wait_seconds": 20.0}
    )
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    tenant = create_tenant(sessions, "Observed Shop", keyring=TEST_KEYRING)
    try:
        yield Shop(settings, tenant, sessions)
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
async def _fresh_observability() -> AsyncIterator[None]:
    """Each test sets up the process's observability as it needs; none leaks to the next."""
    process.uninstall()
    yield
    process.uninstall()

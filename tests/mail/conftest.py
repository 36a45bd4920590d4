"""A real SMTP server (the embedded one) on a free loopback port, with its own Maildir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from supportflow.mail.maildir import maildir_path
from supportflow.mail.maildir_server import MaildirServer
from supportflow.settings import Settings
from tests.helpers import TEST_ENCRYPTION_KEYS


@pytest.fixture
async def mail_server(tmp_path: Path) -> AsyncIterator[MaildirServer]:
    server = MaildirServer(maildir_path(tmp_path), "127.0.0.1", 0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def mail_settings(tmp_path: Path, mail_server: MaildirServer) -> Settings:
    """Settings that send through the embedded server, as `up` sets them."""
    return Settings(
        data_dir=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=mail_server.port,
        smtp_starttls=False,
        # The API opens sealed secrets with the app's key ring: the suite's test key.
        encryption_keys=SecretStr(TEST_ENCRYPTION_KEYS),
    )

"""The demo tenant that `supportflow up` creates once, so the chat page works at once."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from supportflow.tenants.service import create_tenant

DEMO_TENANT_NAME = "Demo Store"


def ensure_demo_tenant(sessions: sessionmaker[Session], data_dir: Path) -> dict[str, str]:
    """Return the demo tenant's keys, creating the tenant on first start.

    The keys are kept in a 0600 file in the data directory: the API key is stored only as a
    hash in the database, so this file is the operator's one copy of it.
    """
    path = data_dir / "demo-tenant.json"
    if path.exists():
        saved: dict[str, str] = json.loads(path.read_text("utf-8"))
        return saved
    created = create_tenant(sessions, DEMO_TENANT_NAME)
    keys = {
        "tenant_id": created.tenant_id,
        "api_key": created.api_key,
        "chat_key": created.chat_key,
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(keys, f)
    return keys

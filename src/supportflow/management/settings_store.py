"""A tenant's management settings in the app database: defaults when absent, validated when
saved (nothing changes on error)."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import ManagementSettingsRow
from supportflow.management.config import ManagementConfig, parse_config


def read_config(s: Session, tenant_id: str) -> ManagementConfig:
    row = s.get(ManagementSettingsRow, tenant_id)
    return parse_config(json.loads(row.document) if row is not None else None)


def get_config(sessions: sessionmaker[Session], tenant_id: str) -> ManagementConfig:
    with sessions() as s:
        return read_config(s, tenant_id)


def put_config(sessions: sessionmaker[Session], tenant_id: str, doc: object) -> ManagementConfig:
    """Validate (ConfigError says what is wrong) and store."""
    config = parse_config(doc)
    document = config.model_dump_json()
    with sessions.begin() as s:
        row = s.get(ManagementSettingsRow, tenant_id)
        if row is None:
            s.add(ManagementSettingsRow(tenant_id=tenant_id, document=document))
        else:
            row.document = document
    return config

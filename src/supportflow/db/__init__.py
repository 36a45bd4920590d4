"""The app database: tenants, customer identities, keys (SQLAlchemy 2 + Alembic)."""

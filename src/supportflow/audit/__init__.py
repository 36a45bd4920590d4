"""The audit trail: every action by an agent or a person, appended to a per-tenant chain of
entries linked by SHA-256 (tamper-evident), queried and verified.

Imports only the database layer: activities, the API and the CLI call into it, never the
other way round.
"""

"""Tenants (merchants), their keys, and the identities that resolve to their customers."""

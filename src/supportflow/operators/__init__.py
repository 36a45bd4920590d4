"""The merchant's people: operator accounts, their roles and permissions, personal API tokens
and console sessions (issue 12 item 1)."""

"""The embedded demo store service: its own SQLite database (seeded from ``seed/``, tau2-bench
retail data) and HTTP API, with fault injection for tests and the chaos run (see README.md).

Agents never import this package: they reach the store over HTTP through the demo adapter
(``supportflow.store.adapters.demo``). Only ``supportflow.store.errors`` is shared.
"""

"""Customers' rights over their data: erasure on request."""

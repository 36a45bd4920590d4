"""Connecting to Temporal: the embedded dev server, a cluster, or Temporal Cloud."""

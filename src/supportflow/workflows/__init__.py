"""Temporal workflows: pure orchestration, deterministic, all I/O in activities."""

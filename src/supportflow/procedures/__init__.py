"""Procedures: the deterministic business decisions. AI interprets; this code decides."""

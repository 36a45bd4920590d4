"""Tests of Temporal SDK behaviour the project depends on (or works around)."""

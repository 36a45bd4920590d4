"""The sales agent's decisions and records (issue 14): consent, touches and conversions,
timing, experiments. No Temporal here: the workflow is workflows/sales.py."""

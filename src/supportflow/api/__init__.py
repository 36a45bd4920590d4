"""The HTTP API (FastAPI): channels in, operator and merchant access."""

"""What an operator sees of the running product (issue 15 item 5): traces (OpenTelemetry,
exported over OTLP/HTTP when configured), Prometheus metrics (ours and the Temporal SDK's)
and the context of JSON log lines. docs/observability.md is the guide.

Nothing here is imported by workflows: a workflow never does I/O or counts anything itself;
its activities are counted by a worker interceptor (temporal.py) and its turns by the API.
This package file imports nothing, so the store's HTTP helper (http.py) stays light.
"""

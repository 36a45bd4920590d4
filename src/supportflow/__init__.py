"""supportflow: AI customer-support agents for online stores as durable Temporal workflows."""

__version__ = "0.1.0"
